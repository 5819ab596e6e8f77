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
    BudgetSignal,
    GateName,
    HealthStatus,
    RiskAssessment,
)

_UUID_RE: Final = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
_UTC_Z_RE: Final = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?Z")

# Lookups by value accept both the enum member and its plain string (a StrEnum hashes as
# its string) and give the member with its index in one dict probe.
_BUDGET: Final = {m.value: (m, i) for i, m in enumerate(BudgetSignal)}
_HEALTH: Final = {m.value: (m, i) for i, m in enumerate(HealthStatus)}
_RISK: Final = {m.value: (m, i) for i, m in enumerate(RiskAssessment)}
_GATES: Final = {m.value: (m, 1 << i) for i, m in enumerate(GateName)}
_N_BUDGET: Final = len(_BUDGET)
_N_HEALTH: Final = len(_HEALTH)
_N_RISK: Final = len(_RISK)
_N_MASKS: Final = 1 << len(_GATES)

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
    if moment.tzinfo is not UTC:
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise InvalidInputError(
                ErrorCode.INPUT_INVALID_VALUE, "timestamp must be timezone-aware", field="timestamp"
            )
        try:
            moment = moment.astimezone(UTC)
        except OverflowError as exc:  # e.g. 0001-01-01 at +01:00 is before year 1 in UTC
            raise InvalidInputError(
                ErrorCode.INPUT_INVALID_VALUE,
                f"timestamp out of range in UTC: {exc}",
                field="timestamp",
            ) from exc
    if moment.year < 1000:  # strftime does not pad the year; keep its text for such years
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    # isoformat is the same text as the strftime above (a test checks), at half the cost.
    return moment.isoformat(timespec="microseconds")[:-6] + "Z"


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
            ErrorCode.INPUT_INVALID_VALUE,
            f"{field_name} is not a valid date: {text!r}",
            field=field_name,
        ) from exc


def coerce_utc(value: object, field_name: str = "timestamp_utc") -> datetime:
    """Return ``value`` as an aware UTC datetime, or raise naming ``field_name``.

    Accepts the forms a ``PolicyContext`` accepts (an ISO-8601 UTC string ending in ``Z``) and
    an aware ``datetime`` in any zone (converted to UTC). A naive datetime, another type or a
    malformed text raises :class:`~tradeguard.errors.InvalidInputError` with ``field_name``.
    """
    if type(value) is datetime and value.tzinfo is UTC:  # the hot path: Clock.now()
        return value
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise _bad(field_name, "must be timezone-aware (UTC)")
        return value.astimezone(UTC)
    if isinstance(value, str):
        return parse_utc(value, field_name=field_name)
    raise _bad(
        field_name,
        f"must be an aware datetime or ISO-8601 UTC text ending in 'Z', got {type(value).__name__}",
    )


def _bad(field_name: str, message: str) -> InvalidInputError:
    return InvalidInputError(
        ErrorCode.INPUT_INVALID_VALUE, f"{field_name}: {message}", field=field_name
    )


def _member(table: Mapping[str, tuple[Any, int]], value: object, field_name: str) -> Any:
    found = table.get(value) if isinstance(value, str) else None
    if found is None:
        raise _bad(field_name, f"{value!r} is not one of {sorted(table)}")
    return found


def _check_utc_z(text: object) -> None:
    # Cheap shape check (YYYY-MM-DDTHH:MM:SS[.ffffff]Z) before the C parser checks the digits.
    if isinstance(text, str) and _UTC_Z_RE.fullmatch(text) is not None:
        try:
            datetime.fromisoformat(text)
        except ValueError:
            pass
        else:
            return
    raise _bad("timestamp_utc", f"must be ISO-8601 UTC ending in 'Z', got {text!r}")


def _incomplete(sources: object) -> tuple[tuple[GateName, ...], int]:
    if sources in ((), []):
        return (), 0
    if not isinstance(sources, tuple | list):
        raise _bad("incomplete_sources", "must be a list of gate names")
    mask = 0
    for source in sources:
        _, bit = _member(_GATES, source, "incomplete_sources")
        if mask & bit:
            raise _bad("incomplete_sources", f"{source!r} is named twice")
        mask |= bit
    return tuple(g for g, bit in _GATES.values() if mask & bit), mask


@dataclass(frozen=True, slots=True, init=False)
class PolicyContext:
    """The state of the system the policy decides from; validated on construction.

    Enum fields accept their members or the plain strings; anything outside the domain
    raises :class:`~tradeguard.errors.InvalidInputError` naming the field. ``decision_key``
    packs the decision inputs into a small integer the policy indexes its table with.
    """

    kill_switch_active: bool
    budget_signal: BudgetSignal
    health_status: HealthStatus
    risk_assessment: RiskAssessment
    correlation_id: str
    timestamp_utc: str
    incomplete_sources: tuple[GateName, ...]
    decision_key: int = field(repr=False, compare=False)

    def __init__(
        self,
        kill_switch_active: bool,
        budget_signal: BudgetSignal | str,
        health_status: HealthStatus | str,
        risk_assessment: RiskAssessment | str,
        correlation_id: str,
        timestamp_utc: str,
        incomplete_sources: tuple[GateName | str, ...] | list[GateName | str] = (),
    ) -> None:
        if kill_switch_active is not True and kill_switch_active is not False:
            raise _bad("kill_switch_active", f"must be a boolean, got {kill_switch_active!r}")
        budget, b_index = _member(_BUDGET, budget_signal, "budget_signal")
        health, h_index = _member(_HEALTH, health_status, "health_status")
        risk, r_index = _member(_RISK, risk_assessment, "risk_assessment")
        if type(correlation_id) is not str or _UUID_RE.fullmatch(correlation_id) is None:
            raise _bad("correlation_id", f"must be a UUID string, got {correlation_id!r}")
        _check_utc_z(timestamp_utc)
        gates, mask = _incomplete(incomplete_sources)
        set_ = object.__setattr__
        set_(self, "kill_switch_active", kill_switch_active)
        set_(self, "budget_signal", budget)
        set_(self, "health_status", health)
        set_(self, "risk_assessment", risk)
        set_(self, "correlation_id", correlation_id)
        set_(self, "timestamp_utc", timestamp_utc)
        set_(self, "incomplete_sources", gates)
        set_(
            self,
            "decision_key",
            (((kill_switch_active * _N_BUDGET + b_index) * _N_HEALTH + h_index) * _N_RISK + r_index)
            * _N_MASKS
            + mask,
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the context as a JSON-ready snapshot (the audit record's context)."""
        return {
            "kill_switch_active": self.kill_switch_active,
            "budget_signal": str(self.budget_signal),
            "health_status": str(self.health_status),
            "risk_assessment": str(self.risk_assessment),
            "correlation_id": self.correlation_id,
            "timestamp_utc": self.timestamp_utc,
            "incomplete_sources": [str(g) for g in self.incomplete_sources],
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


DECISION_KEY_SPACE: Final = 2 * _N_BUDGET * _N_HEALTH * _N_RISK * _N_MASKS


def decision_key(
    kill: bool, budget: BudgetSignal, health: HealthStatus, risk: RiskAssessment, mask: int
) -> int:
    """Pack a context's decision inputs into one small integer (a table index)."""
    key = (int(kill) * _N_BUDGET + _BUDGET[budget][1]) * _N_HEALTH + _HEALTH[health][1]
    return (key * _N_RISK + _RISK[risk][1]) * _N_MASKS + mask
