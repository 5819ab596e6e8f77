"""The validated, immutable input of the policy: ``PolicyContext``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from ..codes import ErrorCode
from ..errors import InvalidInputError
from .domain import (
    EVALUATION_PRECEDENCE,
    BudgetSignal,
    GateName,
    HealthStatus,
    RiskAssessment,
)

_UUID_RE: Final = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
_UTC_Z_RE: Final = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?Z")

# Lookups by value accept both the enum member and its plain string, and cost one dict probe.
_BUDGET: Final = {m.value: m for m in BudgetSignal}
_HEALTH: Final = {m.value: m for m in HealthStatus}
_RISK: Final = {m.value: m for m in RiskAssessment}
_GATES: Final = {m.value: m for m in GateName}
_BUDGET_INDEX: Final = {m: i for i, m in enumerate(BudgetSignal)}
_HEALTH_INDEX: Final = {m: i for i, m in enumerate(HealthStatus)}
_RISK_INDEX: Final = {m: i for i, m in enumerate(RiskAssessment)}
_GATE_BIT: Final = {name: 1 << i for i, name in enumerate(EVALUATION_PRECEDENCE)}

CONTEXT_FIELDS: Final[tuple[str, ...]] = (
    "kill_switch_active",
    "budget_signal",
    "health_status",
    "risk_assessment",
    "correlation_id",
    "timestamp_utc",
    "incomplete_sources",
)


def format_utc(moment: datetime) -> str:
    """Format an aware datetime as ISO-8601 UTC with microseconds and ``Z``."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInputError(
            ErrorCode.INPUT_INVALID_VALUE, "timestamp must be timezone-aware", field="timestamp"
        )
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_utc(text: str, *, field_name: str = "timestamp_utc") -> datetime:
    """Parse an ISO-8601 UTC timestamp ending in ``Z`` into an aware datetime."""
    if not isinstance(text, str) or _UTC_Z_RE.fullmatch(text) is None:
        raise InvalidInputError(
            ErrorCode.INPUT_INVALID_VALUE,
            f"{field_name} must be ISO-8601 UTC ending in 'Z', got {text!r}",
            field=field_name,
        )
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInputError(
            ErrorCode.INPUT_INVALID_VALUE, f"{field_name} is not a valid date: {text!r}",
            field=field_name,
        ) from exc


def _bad(field_name: str, message: str) -> InvalidInputError:
    return InvalidInputError(
        ErrorCode.INPUT_INVALID_VALUE, f"{field_name}: {message}", field=field_name
    )


def _member(table: Mapping[str, Any], value: object, field_name: str) -> Any:
    member = table.get(value) if isinstance(value, str) else None  # type: ignore[call-overload]
    if member is None:
        raise _bad(field_name, f"{value!r} is not one of {sorted(table)}")
    return member


@dataclass(frozen=True, slots=True)
class PolicyContext:
    """The state of the system the policy decides from; validated on construction.

    Enum fields accept their members or the plain strings; anything outside the domain
    raises :class:`~tradeguard.errors.InvalidInputError` naming the field.
    """

    kill_switch_active: bool
    budget_signal: BudgetSignal
    health_status: HealthStatus
    risk_assessment: RiskAssessment
    correlation_id: str
    timestamp_utc: str
    incomplete_sources: tuple[GateName, ...] = ()
    decision_key: int = field(init=False, repr=False, compare=False, default=0)

    def __post_init__(self) -> None:
        if type(self.kill_switch_active) is not bool:
            raise _bad("kill_switch_active", f"must be a boolean, got {self.kill_switch_active!r}")
        budget = _member(_BUDGET, self.budget_signal, "budget_signal")
        health = _member(_HEALTH, self.health_status, "health_status")
        risk = _member(_RISK, self.risk_assessment, "risk_assessment")
        if not isinstance(self.correlation_id, str) or not _UUID_RE.fullmatch(
            self.correlation_id
        ):
            raise _bad("correlation_id", f"must be a UUID string, got {self.correlation_id!r}")
        if not isinstance(self.timestamp_utc, str) or not _UTC_Z_RE.fullmatch(self.timestamp_utc):
            raise _bad("timestamp_utc", f"must be ISO-8601 UTC ending in 'Z': {self.timestamp_utc!r}")
        parse_utc(self.timestamp_utc)
        incomplete = self.incomplete_sources
        if not isinstance(incomplete, tuple | list):
            raise _bad("incomplete_sources", "must be a list of gate names")
        gates = tuple(_member(_GATES, g, "incomplete_sources") for g in incomplete)
        if len(set(gates)) != len(gates):
            raise _bad("incomplete_sources", "gate names must not repeat")
        mask = 0
        for gate in gates:
            mask |= _GATE_BIT[gate]
        set_ = object.__setattr__
        set_(self, "budget_signal", budget)
        set_(self, "health_status", health)
        set_(self, "risk_assessment", risk)
        set_(self, "incomplete_sources", tuple(sorted(gates, key=EVALUATION_PRECEDENCE.index)))
        set_(
            self,
            "decision_key",
            decision_key(self.kill_switch_active, budget, health, risk, mask),
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the context as a JSON-ready snapshot (the audit record's context)."""
        return {
            "kill_switch_active": self.kill_switch_active,
            "budget_signal": self.budget_signal.value,
            "health_status": self.health_status.value,
            "risk_assessment": self.risk_assessment.value,
            "correlation_id": self.correlation_id,
            "timestamp_utc": self.timestamp_utc,
            "incomplete_sources": [g.value for g in self.incomplete_sources],
        }

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> PolicyContext:
        """Build a context from a JSON object, refusing unknown and missing fields."""
        if not isinstance(data, Mapping):
            raise _bad("context", "must be a JSON object")
        unknown = sorted(set(data) - set(CONTEXT_FIELDS))
        if unknown:
            raise _bad(unknown[0], "unknown field")
        required = CONTEXT_FIELDS[:-1]
        missing = [name for name in required if name not in data]
        if missing:
            raise _bad(missing[0], "missing field")
        return cls(
            kill_switch_active=data["kill_switch_active"],
            budget_signal=data["budget_signal"],
            health_status=data["health_status"],
            risk_assessment=data["risk_assessment"],
            correlation_id=data["correlation_id"],
            timestamp_utc=data["timestamp_utc"],
            incomplete_sources=tuple(data.get("incomplete_sources", ())),
        )


DECISION_KEY_SPACE: Final = 2 * len(BudgetSignal) * len(HealthStatus) * len(RiskAssessment) * 16


def decision_key(
    kill: bool, budget: BudgetSignal, health: HealthStatus, risk: RiskAssessment, mask: int
) -> int:
    """Pack a context's decision inputs into one small integer (a table index)."""
    key = int(kill)
    key = key * len(BudgetSignal) + _BUDGET_INDEX[budget]
    key = key * len(HealthStatus) + _HEALTH_INDEX[health]
    key = key * len(RiskAssessment) + _RISK_INDEX[risk]
    return key * 16 + mask
