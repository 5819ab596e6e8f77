"""Answer a repeated ``signal_id`` with its first result, rebuilt from the audit trail.

The first ``signal_audit`` row names the correlation_id; the decision row and the order rows
of that correlation_id give the rest. Because every piece comes from durable rows, the answer
is the same after a restart, and the signal is never executed twice.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..audit.records import AuditTable, OrderEvent
from ..codes import ErrorCode
from ..ports import AuditStore
from .results import OrderSummary, SignalOutcome, SignalResult

_OUTCOME_OF_EVENT = {
    OrderEvent.FILLED.value: SignalOutcome.EXECUTED,
    OrderEvent.PARTIALLY_FILLED.value: SignalOutcome.PARTIALLY_FILLED,
    OrderEvent.REJECTED.value: SignalOutcome.REJECTED,
    OrderEvent.CANCELLED.value: SignalOutcome.CANCELLED,
    OrderEvent.SUBMITTED.value: SignalOutcome.RESTING,
    OrderEvent.REFUSED.value: SignalOutcome.REFUSED,
}


def _decimal(value: object) -> Decimal:
    return Decimal(str(value)) if value is not None else Decimal(0)


def _order_outcome(rows: list[dict[str, Any]]) -> tuple[SignalOutcome | None, OrderSummary | None]:
    placed = [r for r in rows if r.get("exchange_order_id") is not None]
    last = rows[-1] if rows else None
    if last is None:
        return None, None
    event = str(last.get("event"))
    if event == OrderEvent.REJECTED.value and str(last.get("code")) != (
        ErrorCode.EXCHANGE_ORDER_REJECTED.value
    ):
        outcome = SignalOutcome.ERROR
    elif event == OrderEvent.RECONCILED.value:
        filled = _decimal(last.get("filled_quantity"))
        requested = _decimal(last.get("requested_quantity"))
        outcome = SignalOutcome.EXECUTED if filled >= requested else SignalOutcome.PARTIALLY_FILLED
        if filled == 0:
            outcome = SignalOutcome.CANCELLED
    else:
        outcome = _OUTCOME_OF_EVENT.get(event, SignalOutcome.ACCEPTED)
    if not placed:
        return outcome, None
    newest = placed[-1]
    summary = OrderSummary(
        exchange_order_id=newest.get("exchange_order_id"),
        client_order_id=newest.get("client_order_id"),
        status=str(newest.get("event")),
        requested_quantity=_decimal(newest.get("requested_quantity")),
        filled_quantity=max(_decimal(r.get("filled_quantity")) for r in placed),
        average_price=None if newest.get("price") is None else _decimal(newest.get("price")),
    )
    return outcome, summary


def first_result(audit: AuditStore, first: dict[str, Any]) -> SignalResult:
    """Rebuild the result of the signal whose first ``signal_audit`` row is ``first``."""
    correlation_id = str(first["correlation_id"])
    decisions = list(audit.rows(AuditTable.POLICY_DECISION, correlation_id=correlation_id))
    orders = list(audit.rows(AuditTable.ORDER, correlation_id=correlation_id))
    decision_row = decisions[0] if decisions else {}
    stored_outcome = str(first.get("outcome"))
    outcome, order = _order_outcome(orders)
    if stored_outcome == SignalOutcome.REFUSED.value:
        outcome = SignalOutcome.REFUSED
    elif outcome is None:
        outcome = SignalOutcome.ACCEPTED
    codes = (
        *(str(r["code"]) for r in orders if r.get("code")),
        ErrorCode.SIGNAL_DUPLICATE.value,
    )
    confidence = first.get("ai_confidence")
    refusal = str(first["reason_code"]) if stored_outcome == SignalOutcome.REFUSED.value else None
    return SignalResult(
        signal_id=str(first["signal_id"]),
        correlation_id=correlation_id,
        decision=str(first["decision"]),
        reason_code=str(decision_row.get("reason_code", first["reason_code"])),
        blocking_gate=decision_row.get("blocking_gate"),
        precedence_rank=decision_row.get("precedence_rank"),
        is_latched=bool(decision_row.get("is_latched", False)),
        outcome=outcome,
        order=order,
        codes=codes,
        ai_confidence=None if confidence is None else Decimal(str(confidence)),
        policy_bypassed=bool(first.get("policy_bypassed", False)),
        duplicate=True,
        refusal_code=refusal,
    )


__all__ = ["first_result"]
