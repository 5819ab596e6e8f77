"""Which intents each decision permits, and the position-aware exit check (SPEC §2)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tradeguard.codes import ErrorCode, PolicyReasonCode
from tradeguard.policy import (
    Decision,
    GateName,
    OrderIntent,
    PolicyDecision,
    Side,
    check_intent,
    intent_permitted,
    reduces_position,
)

EXPECTED = {
    Decision.ALLOW: set(OrderIntent),
    Decision.NEUTRAL: {"REDUCE", "CLOSE", "CANCEL", "STOP_UPDATE"},
    Decision.HALT: {"CANCEL"},
}

DECISIONS = {
    Decision.ALLOW: PolicyDecision(
        Decision.ALLOW, PolicyReasonCode.ALLOW_ALL_GATES_PASSED, None, None
    ),
    Decision.NEUTRAL: PolicyDecision(
        Decision.NEUTRAL, PolicyReasonCode.NEUTRAL_HEALTH_YELLOW, GateName.HEALTH, 3
    ),
    Decision.HALT: PolicyDecision(
        Decision.HALT, PolicyReasonCode.HALT_KILL_SWITCH, GateName.KILL_SWITCH, 1, True
    ),
}


@pytest.mark.parametrize("decision", list(Decision))
@pytest.mark.parametrize("intent", list(OrderIntent))
def test_every_decision_intent_pair(decision, intent):
    assert intent_permitted(decision, intent) == (intent in EXPECTED[decision])
    # With a long position of 1 and a SELL of 0.5 every exit intent really reduces.
    check = check_intent(DECISIONS[decision], intent, Side.SELL, Decimal("0.5"), Decimal(1))
    assert check.permitted == (intent in EXPECTED[decision])
    if not check.permitted:
        assert check.code == DECISIONS[decision].reason_code


@pytest.mark.parametrize(
    ("side", "quantity", "position", "reduces"),
    [
        (Side.SELL, "1", "1", True),
        (Side.SELL, "0.4", "1", True),
        (Side.SELL, "1.01", "1", False),  # would flip long to short
        (Side.BUY, "0.5", "1", False),  # would grow the long
        (Side.BUY, "2", "-2", True),
        (Side.BUY, "3", "-2", False),
        (Side.SELL, "1", "-2", False),
        (Side.SELL, "1", "0", False),  # nothing to reduce
        (Side.SELL, "0", "1", False),
        (Side.SELL, "-1", "1", False),
        (Side.SELL, "NaN", "1", False),
        (Side.SELL, "Infinity", "1", False),
    ],
)
def test_reduce_must_really_reduce(side, quantity, position, reduces):
    assert reduces_position(side, Decimal(quantity), Decimal(position)) is reduces


@pytest.mark.parametrize("intent", [OrderIntent.CLOSE, OrderIntent.REDUCE, OrderIntent.STOP_UPDATE])
@pytest.mark.parametrize("decision", [Decision.ALLOW, Decision.NEUTRAL])
def test_close_larger_than_position_is_refused_whatever_the_decision(intent, decision):
    check = check_intent(DECISIONS[decision], intent, Side.SELL, Decimal(2), Decimal(1))
    assert not check.permitted
    assert check.code is ErrorCode.ORDER_WOULD_INCREASE_RISK


def test_open_under_neutral_names_the_neutral_reason():
    check = check_intent(
        DECISIONS[Decision.NEUTRAL], OrderIntent.OPEN, Side.BUY, Decimal(1), Decimal(0)
    )
    assert not check.permitted and check.code is PolicyReasonCode.NEUTRAL_HEALTH_YELLOW
