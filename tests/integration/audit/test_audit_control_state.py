"""Durable latch and kill switch: a restart keeps a HALT, other instances see changes fast."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.audit_factories import operator_action
from tests.policy_factories import all_pass, context
from tradeguard import open_audit_store
from tradeguard.audit.records import AuditTable
from tradeguard.clock import FakeClock
from tradeguard.codes import PolicyReasonCode
from tradeguard.policy import Decision, TradePermissionPolicy
from tradeguard.ports import KillSwitchState


def _stores(tmp_path: Path, postgres: str | None) -> str:
    return postgres if postgres is not None else f"sqlite:///{tmp_path / 'audit.db'}"


def test_a_restart_keeps_a_halt_latched(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    store = open_audit_store(url)
    policy = TradePermissionPolicy(300, clock=FakeClock(), latch_store=store.latch_store())
    assert policy.evaluate(context(budget="HARD_STOP")).decision is Decision.HALT
    store.close()

    reopened = open_audit_store(url)
    restarted = TradePermissionPolicy(300, clock=FakeClock(), latch_store=reopened.latch_store())
    decision = restarted.evaluate(all_pass())
    assert decision.decision is Decision.HALT
    assert decision.reason_code is PolicyReasonCode.HALT_LATCHED and decision.is_latched
    reopened.close()


def _wait_for(predicate: object, limit: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < limit:
        if predicate():  # type: ignore[operator]
            return time.monotonic() - start
        time.sleep(0.002)
    return float("inf")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_kill_switch_engaged_in_one_instance_blocks_another_within_100ms(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    url = (
        request.getfixturevalue("postgres_url")
        if backend == "postgresql"
        else f"sqlite:///{tmp_path / 'audit.db'}"
    )
    first, second = open_audit_store(url), open_audit_store(url)
    try:
        watcher = second.kill_switch_store()
        assert watcher.load().active is False
        state = KillSwitchState(True, "alice", "drill", datetime(2026, 1, 1, tzinfo=UTC))
        first.kill_switch_store().set(state, operator_action())
        assert _wait_for(lambda: watcher.load().active, 1.0) < 0.1
        assert [r["operator_id"] for r in second.rows(AuditTable.OPERATOR)] == ["alice"]
        started = time.perf_counter()
        for _ in range(1000):
            watcher.load()
        assert (time.perf_counter() - started) / 1000 < 50e-6
    finally:
        first.close()
        second.close()


def test_an_unreadable_control_state_fails_closed(tmp_path: Path) -> None:
    store = open_audit_store(f"sqlite:///{tmp_path / 'audit.db'}")
    store.close()  # the watcher stops; after a second the cached state is stale
    latch = store.latch_store()
    time.sleep(1.1)
    with pytest.raises(Exception) as caught:
        latch.load()
    assert getattr(caught.value, "code", None) == "AUD-006"
    policy = TradePermissionPolicy(300, clock=FakeClock(), latch_store=latch)
    assert policy.evaluate(all_pass()).decision is Decision.HALT
