"""Small factories for audit tests: records of every table and helpers to tamper."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tradeguard.audit.records import OrderEvent, OrderEventRecord, SignalRecord
from tradeguard.codes import ErrorCode, PolicyReasonCode
from tradeguard.policy import Decision, GateName, OperatorActionRecord, PolicyDecisionRecord

BASE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def new_id() -> str:
    return str(uuid.uuid4())


def decision(
    i: int = 0, *, halt: bool = False, confidence: str | None = "42.5"
) -> PolicyDecisionRecord:
    return PolicyDecisionRecord(
        correlation_id=new_id(),
        timestamp_utc=BASE + timedelta(seconds=i),
        policy_decision=Decision.HALT if halt else Decision.ALLOW,
        reason_code=PolicyReasonCode.HALT_KILL_SWITCH
        if halt
        else PolicyReasonCode.ALLOW_ALL_GATES_PASSED,
        blocking_gate=GateName.KILL_SWITCH if halt else None,
        precedence_rank=1 if halt else None,
        context_snapshot={"kill_switch_active": halt, "n": i, "note": "ünïcode"},
        ai_confidence=None if confidence is None else Decimal(confidence),
    )


def signal(
    signal_id: str = "sig-1",
    i: int = 0,
    *,
    decision: str = "ALLOW",
    reason_code: str = "ALLOW_ALL_GATES_PASSED",
    outcome: str = "SUBMITTED",
) -> SignalRecord:
    return SignalRecord(
        signal_id=signal_id,
        correlation_id=new_id(),
        timestamp_utc=BASE + timedelta(seconds=i),
        content_hash="ab" * 32,
        payload={"symbol": "BTCZAR", "quantity": "0.01"},
        ai_confidence=Decimal("99.9"),
        policy_bypassed=False,
        decision=decision,
        reason_code=reason_code,
        outcome=outcome,
    )


def repeat_of(signal_id: str, i: int = 0, code: str = "SIGNAL_DUPLICATE") -> SignalRecord:
    """A later row of ``signal_id``: how the gate records a repeat (not a first row)."""
    outcome = "DUPLICATE" if code == "SIGNAL_DUPLICATE" else "REFUSED"
    return signal(signal_id, i, decision="NOT_EVALUATED", reason_code=code, outcome=outcome)


def order(i: int = 0) -> OrderEventRecord:
    return OrderEventRecord(
        correlation_id=new_id(),
        timestamp_utc=BASE + timedelta(seconds=i),
        event=OrderEvent.FILLED,
        symbol="BTCZAR",
        side="BUY",
        intent="OPEN",
        requested_quantity=Decimal("0.010"),
        filled_quantity=Decimal("0.010"),
        price=Decimal("1234567.89"),
        exchange="paper",
    )


def operator_action(
    action: ErrorCode = ErrorCode.KILL_SWITCH_ENGAGED, i: int = 0
) -> OperatorActionRecord:
    return OperatorActionRecord(
        action=action,
        correlation_id=new_id(),
        operator_id="alice",
        reason="drill",
        timestamp_utc=BASE + timedelta(seconds=i),
    )
