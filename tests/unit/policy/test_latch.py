"""The HALT latch: exits only by operator reset or a full all-pass window (SPEC §2.2)."""

from __future__ import annotations

import pytest

from tradeguard.clock import FakeClock
from tradeguard.codes import ErrorCode
from tradeguard.errors import InvalidInputError
from tradeguard.policy import (
    Decision,
    GateName,
    InMemoryLatchStore,
    LatchPhase,
    LatchState,
    PolicyReasonCode,
    TradePermissionPolicy,
)
from tradeguard.policy.latch import TRANSITIONS, LatchEvent, transition

from ...policy_factories import all_pass, context, new_id


def make(window: float = 300) -> tuple[TradePermissionPolicy, FakeClock, InMemoryLatchStore]:
    clock = FakeClock()
    store = InMemoryLatchStore()
    return TradePermissionPolicy(window, clock=clock, latch_store=store), clock, store


def test_latch_when_gates_recover_stays_halted_until_window():
    policy, clock, _ = make(300)
    assert (
        policy.evaluate(context(risk="CRITICAL")).reason_code is PolicyReasonCode.HALT_RISK_CRITICAL
    )
    held = policy.evaluate(all_pass())
    assert held.decision is Decision.HALT
    assert held.reason_code is PolicyReasonCode.HALT_LATCHED
    assert held.blocking_gate is GateName.RISK and held.precedence_rank == 4
    assert held.is_latched
    clock.advance(299.9)
    assert policy.evaluate(all_pass()).decision is Decision.HALT
    clock.advance(0.1)
    released = policy.evaluate(all_pass())
    assert released.decision is Decision.ALLOW and not released.is_latched
    assert not policy.is_latched()


def test_window_starts_at_first_all_pass_after_the_last_failure():
    policy, clock, _ = make(300)
    policy.evaluate(context(kill=True))
    clock.advance(1000)  # time latched while still failing does not count
    policy.evaluate(context(kill=True))
    assert policy.evaluate(all_pass()).reason_code is PolicyReasonCode.HALT_LATCHED
    clock.advance(299)
    assert policy.evaluate(all_pass()).decision is Decision.HALT


@pytest.mark.parametrize("failing", [context(health="YELLOW"), context(budget="STALE_DATA")])
def test_any_failing_evaluation_restarts_the_window(failing):
    policy, clock, _ = make(300)
    policy.evaluate(context(kill=True))
    policy.evaluate(all_pass())
    clock.advance(200)
    assert policy.evaluate(failing).decision is Decision.HALT
    clock.advance(1)
    policy.evaluate(all_pass())  # the window starts again here
    clock.advance(299)
    assert policy.evaluate(all_pass()).decision is Decision.HALT
    clock.advance(1)
    assert policy.evaluate(all_pass()).decision is Decision.ALLOW


def test_fresh_halt_while_latched_reports_its_own_reason_latched():
    policy, _, _ = make()
    policy.evaluate(context(kill=True))
    got = policy.evaluate(context(budget="HARD_STOP"))
    assert got.reason_code is PolicyReasonCode.HALT_BUDGET_HARD_STOP and got.is_latched


def test_neutral_never_latches():
    policy, _, _ = make()
    neutral = policy.evaluate(context(health="RED"))
    assert neutral.decision is Decision.NEUTRAL and not neutral.is_latched
    assert policy.evaluate(all_pass()).decision is Decision.ALLOW


def test_operator_reset_clears_and_returns_an_audit_record():
    policy, clock, _ = make()
    policy.evaluate(context(kill=True))
    cid = new_id()
    record = policy.reset_policy_latch(cid, "alice", "kill switch released after review")
    assert record.action is ErrorCode.LATCH_RESET
    assert (record.correlation_id, record.operator_id) == (cid, "alice")
    assert record.timestamp_utc == clock.now()
    assert record.details["previous"]["gate"] == "KILL_SWITCH"
    assert policy.evaluate(all_pass()).decision is Decision.ALLOW


def test_reset_while_a_gate_still_fails_relatches_on_next_evaluation():
    policy, _, _ = make()
    policy.evaluate(context(kill=True))
    policy.reset_policy_latch(new_id(), "alice", "trying")
    got = policy.evaluate(context(kill=True))
    assert got.decision is Decision.HALT and got.is_latched
    assert policy.evaluate(all_pass()).reason_code is PolicyReasonCode.HALT_LATCHED


@pytest.mark.parametrize("operator", ["", "   ", None])
def test_reset_requires_an_operator_id(operator):
    policy, _, _ = make()
    policy.evaluate(context(kill=True))
    with pytest.raises(InvalidInputError) as caught:
        policy.reset_policy_latch(new_id(), operator, "reason")  # type: ignore[arg-type]
    assert caught.value.code == ErrorCode.OPERATOR_ID_REQUIRED
    assert policy.is_latched()


def test_reset_audited_first_when_the_recorder_fails_the_latch_stays():
    policy, _, _ = make()
    policy.evaluate(context(kill=True))

    def recorder(_record):
        raise RuntimeError("audit down")

    with pytest.raises(RuntimeError):
        policy.reset_policy_latch(new_id(), "alice", "reason", record_action=recorder)
    assert policy.is_latched()


def test_latch_survives_a_new_policy_on_the_same_store():
    store = InMemoryLatchStore()
    TradePermissionPolicy(clock=FakeClock(), latch_store=store).evaluate(context(kill=True))
    restarted = TradePermissionPolicy(clock=FakeClock(), latch_store=store)
    assert restarted.evaluate(all_pass()).reason_code is PolicyReasonCode.HALT_LATCHED


class BrokenStore:
    def load(self) -> LatchState:
        raise OSError("disk gone")

    def save(self, state: LatchState) -> None:
        raise OSError("disk gone")


def test_unreadable_latch_is_held():
    policy = TradePermissionPolicy(clock=FakeClock(), latch_store=BrokenStore())
    got = policy.evaluate(all_pass())
    assert got.decision is Decision.HALT and got.is_latched
    assert got.reason_code is PolicyReasonCode.HALT_CONTEXT_INCOMPLETE
    assert policy.is_latched()


class SaveFails:
    def __init__(self, state: LatchState) -> None:
        self.state = state

    def load(self) -> LatchState:
        return self.state

    def save(self, state: LatchState) -> None:
        raise OSError("read-only")


def test_window_cannot_clear_a_latch_it_cannot_persist():
    store = SaveFails(LatchState(LatchPhase.LATCHED, GateName.RISK, None, None))
    clock = FakeClock()
    policy = TradePermissionPolicy(0, clock=clock, latch_store=store)
    got = policy.evaluate(all_pass())
    assert got.decision is Decision.HALT
    assert isinstance(policy.last_persistence_error, OSError)


def test_wall_clock_jump_does_not_shorten_the_window():
    policy, clock, _ = make(300)
    policy.evaluate(context(kill=True))
    policy.evaluate(all_pass())
    clock.set(clock.now().replace(year=2030))  # the wall clock leaps; no time has passed
    assert policy.evaluate(all_pass()).decision is Decision.HALT


def test_restart_restarts_the_window_and_keeps_the_latch():
    store = InMemoryLatchStore()
    clock = FakeClock()
    first = TradePermissionPolicy(300, clock=clock, latch_store=store)
    first.evaluate(context(kill=True))
    first.evaluate(all_pass())
    clock.advance(299)
    restarted = TradePermissionPolicy(300, clock=clock, latch_store=store)
    assert restarted.evaluate(all_pass()).reason_code is PolicyReasonCode.HALT_LATCHED
    clock.advance(299)
    assert restarted.evaluate(all_pass()).decision is Decision.HALT
    clock.advance(1)
    assert restarted.evaluate(all_pass()).decision is Decision.ALLOW


def test_window_observes_one_latch_a_relatch_elsewhere_restarts_it():
    store = InMemoryLatchStore()
    clock = FakeClock()
    policy = TradePermissionPolicy(300, clock=clock, latch_store=store)
    policy.evaluate(context(kill=True))
    policy.evaluate(all_pass())
    clock.advance(200)
    # Another instance on the same store resets and latches again meanwhile.
    other = TradePermissionPolicy(300, clock=clock, latch_store=store)
    other.reset_policy_latch(new_id(), "bob", "drill")
    other.evaluate(context(budget="HARD_STOP"))
    clock.advance(150)
    assert policy.evaluate(all_pass()).decision is Decision.HALT


def test_zero_window_clears_on_first_all_pass():
    policy, _, _ = make(0)
    policy.evaluate(context(kill=True))
    assert policy.evaluate(all_pass()).decision is Decision.ALLOW


@pytest.mark.parametrize("window", [-1, float("nan"), True])
def test_invalid_window_is_refused(window):
    with pytest.raises(InvalidInputError):
        TradePermissionPolicy(window)


def test_halt_has_exactly_the_two_exits_of_the_spec():
    exits = {
        (phase, event)
        for (phase, event), target in TRANSITIONS.items()
        if phase is not LatchPhase.UNLATCHED and target is LatchPhase.UNLATCHED
    }
    assert exits == {
        (LatchPhase.LATCHED, LatchEvent.RESET),
        (LatchPhase.REVALIDATING, LatchEvent.RESET),
        (LatchPhase.REVALIDATING, LatchEvent.WINDOW_ELAPSED),
    }
    assert transition(LatchPhase.LATCHED, LatchEvent.WINDOW_ELAPSED) is LatchPhase.LATCHED


def test_latch_state_round_trips_and_refuses_a_held_latch_without_gate():
    policy, _, store = make()
    policy.evaluate(context(kill=True))
    state = store.load()
    assert LatchState.from_dict(state.to_dict()) == state
    with pytest.raises(ValueError):
        LatchState.from_dict({"phase": "LATCHED"})
