"""For any orders found resting at start, the caps count them before the first decision.

Resting orders an earlier process left are adopted (``start_from_exchange``): the next order
that adds risk is refused with ``RISK_OPEN_ORDERS`` exactly when they already fill
``max_open_orders``, and with ``RISK_EXPOSURE`` exactly when, with them, the worst gross
exposure would go above ``max_gross_exposure``.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tradeguard.clock import SystemClock
from tradeguard.codes import ErrorCode
from tradeguard.execution import SignalOutcome, SignalResult
from tradeguard.execution.startup import start_from_exchange
from tradeguard.policy import Side
from tradeguard.ports import OrderState, OrderStatus, OrderType

from ...unit.execution.factories import PRICES, signal, wire

PRICE = PRICES["BTCUSDT"]
QUANTITY = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(3), places=2)
RESTING = st.lists(st.tuples(st.sampled_from(list(Side)), QUANTITY), max_size=6)


def _orders(resting: list[tuple[Side, Decimal]]) -> list[OrderState]:
    return [
        OrderState(
            f"old-{i}",
            f"tg-old-{i}",
            "BTCUSDT",
            side,
            OrderStatus.NEW,
            quantity,
            Decimal(0),
            order_type=OrderType.LIMIT,
            price=Decimal(1000),
        )
        for i, (side, quantity) in enumerate(resting)
    ]


def _decide(w, quantity: Decimal) -> SignalResult:  # type: ignore[no-untyped-def]
    [result] = w.gate.submit_many([signal(quantity=str(quantity))])
    assert isinstance(result, SignalResult)
    return result


def _adopt(w, resting: list[tuple[Side, Decimal]]) -> None:  # type: ignore[no-untyped-def]
    start_from_exchange(
        open_orders=_orders(resting),
        balances=[],
        executor=w.executor,
        audit=w.audit,
        clock=SystemClock(),
        exchange_name="paper",
    )


@settings(max_examples=100, deadline=None)
@given(resting=RESTING, cap=st.integers(min_value=0, max_value=8))
def test_for_any_resting_orders_the_open_orders_cap_counts_them(resting, cap):
    w = wire(max_open_orders=cap)
    _adopt(w, resting)
    result = _decide(w, Decimal("0.01"))
    bought = sum((q for side, q in resting if side is Side.BUY), Decimal(0))
    sold = sum((q for side, q in resting if side is Side.SELL), Decimal(0))
    adds_risk = bought + Decimal("0.01") > sold
    if adds_risk and len(resting) + 1 > cap:
        assert result.refusal_code == ErrorCode.RISK_OPEN_ORDERS.value
    else:
        assert result.outcome is SignalOutcome.EXECUTED, result


@settings(max_examples=100, deadline=None)
@given(resting=RESTING, quantity=QUANTITY, cap_btc=QUANTITY)
def test_for_any_resting_orders_the_exposure_cap_counts_them(resting, quantity, cap_btc):
    cap = cap_btc * 2 * PRICE
    w = wire(max_gross_exposure=cap)
    _adopt(w, resting)
    result = _decide(w, quantity)
    bought = sum((q for side, q in resting if side is Side.BUY), Decimal(0))
    sold = sum((q for side, q in resting if side is Side.SELL), Decimal(0))
    worst_before = max(bought, sold)
    worst_after = max(bought + quantity, sold)
    if worst_after > worst_before and worst_after * PRICE > cap:
        assert result.refusal_code == ErrorCode.RISK_EXPOSURE.value
    else:
        assert result.outcome is SignalOutcome.EXECUTED, result
