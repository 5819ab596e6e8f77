"""End-to-end properties of the failure scenarios over their parameters (SPEC §8).

Every example builds and runs a real pipeline (~1.5–2.5 s), so the normal suite keeps a few
examples per property (with the boundary cases pinned by ``@example``); the ``*_soak``
variants run 100 examples each and are marked ``slow`` (``make test-slow``).

Numbering follows the issue: 9 no trades during unsafe conditions (every scenario), 10
downtime → NEUTRAL within 5 s, 11 stale data, 12 corruption → HALT + BUDGET_DATA_CORRUPT,
15/16 clock drift above/below 1000 ms and recovery; storm counts 0–10.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from tradeguard.simulator import (
    CORRUPTION_MODES,
    FailureScenarioSimulator,
    RunLimits,
    ScenarioResult,
    ScenarioType,
    SystemState,
)

FAST = RunLimits(baseline_s=0.15, hold_s=0.3, resume_s=0.25)
SIMULATOR = FailureScenarioSimulator(limits=FAST)
# No shrinking: an example is a whole pipeline run, and the failure message already names
# the parameters and the violated expectation.
QUICK = settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
    phases=(Phase.explicit, Phase.generate),
)
SOAK = settings(QUICK, max_examples=100)

durations = st.floats(min_value=0.1, max_value=2.0, allow_nan=False)
fill_pcts = st.floats(min_value=1.0, max_value=99.0, allow_nan=False)
# Ages that make the tickers stale at injection (0.01 h = 36 s, past the pipeline's 3 s and the
# default 30 s maximum age). A smaller age only turns stale seconds later, while OPENs placed in
# between legitimately pass; that timing case is not what property 11 states.
ages = st.floats(min_value=0.01, max_value=72.0, allow_nan=False)
modes = st.sampled_from(CORRUPTION_MODES)
storm_counts = st.integers(min_value=0, max_value=10)
# A guard band of ±100 ms around the 1000 ms tolerance: the measured drift carries the
# round trip's uncertainty (rtt/2, well under 1 ms on loopback) and the boundary itself
# (exactly 1000 is within tolerance) is pinned by the unit tests of the synchronizer.
drifts = st.one_of(
    st.integers(min_value=1100, max_value=10_000),
    st.integers(min_value=-10_000, max_value=-1100),
    st.integers(min_value=-900, max_value=900),
)

PARAMETERS: dict[ScenarioType, tuple[str, st.SearchStrategy[Any]]] = {
    ScenarioType.EXCHANGE_DOWNTIME: ("duration_s", durations),
    ScenarioType.PARTIAL_FILL: ("fill_pct", fill_pcts),
    ScenarioType.STALE_MARKET_DATA: ("age_hours", ages),
    ScenarioType.BUDGETGUARD_CORRUPTION: ("mode", modes),
    ScenarioType.SSE_DISCONNECT_STORM: ("count", storm_counts),
    ScenarioType.EXCHANGE_CLOCK_DRIFT: ("drift_ms", drifts),
    ScenarioType.EXCHANGE_AUTH_REVOKED: ("duration_s", durations),
}


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[ScenarioType, dict[str, Any]]:
    kind = draw(st.sampled_from(list(ScenarioType)))
    name, strategy = PARAMETERS[kind]
    return kind, {name: draw(strategy)}


def _explain(result: ScenarioResult) -> str:
    return f"{result.parameters}: " + (
        "; ".join(item.message for item in result.failures) or "no failure"
    )


def _passed(result: ScenarioResult) -> None:
    assert result.assertion_passed, _explain(result)
    assert result.expected_state == result.actual_state
    assert all(
        line["scenario_id"] == result.scenario_id and line["outcome"] == "PASS"
        for line in result.logs
    )


# -- 9: no new-risk trades while NEUTRAL, HALT or L6_LOCKDOWN, in every scenario ----------


def no_trades_during_unsafe(case: tuple[ScenarioType, dict[str, Any]]) -> None:
    kind, parameters = case
    result = SIMULATOR.run(kind, **parameters)
    assert result.trades_during_unsafe == 0, _explain(result)
    assert result.assertion("no_new_risk_orders_while_unsafe").passed
    _passed(result)


@QUICK
@given(case=scenarios())
def test_property_9_no_new_risk_reaches_the_exchange_while_unsafe(
    case: tuple[ScenarioType, dict[str, Any]],
) -> None:
    no_trades_during_unsafe(case)


# -- 10: exchange downtime → NEUTRAL within 5 s, ALLOW after recovery ----------------------


def downtime_neutral_within_5_s(duration_s: float) -> None:
    result = SIMULATOR.inject_exchange_downtime(duration_s)
    _passed(result)
    assert result.reaction_time_ms is not None and result.reaction_time_ms <= 5000
    assert result.reaction_time_ms <= 1000  # SPEC §10 Detection tightens the bound to 1 s
    assert result.assertion("neutral_within_1s").passed
    assert result.actual_state == SystemState.NEUTRAL
    assert result.assertion("allow_after_recovery").passed


@QUICK
@given(duration_s=durations)
def test_property_10_downtime_is_neutral_within_5_s_and_allow_after(duration_s: float) -> None:
    downtime_neutral_within_5_s(duration_s)


# -- 11: stale market data → every new-risk signal refused until fresh, then accepted ------


def stale_data_refuses_new_risk(age_hours: float) -> None:
    result = SIMULATOR.inject_stale_market_data(age_hours)
    _passed(result)
    assert result.assertion("new_risk_refused_while_stale").passed
    assert result.assertion("new_risk_accepted_after_recovery").passed


@QUICK
@given(age_hours=ages)
def test_property_11_stale_data_refuses_new_risk_until_fresh(age_hours: float) -> None:
    stale_data_refuses_new_risk(age_hours)


# -- 12: budget corruption → HALT and BUDGET_DATA_CORRUPT in the trail ---------------------


def corruption_halts_and_is_recorded(mode: str) -> None:
    result = SIMULATOR.inject_budgetguard_corruption(mode)
    _passed(result)
    assert result.actual_state == SystemState.HALT
    assert result.assertion("budget_data_corrupt_in_audit_trail").passed
    assert result.assertion("latch_holds_after_repair").passed


@QUICK
@given(mode=modes)
def test_property_12_corruption_halts_and_is_in_the_audit_trail(mode: str) -> None:
    corruption_halts_and_is_recorded(mode)


# -- 15/16: clock drift above → NEUTRAL + EXCHANGE_TIME_DRIFT; within → ALLOW; removed → ALLOW


def drift_behaves(drift_ms: int) -> None:
    result = SIMULATOR.inject_exchange_clock_drift(drift_ms)
    _passed(result)
    if abs(drift_ms) > 1000:
        assert result.actual_state == SystemState.NEUTRAL
        assert result.assertion("exchange_time_drift_reported").passed
    else:
        assert result.actual_state == SystemState.ALLOW
        assert result.assertion("stays_allow").passed
    assert result.assertion("allow_after_recovery").passed


@settings(QUICK, max_examples=2)
@example(drift_ms=1500)
@example(drift_ms=-1500)
@example(drift_ms=900)
@example(drift_ms=-900)
@given(drift_ms=drifts)
def test_property_15_16_drift_above_tolerance_is_neutral_within_stays_allow(
    drift_ms: int,
) -> None:
    drift_behaves(drift_ms)


# -- storm: lockdown exactly when count >= 5, at the fifth failed attempt --------------------


def storm_locks_down_exactly_at_five(count: int) -> None:
    result = SIMULATOR.inject_sse_disconnect_storm(count)
    _passed(result)
    if count >= 5:
        assert result.actual_state == SystemState.L6_LOCKDOWN
        assert result.assertion("lockdown_at_fifth_failed_attempt").passed
        assert result.notes["failed_attempts_before_lockdown"] == 5
        assert result.assertion("lockdown_persists_after_feed_recovers").passed
    else:
        assert result.actual_state == SystemState.ALLOW
        assert result.assertion("no_lockdown").passed


@settings(QUICK, max_examples=3)
@example(count=4)
@example(count=5)
@given(count=storm_counts)
def test_property_storm_locks_down_exactly_when_five_attempts_failed(count: int) -> None:
    storm_locks_down_exactly_at_five(count)


# -- revoked credentials: HALT latched with EXCHANGE_AUTH_FAILED, nothing new after it ------


def revoked_keys_latch_halt(duration_s: float) -> None:
    result = SIMULATOR.inject_exchange_auth_revoked(duration_s)
    _passed(result)
    assert result.actual_state == SystemState.HALT
    assert result.assertion("exchange_auth_failed_reported").passed
    assert result.assertion("no_new_risk_after_revocation").passed
    assert result.assertion("halt_latched_after_keys_restored").passed


@settings(QUICK, max_examples=2)
@given(duration_s=durations)
def test_property_revoked_keys_latch_halt_and_send_no_new_risk(duration_s: float) -> None:
    revoked_keys_latch_halt(duration_s)


# -- soak variants: 100 examples each --------------------------------------------------------


SOAKS: list[tuple[Callable[[Any], None], st.SearchStrategy[Any]]] = [
    (no_trades_during_unsafe, scenarios()),
    (downtime_neutral_within_5_s, durations),
    (stale_data_refuses_new_risk, ages),
    (corruption_halts_and_is_recorded, modes),
    (drift_behaves, drifts),
    (storm_locks_down_exactly_at_five, storm_counts),
    (revoked_keys_latch_halt, durations),
]


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.parametrize(
    ("check", "strategy"), SOAKS, ids=lambda item: getattr(item, "__name__", "")
)
def test_soak_scenario_properties_over_100_examples(
    check: Callable[[Any], None], strategy: st.SearchStrategy[Any]
) -> None:
    @SOAK
    @given(value=strategy)
    def run(value: Any) -> None:
        check(value)

    run()
