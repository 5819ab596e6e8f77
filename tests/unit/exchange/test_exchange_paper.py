"""The paper exchange: fills at the current price, partial fills, balances, thread safety."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest

from tradeguard.clock import FakeClock
from tradeguard.errors import ExchangeRejectedError
from tradeguard.exchange import PaperExchange, RemainderPolicy
from tradeguard.policy import Side
from tradeguard.ports import OrderRequest, OrderStatus, OrderType


def fixed_price(price: str):
    return lambda symbol: Decimal(price)


def buy(quantity: str, cid: str = "c-1", symbol: str = "BTCUSDT", **kwargs) -> OrderRequest:
    return OrderRequest(cid, symbol, Side.BUY, Decimal(quantity), **kwargs)


def balances(exchange: PaperExchange) -> dict[str, Decimal]:
    return {b.currency: b.total for b in exchange.balances()}


def test_market_order_fills_completely_at_the_current_price():
    exchange = PaperExchange(FakeClock(), price_source=fixed_price("50000"))

    state = exchange.place_order(buy("0.5"))

    assert state.status is OrderStatus.FILLED
    assert state.filled_quantity == Decimal("0.5")
    assert state.average_price == Decimal("50000")
    assert balances(exchange)["BTC"] == Decimal("0.5")
    assert balances(exchange)["USDT"] == Decimal(100000) - Decimal(25000)


def test_sell_moves_balances_the_other_way():
    exchange = PaperExchange(FakeClock(), price_source=fixed_price("100"), quote_balance=Decimal(0))

    exchange.place_order(OrderRequest("s-1", "ETHUSDT", Side.SELL, Decimal(2)))

    assert balances(exchange)["ETH"] == Decimal(-2)
    assert balances(exchange)["USDT"] == Decimal(200)


def test_partial_fill_leaves_remainder_open_until_the_next_status_poll():
    exchange = PaperExchange(
        FakeClock(), price_source=fixed_price("10"), partial_fill_ratio=Decimal("0.4")
    )

    placed = exchange.place_order(buy("1"))
    assert placed.status is OrderStatus.PARTIALLY_FILLED
    assert placed.filled_quantity == Decimal("0.4")
    assert [o.order_id for o in exchange.open_orders()] == [placed.order_id]

    polled = exchange.order_status("BTCUSDT", placed.order_id)

    assert polled.status is OrderStatus.FILLED
    assert polled.filled_quantity == Decimal(1)
    assert exchange.open_orders() == []
    assert balances(exchange)["BTC"] == Decimal(1)


def test_partial_fill_with_cancel_policy_ends_cancelled_with_the_partial_quantity():
    exchange = PaperExchange(
        FakeClock(),
        price_source=fixed_price("10"),
        partial_fill_ratio=Decimal("0.25"),
        partial_fill_remainder=RemainderPolicy.CANCEL,
    )
    placed = exchange.place_order(buy("2"))

    polled = exchange.order_status("BTCUSDT", placed.order_id)

    assert polled.status is OrderStatus.CANCELLED
    assert polled.filled_quantity == Decimal("0.5")
    assert balances(exchange)["BTC"] == Decimal("0.5")


def test_partial_fill_with_rest_policy_stays_open_until_advance_fills():
    exchange = PaperExchange(
        FakeClock(),
        price_source=fixed_price("10"),
        partial_fill_ratio=Decimal("0.5"),
        partial_fill_remainder=RemainderPolicy.REST,
    )
    placed = exchange.place_order(buy("1"))
    assert exchange.order_status("BTCUSDT", placed.order_id).status is OrderStatus.PARTIALLY_FILLED

    changed = exchange.advance_fills()

    assert [c.order_id for c in changed] == [placed.order_id]
    assert exchange.order_status("BTCUSDT", placed.order_id).status is OrderStatus.FILLED


def test_cancel_of_partially_filled_order_keeps_what_filled():
    exchange = PaperExchange(
        FakeClock(), price_source=fixed_price("10"), partial_fill_ratio=Decimal("0.5")
    )
    placed = exchange.place_order(buy("1"))

    cancelled = exchange.cancel_order("BTCUSDT", placed.order_id)

    assert cancelled.status is OrderStatus.CANCELLED
    assert cancelled.filled_quantity == Decimal("0.5")
    assert exchange.order_status("BTCUSDT", placed.order_id).status is OrderStatus.CANCELLED


def test_limit_order_away_from_the_market_rests_and_cancels():
    exchange = PaperExchange(FakeClock(), price_source=fixed_price("50000"))

    resting = exchange.place_order(buy("1", order_type=OrderType.LIMIT, price=Decimal("40000")))

    assert resting.status is OrderStatus.NEW
    assert exchange.order_status("BTCUSDT", resting.order_id).status is OrderStatus.NEW
    assert exchange.cancel_order("BTCUSDT", resting.order_id).status is OrderStatus.CANCELLED
    assert "BTC" not in balances(exchange) or balances(exchange)["BTC"] == 0


def test_marketable_limit_order_fills():
    exchange = PaperExchange(FakeClock(), price_source=fixed_price("50000"))

    state = exchange.place_order(buy("1", order_type=OrderType.LIMIT, price=Decimal("51000")))

    assert state.status is OrderStatus.FILLED
    assert state.price == Decimal("51000")


def test_cancelling_a_filled_or_unknown_order_is_refused():
    exchange = PaperExchange(FakeClock(), price_source=fixed_price("1"))
    filled = exchange.place_order(buy("1"))

    with pytest.raises(ExchangeRejectedError) as filled_error:
        exchange.cancel_order("BTCUSDT", filled.order_id)
    with pytest.raises(ExchangeRejectedError) as unknown_error:
        exchange.order_status("BTCUSDT", "no-such-order")

    assert filled_error.value.code == "EXCHANGE_ORDER_NOT_FOUND"
    assert unknown_error.value.code == "EXCHANGE_ORDER_NOT_FOUND"


@pytest.mark.parametrize(
    "request_",
    [
        buy("0"),
        buy("-1"),
        buy("1", order_type=OrderType.LIMIT),
        buy("1", symbol="NOTASYMBOL"),
    ],
)
def test_invalid_orders_are_rejected(request_):
    exchange = PaperExchange(FakeClock(), price_source=fixed_price("1"))

    with pytest.raises(ExchangeRejectedError) as error:
        exchange.place_order(request_)

    assert error.value.code == "EXCHANGE_ORDER_REJECTED"


def test_default_market_is_deterministic_and_moving_and_stamped_with_clock_now():
    clock = FakeClock()
    first = PaperExchange(clock)
    second = PaperExchange(clock)

    prices_a = [first.ticker("BTCUSDT").price for _ in range(20)]
    prices_b = [second.ticker("BTCUSDT").price for _ in range(20)]

    assert prices_a == prices_b
    assert len(set(prices_a)) > 10
    assert first.ticker("ETHUSDT").timestamp_utc == clock.now()
    assert first.server_time() == clock.now()


def test_latency_delays_each_call():
    exchange = PaperExchange(FakeClock(), price_source=fixed_price("1"), latency_ms=30)

    started = time.perf_counter()
    exchange.server_time()

    assert time.perf_counter() - started >= 0.03


def test_partial_fill_ratio_out_of_range_is_refused():
    with pytest.raises(ValueError):
        PaperExchange(FakeClock(), partial_fill_ratio=Decimal(0))


def test_concurrent_orders_keep_balances_consistent():
    exchange = PaperExchange(FakeClock(), price_source=fixed_price("2"))

    def worker(index: int) -> None:
        for n in range(50):
            exchange.place_order(buy("1", cid=f"w{index}-{n}"))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert balances(exchange)["BTC"] == Decimal(400)
    assert balances(exchange)["USDT"] == Decimal(100000) - Decimal(800)
    assert len({o.order_id for o in exchange.open_orders()}) == 0
