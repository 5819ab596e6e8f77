"""Each pre-trade order control on its own: the pure rules of ``execution.order_controls``."""

from __future__ import annotations

from collections import deque
from decimal import Decimal

import pytest

from tradeguard.codes import ErrorCode
from tradeguard.execution.order_controls import (
    AdmittedOrder,
    OrderControls,
    OrderLimits,
    OrderTerms,
    admit,
    align_price,
    round_down,
    shape_order,
)
from tradeguard.policy import Side
from tradeguard.ports import OrderType, SymbolRules

D = Decimal
RULES = SymbolRules("BTCUSDT", D("0.001"), D("0.002"), D("10"), D("0.5"))
LAST = D(50000)


def order(quantity: str = "0.01", **kwargs) -> OrderTerms:
    kwargs.setdefault("signal_id", "s-1")
    return OrderTerms("BTCUSDT", kwargs.pop("side", Side.BUY), D(quantity), **kwargs)


def limit(quantity: str, price: str, side: Side = Side.BUY, **kwargs) -> OrderTerms:
    return order(quantity, side=side, order_type=OrderType.LIMIT, price=D(price), **kwargs)


def decide(terms: OrderTerms, *, adds_risk: bool = True, last=LAST, recent=(), now=100.0, **lim):
    shaped = shape_order(terms, RULES, last)
    refusal = admit(
        terms,
        shaped,
        adds_risk=adds_risk,
        last_price=last,
        recent=recent,
        now=now,
        limits=OrderLimits(**lim),
    )
    return shaped, refusal


# --- the symbol's rules ----------------------------------------------------------------------


def test_quantity_is_rounded_down_to_the_step_never_up():
    assert round_down(D("0.0129"), D("0.001")) == D("0.012")
    shaped, refusal = decide(order("0.0129"))
    assert shaped.quantity == D("0.012") and refusal is None


@pytest.mark.parametrize(("side", "expected"), [(Side.BUY, "50000.0"), (Side.SELL, "50000.5")])
def test_a_limit_price_off_the_tick_moves_to_the_side_never_worse_for_the_trader(side, expected):
    assert align_price(side, D("50000.3"), D("0.5")) == D(expected)
    shaped, refusal = decide(limit("0.01", "50000.3", side))
    assert shaped.price == D(expected) and refusal is None


@pytest.mark.parametrize("quantity", ["0.0019", "0.0009", "0"])
def test_below_the_minimum_quantity_after_rounding_is_refused(quantity):
    _, refusal = decide(order(quantity))
    assert refusal is not None and refusal.code is ErrorCode.ORDER_BELOW_MINIMUM


def test_below_the_minimum_notional_is_refused_valued_at_the_limit_price():
    assert decide(limit("0.002", "4999.5"))[1].code is ErrorCode.ORDER_BELOW_MINIMUM
    assert decide(limit("0.002", "5000"), last=D(5000))[1] is None


def test_a_buy_limit_price_below_one_tick_is_refused():
    _, refusal = decide(limit("1", "0.3"), last=D("0.3"))
    assert refusal is not None and refusal.code is ErrorCode.ORDER_BELOW_MINIMUM


def test_the_minimum_applies_to_exits_too_as_the_venue_would_refuse_them():
    _, refusal = decide(order("0.001", side=Side.SELL), adds_risk=False)
    assert refusal is not None and refusal.code is ErrorCode.ORDER_BELOW_MINIMUM


def test_unreadable_rules_refuse_new_risk_and_let_exits_go_as_asked():
    terms = order("0.0129")
    shaped = shape_order(terms, None, LAST)
    assert shaped.quantity == D("0.0129") and shaped.rules_missing
    new_risk = admit(
        terms, shaped, adds_risk=True, last_price=LAST, recent=(), now=0, limits=OrderLimits()
    )
    exit_ = admit(
        terms, shaped, adds_risk=False, last_price=LAST, recent=(), now=0, limits=OrderLimits()
    )
    assert new_risk is not None and new_risk.code is ErrorCode.SYMBOL_RULES_UNAVAILABLE
    assert exit_ is None


def test_a_market_order_without_a_price_cannot_show_its_minimum_and_is_refused_as_new_risk():
    assert decide(order("1"), last=None)[1].code is ErrorCode.ORDER_BELOW_MINIMUM
    assert decide(order("1", side=Side.SELL), adds_risk=False, last=None)[1] is None


# --- collar, size ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("price", "refused"), [("52500", False), ("52500.5", True), ("47500", False), ("47499.5", True)]
)
def test_the_collar_refuses_a_limit_further_than_its_percent_from_the_last_trade(price, refused):
    _, refusal = decide(limit("0.01", price), price_collar_pct=D(5))
    assert (refusal is not None and refusal.code is ErrorCode.RISK_PRICE_COLLAR) is refused


def test_the_collar_without_a_last_price_refuses_new_risk_but_never_an_exit():
    assert decide(limit("0.01", "50000"), last=None, price_collar_pct=D(5))[1].code is (
        ErrorCode.RISK_PRICE_COLLAR
    )
    assert (
        decide(limit("0.01", "90000", Side.SELL), adds_risk=False, price_collar_pct=D(5))[1] is None
    )


def test_the_collar_does_not_apply_to_market_orders():
    assert decide(order("0.01"), price_collar_pct=D(1))[1] is None


def test_the_maximum_notional_refuses_a_larger_order_that_adds_risk_only():
    assert decide(order("0.2"), max_order_notional=D(10000))[1] is None
    assert decide(order("0.201"), max_order_notional=D(10000))[1].code is (
        ErrorCode.RISK_ORDER_NOTIONAL
    )
    assert (
        decide(order("5", side=Side.SELL), adds_risk=False, max_order_notional=D(10000))[1] is None
    )


def test_the_maximum_notional_values_a_limit_at_the_higher_of_its_price_and_the_last():
    refusal = decide(limit("0.2", "50000.5"), max_order_notional=D(10000))[1]
    assert refusal is not None and refusal.code is ErrorCode.RISK_ORDER_NOTIONAL


# --- rate and duplicates -----------------------------------------------------------------------


def seen(at: float, quantity: str = "0.01", symbol: str = "BTCUSDT", signal_id: str = "other"):
    return AdmittedOrder(at, symbol, Side.BUY, D(quantity), signal_id)


def test_the_rate_limit_per_symbol_counts_only_the_window():
    recent = [seen(99.0 + i / 10, quantity=str(i + 1)) for i in range(3)]
    limits = {"max_orders_per_symbol": 3, "rate_window_seconds": 1.0}
    assert (
        decide(order("0.5"), recent=recent, now=99.9, **limits)[1].code is ErrorCode.RISK_ORDER_RATE
    )
    # At 100.05 the first (at 99.0) has left the one-second window.
    assert decide(order("0.5"), recent=recent, now=100.05, **limits)[1] is None


def test_the_rate_limit_per_account_counts_every_symbol():
    recent = [seen(99.5, quantity=str(i + 1), symbol=f"S{i}") for i in range(4)]
    _, refusal = decide(order("0.5"), recent=recent, max_orders_per_account=4)
    assert refusal is not None and refusal.code is ErrorCode.RISK_ORDER_RATE
    assert decide(order("0.5"), recent=recent, max_orders_per_symbol=1)[1] is None


def test_a_same_order_from_another_signal_inside_the_window_is_a_duplicate():
    recent = [seen(99.0, "0.01")]
    assert decide(order("0.01"), recent=recent, duplicate_window_seconds=2)[1].code is (
        ErrorCode.RISK_DUPLICATE_ORDER
    )
    assert decide(order("0.0109"), recent=recent, duplicate_window_seconds=2)[1].code is (
        ErrorCode.RISK_DUPLICATE_ORDER  # the same once rounded to the step
    )
    assert decide(order("0.011"), recent=recent, duplicate_window_seconds=2)[1] is None
    assert decide(order("0.01"), recent=recent, now=101.0, duplicate_window_seconds=2)[1] is None
    assert (
        decide(order("0.01", side=Side.SELL), recent=recent, duplicate_window_seconds=2)[1] is None
    )


def test_rate_and_duplicates_never_refuse_an_exit():
    recent = [seen(99.9, "0.01") for _ in range(10)]
    limits = {
        "max_orders_per_symbol": 1,
        "max_orders_per_account": 1,
        "duplicate_window_seconds": 5,
    }
    assert decide(order("0.01"), adds_risk=False, recent=recent, **limits)[1] is None


def test_order_controls_remember_what_they_admit_exits_included_and_forget_after_the_window():
    controls = OrderControls(
        lambda symbol: RULES,
        OrderLimits(max_orders_per_symbol=2, rate_window_seconds=1.0, duplicate_window_seconds=0.5),
    )

    admitted: deque[AdmittedOrder] = deque()  # the book's state keeps them

    def run(terms: OrderTerms, now: float, adds_risk: bool = True):
        shaped = controls.prepare(terms, LAST)
        return controls.decide(
            terms, shaped, adds_risk=adds_risk, last_price=LAST, now=now, admitted=admitted
        )

    assert run(order("0.01", signal_id="a"), 0.0) is None
    assert run(order("0.01", signal_id="b"), 0.1).code is ErrorCode.RISK_DUPLICATE_ORDER
    assert run(order("0.02", side=Side.SELL, signal_id="c"), 0.2, adds_risk=False) is None
    assert run(order("0.03", signal_id="d"), 0.3).code is ErrorCode.RISK_ORDER_RATE
    assert run(order("0.01", signal_id="e"), 1.05) is None  # both left the window
    assert [o.signal_id for o in admitted] == ["c", "e"]  # "a" forgotten after the memory


def test_a_rules_provider_that_raises_counts_as_unreadable():
    def broken(symbol: str) -> SymbolRules:
        raise ConnectionError("exchange down")

    shaped = OrderControls(broken).prepare(order("0.01"), LAST)
    assert shaped.rules_missing
