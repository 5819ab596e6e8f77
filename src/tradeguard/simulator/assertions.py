"""Pure assertion logic of the failure scenarios: timelines in, ``AssertionResult`` out.

Nothing here does I/O, so every rule is property-tested over generated timelines.

**Unsafe intervals.** The observer polls the status; each reading is taken between ``started``
and ``finished``. A *run* is a maximal sequence of consecutive readings that are not ALLOW. Its
reported interval is ``[first.started, next ALLOW reading.started)`` (open when the run lasts to
the end). Its *certain* window is ``[first.finished, last.started]``: the observer had already
seen the system unsafe at the window's start and still saw it unsafe at its end, so a decision
made inside it cannot honestly have been ALLOW (it is empty for a one-reading run).

**Trades during unsafe conditions.** Every new-risk order the exchange accepted is judged by the
decision record of its own correlation id, so the race at a transition is handled: an order
whose ALLOW record was written before the system turned unsafe is legitimate even when it
reaches the exchange after the transition. An order is a violation when

1. no decision record of its correlation id exists (nothing in the trail permits it);
2. its record is not ALLOW (a NEUTRAL or HALT decision let new risk through); or
3. its ALLOW decision interval — from the moment its context was read to the moment the
   decision was recorded — lies wholly inside the certain window of an unsafe run (the gate
   read the state and said ALLOW while the system was observed NEUTRAL/HALT/L6_LOCKDOWN on
   both sides). A decision whose context was read before the system turned unsafe was made
   on the state of that moment and is not a violation, like an order sent a moment before a
   fault.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from ..codes import ErrorCode
from ..policy import format_utc
from .results import (
    AssertionResult,
    DecisionEvidence,
    ExchangeOrder,
    Observation,
    SystemState,
    UnsafeInterval,
    Violation,
)

FSS_002 = ErrorCode.FSS_002.value


def check(name: str, passed: bool, expected: str, actual: str, expectation: str) -> AssertionResult:
    """Return one assertion; on failure its message names ``expectation`` and what was seen.

    Args:
        name: Stable snake_case name.
        passed: Whether the expectation held.
        expected: The demanded value, as text.
        actual: The observed value, as text.
        expectation: The expectation in words (``"state is NEUTRAL within 5 s"``).
    """
    if passed:
        return AssertionResult(name, True, expected, actual, None, f"held: {expectation}")
    message = f"{FSS_002}: expectation violated: {expectation} (expected {expected}, got {actual})"
    return AssertionResult(name, False, expected, actual, FSS_002, message)


def aborted(name: str, message: str) -> AssertionResult:
    """Return the FSS-001 assertion of a scenario whose injection could not be made."""
    return AssertionResult(
        name, False, "injection made", "injection failed", ErrorCode.FSS_001.value, message
    )


@dataclass(frozen=True, slots=True)
class UnsafeRun:
    """A run of unsafe readings with its reported interval and its certain window."""

    interval: UnsafeInterval
    certain_start: datetime
    certain_end: datetime

    def certainly_contains(self, moment: datetime) -> bool:
        """True when ``moment`` lies in the certain window (inclusive)."""
        return self.certain_start <= moment <= self.certain_end


def _worst(states: Iterable[SystemState]) -> SystemState:
    order = (SystemState.ALLOW, SystemState.NEUTRAL, SystemState.HALT, SystemState.L6_LOCKDOWN)
    return max(states, key=order.index, default=SystemState.ALLOW)


def unsafe_runs(observations: Sequence[Observation]) -> list[UnsafeRun]:
    """Group consecutive non-ALLOW readings (ordered by ``finished``) into runs."""
    ordered = sorted(observations, key=lambda item: item.finished)
    runs: list[UnsafeRun] = []
    current: list[Observation] = []
    for reading in [*ordered, None]:
        if reading is not None and reading.state.is_unsafe:
            current.append(reading)
            continue
        if current:
            interval = UnsafeInterval(
                start=current[0].started,
                end=None if reading is None else reading.started,
                state=_worst(item.state for item in current),
            )
            runs.append(UnsafeRun(interval, current[0].finished, current[-1].started))
            current = []
    return runs


def judge_order(
    order: ExchangeOrder, evidence: DecisionEvidence | None, runs: Sequence[UnsafeRun]
) -> Violation | None:
    """Return the violation ``order`` is, or None when it was legitimately permitted."""
    if not order.is_new_risk:
        return None
    if evidence is None:
        reason = "no decision record permits this new-risk order"
    elif evidence.decision != SystemState.ALLOW.value:
        reason = f"new-risk order sent under a {evidence.decision} decision"
    else:
        read_at = evidence.context_read_at or evidence.timestamp_utc
        inside = next(
            (
                run
                for run in runs
                if run.certainly_contains(read_at)
                and run.certainly_contains(evidence.timestamp_utc)
            ),
            None,
        )
        if inside is None:
            return None
        reason = (
            f"ALLOW on a context read at {format_utc(read_at)}, recorded at "
            f"{format_utc(evidence.timestamp_utc)}, while the system was "
            f"observed {inside.interval.state.value} from {format_utc(inside.certain_start)} "
            f"to {format_utc(inside.certain_end)}"
        )
    return Violation(order.order_id, order.client_order_id, order.arrived_at, reason)


def trades_during_unsafe(
    orders: Sequence[ExchangeOrder],
    evidence_of: Callable[[ExchangeOrder], DecisionEvidence | None],
    observations: Sequence[Observation],
) -> list[Violation]:
    """Return every new-risk order the exchange accepted that no safe decision permits."""
    runs = unsafe_runs(observations)
    found = (judge_order(order, evidence_of(order), runs) for order in orders)
    return [item for item in found if item is not None]


def in_flight_at_transition(
    orders: Sequence[ExchangeOrder],
    evidence_of: Callable[[ExchangeOrder], DecisionEvidence | None],
    observations: Sequence[Observation],
) -> int:
    """Count legitimate new-risk orders that arrived inside an unsafe interval (the race)."""
    runs = unsafe_runs(observations)
    count = 0
    for order in orders:
        if not order.is_new_risk or judge_order(order, evidence_of(order), runs) is not None:
            continue
        if any(run.interval.contains(order.arrived_at) for run in runs):
            count += 1
    return count


def no_trades_during_unsafe(violations: Sequence[Violation]) -> AssertionResult:
    """Assert that no new-risk order reached the exchange while the system was unsafe."""
    detail = "; ".join(f"{item.client_order_id}: {item.reason}" for item in violations[:3])
    return check(
        "no_new_risk_orders_while_unsafe",
        not violations,
        "0 new-risk orders accepted by the exchange while NEUTRAL, HALT or L6_LOCKDOWN",
        f"{len(violations)}" + (f" ({detail})" if detail else ""),
        "zero new-risk orders reach the exchange while the system is NEUTRAL, HALT or L6_LOCKDOWN",
    )


def first_reading(
    observations: Sequence[Observation],
    since_monotonic: float,
    predicate: Callable[[Observation], bool],
) -> Observation | None:
    """Return the first reading finished after ``since_monotonic`` matching ``predicate``."""
    for reading in sorted(observations, key=lambda item: item.monotonic):
        if reading.monotonic >= since_monotonic and predicate(reading):
            return reading
    return None


def elapsed_ms(since_monotonic: float, reading: Observation | None) -> float | None:
    """Return milliseconds from ``since_monotonic`` to ``reading`` (None without a reading)."""
    if reading is None:
        return None
    return max(0.0, (reading.monotonic - since_monotonic) * 1000.0)


def states_between(
    observations: Sequence[Observation], start_monotonic: float, end_monotonic: float
) -> list[SystemState]:
    """Return the states read in ``[start, end]`` (monotonic), in order."""
    return [
        item.state
        for item in sorted(observations, key=lambda o: o.monotonic)
        if start_monotonic <= item.monotonic <= end_monotonic
    ]


def worst_state(states: Iterable[SystemState]) -> SystemState:
    """Return the most severe state (ALLOW < NEUTRAL < HALT < L6_LOCKDOWN)."""
    return _worst(states)


def reached_within(
    name: str,
    expected: SystemState,
    observations: Sequence[Observation],
    since_monotonic: float,
    limit_ms: float,
) -> tuple[AssertionResult, float | None]:
    """Assert the state ``expected`` is read within ``limit_ms`` of ``since_monotonic``."""
    reading = first_reading(observations, since_monotonic, lambda o: o.state is expected)
    measured = elapsed_ms(since_monotonic, reading)
    seen = "never" if measured is None else f"after {measured:.0f} ms"
    result = check(
        name,
        measured is not None and measured <= limit_ms,
        f"{expected.value} within {limit_ms:.0f} ms",
        f"{expected.value} {seen}",
        f"the system reaches {expected.value} within {limit_ms:.0f} ms",
    )
    return result, measured


def never_reached(
    name: str,
    forbidden: SystemState,
    observations: Sequence[Observation],
    since_monotonic: float,
    expectation: str,
) -> AssertionResult:
    """Assert that no reading after ``since_monotonic`` shows ``forbidden``."""
    reading = first_reading(observations, since_monotonic, lambda o: o.state is forbidden)
    actual = "never" if reading is None else f"seen at {format_utc(reading.finished)}"
    return check(name, reading is None, f"no {forbidden.value}", actual, expectation)


def state_matches(expected: SystemState | str, actual: SystemState | str) -> AssertionResult:
    """Assert that the state observed under the fault is the expected one."""
    return check(
        "expected_state",
        str(expected) == str(actual),
        str(expected),
        str(actual),
        f"the state under the fault is {expected}",
    )


def transitions(observations: Sequence[Observation], origin: float) -> list[str]:
    """Return every change of state, reason or failing checks, as ``+ms STATE REASON [...]``."""
    lines: list[str] = []
    previous: tuple[object, ...] | None = None
    for item in sorted(observations, key=lambda o: o.monotonic):
        failing = tuple(f"{name}={code}" for name, code in item.check_codes if code != "CHECK_OK")
        key = (item.state, item.reason_code, failing)
        if key != previous:
            offset = (item.monotonic - origin) * 1000
            lines.append(f"{offset:+.0f}ms {item.state.value} {item.reason_code} {list(failing)}")
            previous = key
    return lines


def count_codes(lines: Iterable[Mapping[str, object]], code: str) -> int:
    """Count captured log lines carrying ``code`` (as ``code`` or as ``event``)."""
    return sum(1 for line in lines if code in (line.get("code"), line.get("event")))


__all__ = [
    "FSS_002",
    "UnsafeRun",
    "aborted",
    "check",
    "count_codes",
    "elapsed_ms",
    "first_reading",
    "in_flight_at_transition",
    "judge_order",
    "never_reached",
    "no_trades_during_unsafe",
    "reached_within",
    "state_matches",
    "states_between",
    "trades_during_unsafe",
    "transitions",
    "unsafe_runs",
    "worst_state",
]
