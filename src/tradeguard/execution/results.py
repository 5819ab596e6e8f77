"""What a signal came to: the order summary, the outcome, and the ``SignalResult``."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from ..ports import OrderState


class SignalOutcome(StrEnum):
    """What happened to a signal's order.

    ACCEPTED means the gate permitted and recorded the order but no order event was recorded
    after it (the process stopped in between); the exchange is the place to look. DUPLICATE
    is only the outcome stored in the signal row of a repeated ``signal_id``; the repeat's
    answer is the first result (``SignalResult.duplicate`` is True).
    """

    EXECUTED = "EXECUTED"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    RESTING = "RESTING"
    CANCELLED = "CANCELLED"
    REFUSED = "REFUSED"
    REJECTED = "REJECTED"
    ERROR = "ERROR"
    ACCEPTED = "ACCEPTED"
    DUPLICATE = "DUPLICATE"


@dataclass(frozen=True, slots=True)
class OrderSummary:
    """The order a signal produced, as the exchange reported it."""

    exchange_order_id: str | None
    client_order_id: str | None
    status: str
    requested_quantity: Decimal
    filled_quantity: Decimal
    average_price: Decimal | None = None

    @classmethod
    def from_state(cls, state: OrderState) -> OrderSummary:
        """Summarise an adapter's ``OrderState``."""
        return cls(
            exchange_order_id=state.order_id,
            client_order_id=state.client_order_id,
            status=str(state.status),
            requested_quantity=state.requested_quantity,
            filled_quantity=state.filled_quantity,
            average_price=state.average_price,
        )

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready values (Decimals as strings)."""
        return {
            "exchange_order_id": self.exchange_order_id,
            "client_order_id": self.client_order_id,
            "status": self.status,
            "requested_quantity": str(self.requested_quantity),
            "filled_quantity": str(self.filled_quantity),
            "average_price": None if self.average_price is None else str(self.average_price),
        }


@dataclass(frozen=True, slots=True)
class ExecutionReport:
    """What the executor did with one permit."""

    correlation_id: str
    outcome: SignalOutcome
    order: OrderSummary | None = None
    codes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SignalResult:
    """The answer to one signal: the decision, why, and what happened to the order.

    ``decision`` is ALLOW, NEUTRAL or HALT, or BYPASSED when the policy layer is disabled by
    configuration. ``duplicate`` is True when this is the stored first result of a repeated
    ``signal_id``. ``refusal_code`` says why the order was refused when it was (the
    decision's reason, ``INTENT_NOT_PERMITTED``, ``ORDER_WOULD_INCREASE_RISK``,
    ``LEGACY_CONFIDENCE_TOO_LOW``...).
    """

    signal_id: str
    correlation_id: str
    decision: str
    reason_code: str
    blocking_gate: str | None
    precedence_rank: int | None
    is_latched: bool
    outcome: SignalOutcome
    order: OrderSummary | None = None
    codes: tuple[str, ...] = ()
    ai_confidence: Decimal | None = None
    policy_bypassed: bool = False
    duplicate: bool = False
    refusal_code: str | None = None

    @property
    def executed(self) -> bool:
        """True when an order was filled in whole or in part."""
        return self.outcome in (SignalOutcome.EXECUTED, SignalOutcome.PARTIALLY_FILLED)

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready values (the webhook's answer body)."""
        return {
            "signal_id": self.signal_id,
            "correlation_id": self.correlation_id,
            "decision": self.decision,
            "reason_code": self.reason_code,
            "blocking_gate": self.blocking_gate,
            "precedence_rank": self.precedence_rank,
            "is_latched": self.is_latched,
            "outcome": self.outcome.value,
            "order": None if self.order is None else self.order.to_dict(),
            "codes": list(self.codes),
            "ai_confidence": None if self.ai_confidence is None else str(self.ai_confidence),
            "policy_bypassed": self.policy_bypassed,
            "duplicate": self.duplicate,
            "refusal_code": self.refusal_code,
        }


__all__ = ["ExecutionReport", "OrderSummary", "SignalOutcome", "SignalResult"]
