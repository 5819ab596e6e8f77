"""Audit records beside the policy's own: received signals and order events.

Every record has ``to_row()``: the column values the store hashes (canonical JSON) and keeps.
Every record's ``timestamp_utc`` accepts what ``PolicyContext`` accepts (ISO-8601 UTC text
ending in ``Z``) or an aware datetime, and keeps it as a UTC datetime; anything else raises
``InvalidInputError`` naming ``timestamp_utc``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from ..policy import OperatorActionRecord, PolicyDecisionRecord, coerce_utc, format_utc
from ..policy.decision import parse_confidence


class AuditTable(StrEnum):
    """The four append-only, hash-chained tables."""

    POLICY_DECISION = "policy_decision_audit"
    SIGNAL = "signal_audit"
    ORDER = "order_audit"
    OPERATOR = "operator_audit"


class OrderEvent(StrEnum):
    """What happened to an order."""

    SUBMITTED = "SUBMITTED"
    FILLED = "FILLED"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"
    RECONCILED = "RECONCILED"
    REFUSED = "REFUSED"


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True, slots=True)
class SignalRecord:
    """One received signal, its confidence, and whether the policy was bypassed.

    Written together with the decision that answered it, before any order leaves, so a
    repeated ``signal_id`` can always be answered from the trail and never executed twice.
    """

    signal_id: str
    correlation_id: str
    timestamp_utc: datetime
    content_hash: str
    payload: Mapping[str, Any]
    ai_confidence: Decimal | None
    policy_bypassed: bool
    decision: str
    reason_code: str
    outcome: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "ai_confidence", parse_confidence(self.ai_confidence))
        object.__setattr__(self, "timestamp_utc", coerce_utc(self.timestamp_utc))

    def to_row(self) -> dict[str, Any]:
        """Return the column values."""
        return {
            "signal_id": self.signal_id,
            "correlation_id": self.correlation_id,
            "timestamp_utc": format_utc(self.timestamp_utc),
            "content_hash": self.content_hash,
            "payload": dict(self.payload),
            "ai_confidence": _dec(self.ai_confidence),
            "policy_bypassed": self.policy_bypassed,
            "decision": self.decision,
            "reason_code": self.reason_code,
            "outcome": self.outcome,
        }


@dataclass(frozen=True, slots=True)
class OrderEventRecord:
    """One order event: submitted, filled, partially filled, rejected, cancelled, reconciled."""

    correlation_id: str
    timestamp_utc: datetime
    event: OrderEvent
    symbol: str
    side: str
    intent: str
    requested_quantity: Decimal
    filled_quantity: Decimal = Decimal(0)
    price: Decimal | None = None
    exchange: str = ""
    exchange_order_id: str | None = None
    client_order_id: str | None = None
    code: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "timestamp_utc", coerce_utc(self.timestamp_utc))

    def to_row(self) -> dict[str, Any]:
        """Return the column values."""
        return {
            "correlation_id": self.correlation_id,
            "timestamp_utc": format_utc(self.timestamp_utc),
            "event": str(self.event),
            "symbol": self.symbol,
            "side": self.side,
            "intent": self.intent,
            "requested_quantity": str(self.requested_quantity),
            "filled_quantity": str(self.filled_quantity),
            "price": _dec(self.price),
            "exchange": self.exchange,
            "exchange_order_id": self.exchange_order_id,
            "client_order_id": self.client_order_id,
            "code": self.code,
            "details": dict(self.details),
        }


AuditRecord = PolicyDecisionRecord | SignalRecord | OrderEventRecord | OperatorActionRecord

TABLE_OF: dict[type[Any], AuditTable] = {
    PolicyDecisionRecord: AuditTable.POLICY_DECISION,
    SignalRecord: AuditTable.SIGNAL,
    OrderEventRecord: AuditTable.ORDER,
    OperatorActionRecord: AuditTable.OPERATOR,
}

__all__ = [
    "TABLE_OF",
    "AuditRecord",
    "AuditTable",
    "OperatorActionRecord",
    "OrderEvent",
    "OrderEventRecord",
    "PolicyDecisionRecord",
    "SignalRecord",
]
