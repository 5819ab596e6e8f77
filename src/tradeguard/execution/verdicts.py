"""What the gate decided for one signal, and the audit rows that say so.

Pure helpers of :mod:`tradeguard.gate`: the verdict (policy or legacy), the context used when
none can be built, and the ``signal_audit`` / ``order_audit`` records of a signal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Final

from ..audit.records import OrderEvent, OrderEventRecord, SignalRecord
from ..codes import ErrorCode, PolicyReasonCode
from ..policy import (
    Decision,
    GateName,
    OrderIntent,
    PolicyContext,
    PolicyDecision,
    PolicyDecisionRecord,
)
from ..signals import Signal
from .permits import BYPASS_DECISION

OVERRIDE_CONFIDENCE: Final = Decimal(99)
"""A refused signal above this confidence meeting HALT records AI_CONFIDENCE_OVERRIDE_BLOCKED."""

NOT_EVALUATED: Final = "NOT_EVALUATED"
"""The ``decision`` of the signal row of a repeated ``signal_id`` (it is not evaluated again)."""

_LEGACY_ALLOW: Final = PolicyDecision(
    Decision.ALLOW, PolicyReasonCode.ALLOW_ALL_GATES_PASSED, None, None, False
)
_LEGACY_KILL: Final = PolicyDecision(
    Decision.HALT, PolicyReasonCode.HALT_KILL_SWITCH, GateName.KILL_SWITCH, 1, False
)
_DISABLED: Final = (ErrorCode.POLICY_LAYER_DISABLED.value,)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The gate's answer before the intent check.

    Attributes:
        decision: What ``check_intent`` applies.
        label: ALLOW, NEUTRAL or HALT, or BYPASSED with the policy layer disabled.
        reason_code: The decision's reason (POLICY_LAYER_DISABLED when bypassed).
        record: The decision row to write (None when no policy evaluation happened).
        refusal: A refusal decided before the intent check (the legacy confidence rule).
        codes: Extra codes to report (TPP-001, POLICY_LAYER_DISABLED).
    """

    decision: PolicyDecision
    label: str
    reason_code: str
    record: PolicyDecisionRecord | None
    refusal: str | None = None
    codes: tuple[str, ...] = ()


def failed_context(correlation_id: str, stamp: str) -> PolicyContext:
    """Return the context of a build that failed: every source failed (TPP-001 → HALT)."""
    return PolicyContext(
        True, "HARD_STOP", "RED", "CRITICAL", correlation_id, stamp, tuple(GateName)
    )


def policy_verdict(
    context: PolicyContext,
    decision: PolicyDecision,
    now: datetime,
    ai_confidence: Decimal | None,
    codes: tuple[str, ...],
) -> Verdict:
    """Return the verdict of a policy evaluation, with its decision row."""
    record = PolicyDecisionRecord.from_decision(
        context, decision, timestamp_utc=now, ai_confidence=ai_confidence
    )
    return Verdict(decision, str(decision.decision), str(decision.reason_code), record, None, codes)


def legacy_verdict(signal: Signal, kill_switch_engaged: bool, minimum: Decimal) -> Verdict:
    """Return the previous behaviour's verdict: the kill switch, then the confidence rule."""
    if kill_switch_engaged:
        reason = _LEGACY_KILL.reason_code.value
        return Verdict(_LEGACY_KILL, Decision.HALT.value, reason, None, None, _DISABLED)
    confidence = signal.ai_confidence
    too_low = signal.intent is not OrderIntent.CANCEL and (
        confidence is None or confidence < minimum
    )
    return Verdict(
        _LEGACY_ALLOW,
        BYPASS_DECISION,
        ErrorCode.POLICY_LAYER_DISABLED.value,
        None,
        ErrorCode.LEGACY_CONFIDENCE_TOO_LOW.value if too_low else None,
        _DISABLED,
    )


def overrides_blocked(verdict: Verdict, refusal: str | None, signal: Signal) -> bool:
    """True when a refused signal above 99 confidence met HALT."""
    return (
        refusal is not None
        and verdict.decision.decision is Decision.HALT
        and signal.ai_confidence is not None
        and signal.ai_confidence > OVERRIDE_CONFIDENCE
    )


def signal_record(
    signal: Signal,
    correlation_id: str,
    now: datetime,
    *,
    bypassed: bool,
    label: str,
    reason_code: str,
    outcome: str,
) -> SignalRecord:
    """Return the ``signal_audit`` row of ``signal``."""
    return SignalRecord(
        signal_id=signal.signal_id,
        correlation_id=correlation_id,
        timestamp_utc=now,
        content_hash=signal.content_hash(),
        payload=signal.to_payload(),
        ai_confidence=signal.ai_confidence,
        policy_bypassed=bypassed,
        decision=label,
        reason_code=reason_code,
        outcome=outcome,
    )


def refusal_record(
    signal: Signal,
    correlation_id: str,
    now: datetime,
    verdict: Verdict,
    refusal: str,
    *,
    override: bool,
) -> OrderEventRecord:
    """Return the ``order_audit`` REFUSED row of a refused signal."""
    return OrderEventRecord(
        correlation_id=correlation_id,
        timestamp_utc=now,
        event=OrderEvent.REFUSED,
        symbol=signal.symbol,
        side=signal.side.value,
        intent=signal.intent.value,
        requested_quantity=signal.quantity,
        price=signal.price,
        code=ErrorCode.AI_CONFIDENCE_OVERRIDE_BLOCKED.value if override else refusal,
        details={
            "decision": verdict.label,
            "reason_code": verdict.reason_code,
            "refusal_code": refusal,
            "ai_confidence": None if signal.ai_confidence is None else str(signal.ai_confidence),
        },
    )


__all__ = [
    "NOT_EVALUATED",
    "OVERRIDE_CONFIDENCE",
    "Verdict",
    "failed_context",
    "legacy_verdict",
    "overrides_blocked",
    "policy_verdict",
    "refusal_record",
    "signal_record",
]
