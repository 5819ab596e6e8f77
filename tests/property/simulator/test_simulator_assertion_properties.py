"""Properties of the scenario assertion logic over generated timelines (cheap: ≥ 100 examples).

The oracle for "trades during unsafe conditions" is written independently of the
implementation: instead of maximal runs it looks at every pair of readings i <= j that are
unsafe with only unsafe readings between them; an ALLOW decision is a violation exactly when
its timestamp lies in ``[reading_i.finished, reading_j.started]`` for such a pair.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tradeguard.simulator import assertions as rules
from tradeguard.simulator.results import (
    DecisionEvidence,
    ExchangeOrder,
    Observation,
    SystemState,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
STATES = list(SystemState)


@dataclass(frozen=True)
class Timeline:
    readings: list[Observation]
    span_ms: int


@st.composite
def timelines(draw: st.DrawFn, *, states: list[SystemState] | None = None) -> Timeline:
    pool = states or STATES
    steps = draw(
        st.lists(
            st.tuples(st.integers(1, 12), st.integers(0, 40), st.sampled_from(pool)),
            max_size=20,
        )
    )
    clock_ms = 0
    readings = []
    for compute, gap, state in steps:
        started = T0 + timedelta(milliseconds=clock_ms)
        readings.append(
            Observation(
                started=started,
                finished=started + timedelta(milliseconds=compute),
                monotonic=(clock_ms + compute) / 1000,
                state=state,
            )
        )
        clock_ms += compute + gap
    return Timeline(readings, max(clock_ms, 1))


@st.composite
def orders_with_evidence(
    draw: st.DrawFn, span_ms: int
) -> tuple[ExchangeOrder, DecisionEvidence | None]:
    decided_ms = draw(st.integers(min_value=-20, max_value=span_ms + 20))
    arrived_ms = decided_ms + draw(st.integers(min_value=0, max_value=30))
    order = ExchangeOrder(
        order_id=str(draw(st.integers(0, 10**9))),
        client_order_id=f"tg-{draw(st.uuids())}",
        symbol="BTCUSDT",
        side=draw(st.sampled_from(["BUY", "SELL"])),
        quantity=Decimal("0.001"),
        arrived_at=T0 + timedelta(milliseconds=arrived_ms),
        intent=draw(st.sampled_from([None, "OPEN", "INCREASE", "REDUCE", "CLOSE"])),
    )
    kind = draw(st.sampled_from(["missing", "ALLOW", "ALLOW", "ALLOW", "NEUTRAL", "HALT"]))
    if kind == "missing":
        return order, None
    moment = T0 + timedelta(milliseconds=decided_ms, microseconds=draw(st.integers(0, 999)))
    read_at = moment - timedelta(microseconds=draw(st.integers(0, 8000)))
    return order, DecisionEvidence(
        order.client_order_id[3:], kind, moment, draw(st.sampled_from([read_at, None]))
    )


def oracle_violates(
    order: ExchangeOrder, evidence: DecisionEvidence | None, readings: list[Observation]
) -> bool:
    new_risk = order.intent in ("OPEN", "INCREASE") or order.side == "BUY"
    if not new_risk:
        return False
    if evidence is None or evidence.decision != "ALLOW":
        return True
    ordered = sorted(readings, key=lambda r: r.finished)
    for i, first in enumerate(ordered):
        for j in range(i, len(ordered)):
            if not all(r.state is not SystemState.ALLOW for r in ordered[i : j + 1]):
                break
            read_at = evidence.context_read_at or evidence.timestamp_utc
            if first.finished <= read_at and evidence.timestamp_utc <= ordered[j].started:
                return True
    return False


@settings(max_examples=150, deadline=None)
@given(data=st.data(), timeline=timelines())
def test_judge_order_flags_exactly_the_orders_the_oracle_flags(
    data: st.DataObject, timeline: Timeline
) -> None:
    runs = rules.unsafe_runs(timeline.readings)
    for _ in range(5):
        order, evidence = data.draw(orders_with_evidence(timeline.span_ms))
        violation = rules.judge_order(order, evidence, runs)
        assert (violation is not None) == oracle_violates(order, evidence, timeline.readings)
        if violation is not None:
            assert violation.client_order_id == order.client_order_id
            assert violation.reason


@settings(max_examples=100, deadline=None)
@given(data=st.data(), timeline=timelines())
def test_exit_orders_never_count_as_trades_during_unsafe(
    data: st.DataObject, timeline: Timeline
) -> None:
    order, evidence = data.draw(orders_with_evidence(timeline.span_ms))
    exit_order = ExchangeOrder(
        order.order_id,
        order.client_order_id,
        order.symbol,
        "SELL",
        order.quantity,
        order.arrived_at,
        data.draw(st.sampled_from([None, "REDUCE", "CLOSE", "CANCEL", "STOP_UPDATE"])),
    )
    assert rules.judge_order(exit_order, evidence, rules.unsafe_runs(timeline.readings)) is None


@settings(max_examples=100, deadline=None)
@given(data=st.data(), timeline=timelines(states=[SystemState.ALLOW]))
def test_always_allow_timeline_only_evidence_can_make_a_violation(
    data: st.DataObject, timeline: Timeline
) -> None:
    order, evidence = data.draw(orders_with_evidence(timeline.span_ms))
    violation = rules.judge_order(order, evidence, rules.unsafe_runs(timeline.readings))
    legit = evidence is not None and evidence.decision == "ALLOW"
    assert (violation is None) == (legit or not order.is_new_risk)


@settings(max_examples=100, deadline=None)
@given(data=st.data(), timeline=timelines())
def test_no_trades_assertion_fails_with_fss_002_exactly_when_a_violation_exists(
    data: st.DataObject, timeline: Timeline
) -> None:
    pairs = data.draw(st.lists(orders_with_evidence(timeline.span_ms), max_size=8))
    orders = [order for order, _ in pairs]
    evidence = {order.order_id: item for order, item in pairs}
    found = rules.trades_during_unsafe(orders, lambda o: evidence[o.order_id], timeline.readings)
    expected = sum(
        1 for order in orders if oracle_violates(order, evidence[order.order_id], timeline.readings)
    )
    assert len(found) == expected
    result = rules.no_trades_during_unsafe(found)
    assert result.passed == (expected == 0)
    if not result.passed:
        assert result.code == "FSS-002"
        assert "zero new-risk orders reach the exchange" in result.message
        assert result.message.startswith("FSS-002")
    in_flight = rules.in_flight_at_transition(
        orders, lambda o: evidence[o.order_id], timeline.readings
    )
    assert 0 <= in_flight <= sum(1 for o in orders if o.is_new_risk) - expected


@settings(max_examples=100, deadline=None)
@given(timeline=timelines())
def test_unsafe_runs_partition_the_unsafe_readings_in_order(timeline: Timeline) -> None:
    runs = rules.unsafe_runs(timeline.readings)
    states = [r.state for r in timeline.readings]
    blocks = sum(
        1
        for i, state in enumerate(states)
        if state.is_unsafe and (i == 0 or not states[i - 1].is_unsafe)
    )
    assert len(runs) == blocks
    for run in runs:
        assert run.interval.start <= run.certain_start
        assert run.interval.state.is_unsafe
    for before, after in itertools.pairwise(runs):
        assert before.interval.end is not None
        assert before.interval.end <= after.interval.start
    unsafe = [r for r in timeline.readings if r.state.is_unsafe]
    assert all(any(run.interval.contains(r.started) for run in runs) for r in unsafe)
    if runs:
        worst = rules.worst_state(states)
        assert worst in {run.interval.state for run in runs}


@settings(max_examples=100, deadline=None)
@given(
    timeline=timelines(),
    target=st.sampled_from(STATES),
    since_ms=st.integers(0, 400),
    limit_ms=st.integers(0, 500),
)
def test_reached_within_measures_the_first_matching_reading(
    timeline: Timeline, target: SystemState, since_ms: int, limit_ms: int
) -> None:
    since = since_ms / 1000
    result, measured = rules.reached_within("x", target, timeline.readings, since, limit_ms)
    matching = [r for r in timeline.readings if r.monotonic >= since and r.state is target]
    if not matching:
        assert measured is None
        assert not result.passed
        assert result.code == "FSS-002"
        return
    first = min(matching, key=lambda r: r.monotonic)
    assert measured is not None
    assert abs(measured - (first.monotonic - since) * 1000) < 1e-6
    assert result.passed == (measured <= limit_ms)


@settings(max_examples=100, deadline=None)
@given(
    name=st.text(min_size=1, max_size=20),
    passed=st.booleans(),
    expected=st.text(max_size=30),
    actual=st.text(max_size=30),
    expectation=st.text(min_size=1, max_size=60),
)
def test_a_failed_assertion_names_the_violated_expectation_with_fss_002(
    name: str, passed: bool, expected: str, actual: str, expectation: str
) -> None:
    result = rules.check(name, passed, expected, actual, expectation)
    assert result.passed is passed
    assert expectation in result.message
    if passed:
        assert result.code is None
    else:
        assert result.code == "FSS-002"
        assert result.message.startswith("FSS-002: expectation violated: ")
        assert expected in result.message and actual in result.message
