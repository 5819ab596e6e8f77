"""Order intents: which intents each decision permits, and the position-aware exit check."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Final

from ..codes import ErrorCode, PolicyReasonCode
from .decision import PolicyDecision
from .domain import Decision


class OrderIntent(StrEnum):
    """What an order is meant to do to the position."""

    OPEN = "OPEN"
    INCREASE = "INCREASE"
    REDUCE = "REDUCE"
    CLOSE = "CLOSE"
    CANCEL = "CANCEL"
    STOP_UPDATE = "STOP_UPDATE"


class Side(StrEnum):
    """Order side."""

    BUY = "BUY"
    SELL = "SELL"


EXIT_INTENTS: Final = frozenset(
    {OrderIntent.REDUCE, OrderIntent.CLOSE, OrderIntent.CANCEL, OrderIntent.STOP_UPDATE}
)
NEW_RISK_INTENTS: Final = frozenset({OrderIntent.OPEN, OrderIntent.INCREASE})
POSITION_REDUCING_INTENTS: Final = frozenset(
    {OrderIntent.REDUCE, OrderIntent.CLOSE, OrderIntent.STOP_UPDATE}
)

PERMITTED_INTENTS: Final[dict[Decision, frozenset[OrderIntent]]] = {
    Decision.ALLOW: frozenset(OrderIntent),
    Decision.NEUTRAL: EXIT_INTENTS,
    Decision.HALT: frozenset({OrderIntent.CANCEL}),
}


def intent_permitted(decision: Decision, intent: OrderIntent) -> bool:
    """Return True when ``decision`` lets an order with ``intent`` pass."""
    return intent in PERMITTED_INTENTS.get(decision, frozenset())


@dataclass(frozen=True, slots=True)
class IntentCheck:
    """The outcome of checking an order against the decision and the position."""

    permitted: bool
    code: ErrorCode | PolicyReasonCode | None = None


INTENT_OK: Final = IntentCheck(True)


def reduces_position(side: Side, quantity: Decimal, position: Decimal) -> bool:
    """Return True when an order of ``side``/``quantity`` only shrinks ``position``.

    ``position`` is signed: positive long, negative short. The order must trade against the
    position and be no larger than it, so it can neither flip nor grow it.
    """
    if not quantity.is_finite() or quantity <= 0 or not position.is_finite() or position == 0:
        return False
    if position > 0:
        return side is Side.SELL and quantity <= position
    return side is Side.BUY and quantity <= -position


def check_intent(
    decision: PolicyDecision,
    intent: OrderIntent,
    side: Side,
    quantity: Decimal,
    position: Decimal,
) -> IntentCheck:
    """Return whether an order may pass ``decision`` given the current signed position.

    REDUCE, CLOSE and STOP_UPDATE must really reduce the position whatever the decision;
    one that would flip or grow it is refused with ``ORDER_WOULD_INCREASE_RISK``.
    """
    if not intent_permitted(decision.decision, intent):
        code = (
            decision.reason_code
            if decision.decision is not Decision.ALLOW
            else ErrorCode.INTENT_NOT_PERMITTED
        )
        return IntentCheck(False, code)
    if intent in POSITION_REDUCING_INTENTS and not reduces_position(side, quantity, position):
        return IntentCheck(False, ErrorCode.ORDER_WOULD_INCREASE_RISK)
    return INTENT_OK
