"""CircuitBreaker: engage and release with an operator, fail closed on unreadable state."""

from __future__ import annotations

import uuid

import pytest
from structlog.testing import capture_logs

from tradeguard.codes import ErrorCode
from tradeguard.errors import AuditUnavailableError, InvalidInputError, SourceUnavailableError
from tradeguard.ports import KillSwitchState
from tradeguard.sources import CircuitBreaker

from .fakes import NOW, FakeKillSwitchStore, fake_clock


def cid() -> str:
    return str(uuid.uuid4())


def test_kill_switch_engage_persists_state_and_operator_record_together() -> None:
    store = FakeKillSwitchStore()
    breaker = CircuitBreaker(store, fake_clock())
    assert breaker.is_active() is False
    correlation_id = cid()
    record = breaker.engage("alice", "exchange outage", correlation_id)
    assert breaker.is_active() is True
    assert store.state.active is True
    assert (store.state.actor, store.state.reason, store.state.since) == (
        "alice",
        "exchange outage",
        NOW,
    )
    assert store.actions == [record]
    assert record.action is ErrorCode.KILL_SWITCH_ENGAGED
    assert record.correlation_id == correlation_id
    assert record.details["previous"]["active"] is False


def test_kill_switch_release_records_and_clears() -> None:
    store = FakeKillSwitchStore()
    breaker = CircuitBreaker(store, fake_clock())
    breaker.engage("alice", "test", cid())
    record = breaker.release("bob", "fixed", cid())
    assert breaker.is_active() is False
    assert record.action is ErrorCode.KILL_SWITCH_RELEASED
    assert [a.operator_id for a in store.actions] == ["alice", "bob"]


@pytest.mark.parametrize(
    ("operator_id", "reason", "correlation_id"),
    [("", "why", None), ("   ", "why", None), ("alice", "", None), ("alice", "why", "nope")],
)
def test_kill_switch_needs_operator_reason_and_correlation_id(
    operator_id: str, reason: str, correlation_id: str | None
) -> None:
    store = FakeKillSwitchStore()
    breaker = CircuitBreaker(store, fake_clock())
    with pytest.raises(InvalidInputError):
        breaker.engage(operator_id, reason, correlation_id or cid())
    with pytest.raises(InvalidInputError):
        breaker.release(operator_id, reason, correlation_id or cid())
    assert store.actions == []
    assert breaker.is_active() is False


def test_kill_switch_unreadable_state_raises_so_callers_count_it_engaged() -> None:
    store = FakeKillSwitchStore()
    store.fail_load = True
    with pytest.raises(SourceUnavailableError) as caught:
        CircuitBreaker(store, fake_clock()).is_active()
    assert caught.value.code == ErrorCode.TPP_002


def test_kill_switch_non_boolean_state_raises() -> None:
    store = FakeKillSwitchStore()
    store.state = KillSwitchState(active="yes")  # type: ignore[arg-type]
    with pytest.raises(SourceUnavailableError):
        CircuitBreaker(store, fake_clock()).is_active()


def test_kill_switch_engage_cancels_resting_orders_and_isolates_cancel_failure() -> None:
    cancelled: list[int] = []
    breaker = CircuitBreaker(
        FakeKillSwitchStore(), fake_clock(), on_engage=lambda: cancelled.append(1)
    )
    breaker.engage("system:event-feed", "lockdown", cid(), code=ErrorCode.SSE_RECONNECT_EXHAUSTED)
    assert cancelled == [1]
    assert breaker.state().code == ErrorCode.SSE_RECONNECT_EXHAUSTED

    def broken() -> None:
        raise RuntimeError("exchange down")

    store = FakeKillSwitchStore()
    breaker = CircuitBreaker(store, fake_clock(), on_engage=broken)
    with capture_logs() as logs:
        breaker.engage("alice", "test", cid())
    assert breaker.is_active() is True
    assert any(line["event"] == "kill_switch_cancel_failed" for line in logs)


def test_kill_switch_engage_that_cannot_persist_still_holds_this_process() -> None:
    store = FakeKillSwitchStore()
    cancelled: list[int] = []
    breaker = CircuitBreaker(store, fake_clock(), on_engage=lambda: cancelled.append(1))
    store.fail_set = True
    with pytest.raises(AuditUnavailableError):
        breaker.engage("alice", "db trouble", cid())
    assert breaker.is_active() is True
    assert cancelled == [1]
    with pytest.raises(AuditUnavailableError):
        breaker.release("alice", "try", cid())
    assert breaker.is_active() is True
    store.fail_set = False
    breaker.release("alice", "db back", cid())
    assert breaker.is_active() is False


def test_kill_switch_listeners_hear_every_local_change() -> None:
    heard: list[int] = []
    breaker = CircuitBreaker(FakeKillSwitchStore(), fake_clock())
    breaker.add_listener(lambda: heard.append(1))
    breaker.engage("alice", "x", cid())
    breaker.release("alice", "y", cid())
    assert len(heard) == 2
