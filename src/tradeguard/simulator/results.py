"""What a failure scenario yields: its assertions, its observations and the scenario result.

Everything here is a frozen value; the simulator builds them, the reports and the CLI render
them. ``to_dict`` gives JSON-ready values (timestamps ISO-8601 UTC with ``Z``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from ..codes import ErrorCode
from ..errors import TradeGuardError
from ..policy import format_utc


class ScenarioType(StrEnum):
    """The six failure scenarios of SPEC §8, and revoked credentials (issue 13)."""

    EXCHANGE_DOWNTIME = "EXCHANGE_DOWNTIME"
    PARTIAL_FILL = "PARTIAL_FILL"
    STALE_MARKET_DATA = "STALE_MARKET_DATA"
    BUDGETGUARD_CORRUPTION = "BUDGETGUARD_CORRUPTION"
    SSE_DISCONNECT_STORM = "SSE_DISCONNECT_STORM"
    EXCHANGE_CLOCK_DRIFT = "EXCHANGE_CLOCK_DRIFT"
    EXCHANGE_AUTH_REVOKED = "EXCHANGE_AUTH_REVOKED"

    @classmethod
    def parse(cls, name: str) -> ScenarioType:
        """Return the scenario named ``name`` (case-insensitive); raise ``ValueError``."""
        try:
            return cls(name.strip().upper())
        except ValueError as exc:
            known = ", ".join(member.value for member in cls)
            raise ValueError(f"unknown scenario {name!r}; known: {known}") from exc


class SystemState(StrEnum):
    """The ``state`` the status shows (SPEC §7)."""

    ALLOW = "ALLOW"
    NEUTRAL = "NEUTRAL"
    HALT = "HALT"
    L6_LOCKDOWN = "L6_LOCKDOWN"

    @property
    def is_unsafe(self) -> bool:
        """True for every state in which no new risk may reach the exchange."""
        return self is not SystemState.ALLOW


class ScenarioAbortedError(TradeGuardError):
    """An injection could not be made, or the pipeline could not be started (FSS-001)."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(ErrorCode.FSS_001, message, hint=hint)


@dataclass(frozen=True, slots=True)
class AssertionResult:
    """One checked expectation of a scenario.

    Attributes:
        name: Stable, snake_case name of the expectation.
        passed: Whether it held.
        expected: What the expectation demanded, as text.
        actual: What was observed, as text.
        code: ``FSS-002`` when it failed (``FSS-001`` when the scenario aborted), else None.
        message: One sentence naming the exact expectation and, on failure, how it was violated.
    """

    name: str
    passed: bool
    expected: str
    actual: str
    code: str | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready values."""
        return {
            "name": self.name,
            "passed": self.passed,
            "expected": self.expected,
            "actual": self.actual,
            "code": self.code,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class Observation:
    """One outside reading of the status, taken between ``started`` and ``finished``.

    Attributes:
        started: Wall-clock time the status computation began.
        finished: Wall-clock time it returned.
        monotonic: Monotonic reading when it returned (for durations).
        state: The ``state`` the status showed.
        reason_code: The decision's reason code.
        check_codes: ``name -> code`` of every health check.
        is_latched: Whether the status showed the HALT latch holding.
    """

    started: datetime
    finished: datetime
    monotonic: float
    state: SystemState
    reason_code: str = ""
    check_codes: tuple[tuple[str, str], ...] = ()
    is_latched: bool = False

    def check_code(self, name: str) -> str | None:
        """Return the code of health check ``name`` in this reading, or None."""
        return dict(self.check_codes).get(name)


@dataclass(frozen=True, slots=True)
class UnsafeInterval:
    """A stretch of time in which the outside observer saw the system not ALLOW."""

    start: datetime
    end: datetime | None
    state: SystemState

    def contains(self, moment: datetime) -> bool:
        """True when ``moment`` lies inside (the end is open; None means still unsafe)."""
        return self.start <= moment and (self.end is None or moment < self.end)

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready values."""
        return {
            "start": format_utc(self.start),
            "end": None if self.end is None else format_utc(self.end),
            "state": self.state.value,
        }


@dataclass(frozen=True, slots=True)
class ExchangeOrder:
    """An order as the exchange simulator says it accepted it (``GET /_sim/orders``)."""

    order_id: str
    client_order_id: str
    symbol: str
    side: str
    quantity: Decimal
    arrived_at: datetime
    intent: str | None = None

    @property
    def is_new_risk(self) -> bool:
        """True for OPEN/INCREASE, and for any BUY (the scenario producer is long-only)."""
        return self.intent in ("OPEN", "INCREASE") or self.side == "BUY"


@dataclass(frozen=True, slots=True)
class DecisionEvidence:
    """The decision record that permitted an order (found by the order's correlation id)."""

    correlation_id: str
    decision: str
    timestamp_utc: datetime
    context_read_at: datetime | None = None
    """When the decision's context was read (its snapshot's ``timestamp_utc``); the decision
    interval is ``[context_read_at, timestamp_utc]``."""


@dataclass(frozen=True, slots=True)
class Violation:
    """A new-risk order the exchange accepted while it must not have."""

    order_id: str
    client_order_id: str
    arrived_at: datetime
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready values."""
        return {
            "order_id": self.order_id,
            "client_order_id": self.client_order_id,
            "arrived_at": format_utc(self.arrived_at),
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    """The outcome of one failure scenario (SPEC §8).

    Attributes:
        scenario_id: Unique id of this run (also on every captured log line).
        scenario_type: Which scenario.
        parameters: The parameters it ran with.
        expected_state: The state the scenario demanded under the fault.
        actual_state: The state observed under the fault (the worst one when it varied).
        assertion_passed: True only when every assertion passed.
        trades_during_unsafe: New-risk orders accepted by the exchange while unsafe.
        logs: Every captured log line, each carrying ``scenario_id`` and ``outcome``.
        duration_ms: Wall time of the whole scenario.
        assertions: Every checked expectation.
        reaction_time_ms: Injection → first observation of the expected state (None if never).
        recovery_time_ms: Recovery → first observation of the recovered state (None if n/a).
        unsafe_intervals: The unsafe stretches the observer saw.
        violations: The orders counted in ``trades_during_unsafe``.
        notes: Short facts worth reporting (counts, measured values).
    """

    scenario_id: str
    scenario_type: ScenarioType
    expected_state: str
    actual_state: str
    assertion_passed: bool
    trades_during_unsafe: int
    logs: tuple[dict[str, Any], ...]
    duration_ms: float
    assertions: tuple[AssertionResult, ...]
    reaction_time_ms: float | None
    recovery_time_ms: float | None
    parameters: dict[str, Any] = field(default_factory=dict)
    unsafe_intervals: tuple[UnsafeInterval, ...] = ()
    violations: tuple[Violation, ...] = ()
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def outcome(self) -> str:
        """``PASS``, ``FAIL`` or ``ABORTED`` (an FSS-001 assertion)."""
        if any(item.code == ErrorCode.FSS_001 for item in self.assertions):
            return "ABORTED"
        return "PASS" if self.assertion_passed else "FAIL"

    @property
    def failures(self) -> tuple[AssertionResult, ...]:
        """The assertions that did not hold."""
        return tuple(item for item in self.assertions if not item.passed)

    def assertion(self, name: str) -> AssertionResult:
        """Return the assertion called ``name``; raise ``KeyError`` when absent."""
        for item in self.assertions:
            if item.name == name:
                return item
        raise KeyError(name)

    def to_dict(self, *, include_logs: bool = True) -> dict[str, Any]:
        """Return JSON-ready values (logs optional: they can be long)."""
        data: dict[str, Any] = {
            "scenario_id": self.scenario_id,
            "scenario_type": self.scenario_type.value,
            "parameters": {key: _plain(value) for key, value in self.parameters.items()},
            "expected_state": self.expected_state,
            "actual_state": self.actual_state,
            "assertion_passed": self.assertion_passed,
            "outcome": self.outcome,
            "trades_during_unsafe": self.trades_during_unsafe,
            "duration_ms": round(self.duration_ms, 1),
            "reaction_time_ms": _rounded(self.reaction_time_ms),
            "recovery_time_ms": _rounded(self.recovery_time_ms),
            "assertions": [item.to_dict() for item in self.assertions],
            "unsafe_intervals": [item.to_dict() for item in self.unsafe_intervals],
            "violations": [item.to_dict() for item in self.violations],
            "notes": {key: _plain(value) for key, value in self.notes.items()},
        }
        if include_logs:
            data["logs"] = [{key: _plain(v) for key, v in line.items()} for line in self.logs]
        return data


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_utc(value)
    if isinstance(value, Decimal | StrEnum):
        return str(value)
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)


__all__ = [
    "AssertionResult",
    "DecisionEvidence",
    "ExchangeOrder",
    "Observation",
    "ScenarioAbortedError",
    "ScenarioResult",
    "ScenarioType",
    "SystemState",
    "UnsafeInterval",
    "Violation",
]
