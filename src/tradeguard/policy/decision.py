"""What the policy returns (``PolicyDecision``) and what the audit trail stores."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ..codes import ErrorCode, PolicyReasonCode
from ..errors import InvalidInputError
from .context import PolicyContext, coerce_utc, format_utc
from .domain import Decision, GateName

CONFIDENCE_MIN = Decimal(0)
CONFIDENCE_MAX = Decimal(100)


@dataclass(frozen=True, slots=True)
class PolicyDecision:
    """One answer of the gate.

    ``blocking_gate`` and ``precedence_rank`` are ``None`` exactly when the decision is ALLOW.
    """

    decision: Decision
    reason_code: PolicyReasonCode
    blocking_gate: GateName | None
    precedence_rank: int | None
    is_latched: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Return the decision as a JSON-ready dict."""
        return {
            "decision": self.decision.value,
            "reason_code": str(self.reason_code),
            "blocking_gate": None if self.blocking_gate is None else str(self.blocking_gate),
            "precedence_rank": self.precedence_rank,
            "is_latched": self.is_latched,
        }


def parse_confidence(value: object) -> Decimal | None:
    """Return ``value`` as a Decimal in 0–100, or raise naming ``ai_confidence``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise InvalidInputError(
            ErrorCode.INPUT_INVALID_VALUE,
            f"ai_confidence must be a decimal number, got {type(value).__name__}",
            field="ai_confidence",
        )
    try:
        number = Decimal(value)
    except InvalidOperation as exc:
        raise InvalidInputError(
            ErrorCode.INPUT_INVALID_VALUE,
            f"ai_confidence is not a number: {value!r}",
            field="ai_confidence",
        ) from exc
    if not number.is_finite() or not CONFIDENCE_MIN <= number <= CONFIDENCE_MAX:
        raise InvalidInputError(
            ErrorCode.INPUT_INVALID_VALUE,
            f"ai_confidence must be within 0-100, got {value!r}",
            field="ai_confidence",
        )
    return number


@dataclass(frozen=True, slots=True)
class PolicyDecisionRecord:
    """The audit row of one evaluation: the decision, its context, and the confidence apart.

    ``ai_confidence`` is stored beside the decision and never influenced it. ``origin`` says
    what asked for the evaluation (``signal``, ``heartbeat``, ``cli``, ``scenario``).
    """

    correlation_id: str
    timestamp_utc: datetime
    """An aware datetime or ISO-8601 UTC text ending in ``Z`` (kept as a UTC datetime)."""
    policy_decision: Decision
    reason_code: PolicyReasonCode
    blocking_gate: GateName | None
    precedence_rank: int | None
    context_snapshot: Mapping[str, Any]
    ai_confidence: Decimal | None = None
    is_latched: bool = False
    origin: str = "signal"

    def __post_init__(self) -> None:
        object.__setattr__(self, "ai_confidence", parse_confidence(self.ai_confidence))
        object.__setattr__(self, "timestamp_utc", coerce_utc(self.timestamp_utc))
        if (self.policy_decision is Decision.ALLOW) != (self.blocking_gate is None) or (
            self.blocking_gate is None
        ) != (self.precedence_rank is None):
            raise InvalidInputError(
                ErrorCode.INPUT_INVALID_VALUE,
                "blocking_gate and precedence_rank must be null exactly for ALLOW",
                field="blocking_gate",
            )

    @classmethod
    def from_decision(
        cls,
        context: PolicyContext,
        decision: PolicyDecision,
        *,
        timestamp_utc: datetime,
        ai_confidence: Decimal | int | str | None = None,
        origin: str = "signal",
    ) -> PolicyDecisionRecord:
        """Build the audit record of ``decision`` made from ``context``."""
        return cls(
            correlation_id=context.correlation_id,
            timestamp_utc=timestamp_utc,
            policy_decision=decision.decision,
            reason_code=decision.reason_code,
            blocking_gate=decision.blocking_gate,
            precedence_rank=decision.precedence_rank,
            context_snapshot=context.to_dict(),
            ai_confidence=parse_confidence(ai_confidence),
            is_latched=decision.is_latched,
            origin=origin,
        )

    def to_row(self) -> dict[str, Any]:
        """Return the record as the column values the audit store hashes and keeps."""
        return {
            "correlation_id": self.correlation_id,
            "timestamp_utc": format_utc(self.timestamp_utc),
            "policy_decision": str(self.policy_decision),
            "reason_code": str(self.reason_code),
            "blocking_gate": None if self.blocking_gate is None else str(self.blocking_gate),
            "precedence_rank": self.precedence_rank,
            "context_snapshot": dict(self.context_snapshot),
            "ai_confidence": None if self.ai_confidence is None else str(self.ai_confidence),
            "is_latched": self.is_latched,
            "origin": self.origin,
        }


@dataclass(frozen=True, slots=True)
class OperatorActionRecord:
    """An audited operator or system action: kill switch change, latch reset, lockdown."""

    action: ErrorCode
    correlation_id: str
    operator_id: str
    reason: str
    timestamp_utc: datetime
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "timestamp_utc", coerce_utc(self.timestamp_utc))
        if not isinstance(self.operator_id, str) or not self.operator_id.strip():
            raise InvalidInputError(
                ErrorCode.OPERATOR_ID_REQUIRED, "operator_id must be non-empty", field="operator_id"
            )
        if not isinstance(self.reason, str) or not self.reason.strip():
            raise InvalidInputError(
                ErrorCode.OPERATOR_ID_REQUIRED, "reason must be non-empty", field="reason"
            )

    def to_row(self) -> dict[str, Any]:
        """Return the record as the column values the audit store hashes and keeps."""
        return {
            "action": self.action.value,
            "correlation_id": self.correlation_id,
            "operator_id": self.operator_id,
            "reason": self.reason,
            "timestamp_utc": format_utc(self.timestamp_utc),
            "details": dict(self.details),
        }
