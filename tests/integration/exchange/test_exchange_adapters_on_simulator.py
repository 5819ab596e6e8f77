"""The valr and ccxt (binance) adapters over real loopback HTTP against the simulator."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import SecretStr

from tradeguard.clock import SystemClock
from tradeguard.errors import ExchangeRejectedError, ExchangeUnavailableError
from tradeguard.exchange import ValrExchange
from tradeguard.policy import Side
from tradeguard.ports import OrderRequest, OrderStatus, OrderType

ADAPTERS = ["valr", "binance"]


@pytest.fixture(params=ADAPTERS)
def exchange(request):
    return request.getfixturevalue(request.param)


def market_buy(quantity: str = "0.01", cid: str = "tg-1", **kwargs) -> OrderRequest:
    return OrderRequest(cid, "BTCUSDT", Side.BUY, Decimal(quantity), **kwargs)


def test_server_time_is_the_exchange_clock(exchange):
    now = datetime.now(UTC)

    assert abs(exchange.server_time() - now) < timedelta(seconds=2)


def test_ticker_has_a_positive_price_and_a_fresh_timestamp(exchange):
    ticker = exchange.ticker("BTCUSDT")

    assert ticker.symbol == "BTCUSDT"
    assert ticker.price > 0
    assert abs(ticker.timestamp_utc - datetime.now(UTC)) < timedelta(seconds=2)


def test_market_order_fills_and_status_agrees(exchange, simulator):
    placed = exchange.place_order(market_buy(intent="OPEN"))

    status = exchange.order_status("BTCUSDT", placed.order_id)

    assert placed.status is OrderStatus.FILLED
    assert placed.filled_quantity == Decimal("0.01")
    assert status.status is OrderStatus.FILLED
    assert status.average_price is not None and status.average_price > 0
    assert status.client_order_id == "tg-1"
    [accepted] = simulator.accepted_orders()
    assert (accepted.symbol, accepted.side, accepted.quantity) == (
        "BTCUSDT",
        "BUY",
        Decimal("0.01"),
    )
    assert accepted.client_order_id == "tg-1"


def test_resting_limit_order_is_listed_then_cancelled(exchange):
    limit = market_buy(cid="tg-lim", order_type=OrderType.LIMIT, price=Decimal("100"))

    placed = exchange.place_order(limit)
    listed = exchange.open_orders("BTCUSDT")
    cancelled = exchange.cancel_order("BTCUSDT", placed.order_id)

    assert placed.status is OrderStatus.NEW
    assert [o.order_id for o in listed] == [placed.order_id]
    assert listed[0].symbol == "BTCUSDT"
    assert cancelled.status is OrderStatus.CANCELLED
    assert exchange.open_orders() == []


def test_cancelling_a_filled_order_is_not_found(exchange):
    placed = exchange.place_order(market_buy())

    with pytest.raises(ExchangeRejectedError) as error:
        exchange.cancel_order("BTCUSDT", placed.order_id)

    assert error.value.code == "EXCHANGE_ORDER_NOT_FOUND"


def test_balances_follow_fills(exchange):
    before = {b.currency: b.total for b in exchange.balances()}

    exchange.place_order(market_buy("0.5"))
    after = {b.currency: b.total for b in exchange.balances()}

    assert after["BTC"] == before["BTC"] + Decimal("0.5")
    assert after["USDT"] < before["USDT"]


def test_unknown_symbol_is_rejected(exchange):
    with pytest.raises(ExchangeRejectedError):
        exchange.place_order(OrderRequest("tg-x", "DOGEUSDT", Side.BUY, Decimal(1)))


def test_valr_intent_header_is_recorded_by_the_simulator(valr, simulator):
    valr.place_order(market_buy(intent="CLOSE"))

    assert simulator.accepted_orders()[0].intent == "CLOSE"


def test_valr_wrong_secret_is_refused_with_401(simulator):
    impostor = ValrExchange(
        simulator.base_url, SecretStr(simulator.api_key), SecretStr("wrong"), SystemClock()
    )

    with pytest.raises(ExchangeUnavailableError) as error:
        impostor.balances()

    assert error.value.code == "EXCHANGE_AUTH_FAILED"
    assert impostor.ticker("BTCZAR").price > 0  # public routes need no signature
    impostor.close()


# --- faults, observed through both adapters ---------------------------------------------------


def test_down_makes_calls_fail_quickly_and_recovery_restores_them(exchange, simulator):
    exchange.server_time()
    simulator.set_faults(down=True)

    started = time.perf_counter()
    with pytest.raises(ExchangeUnavailableError) as error:
        exchange.ticker("BTCUSDT")
    elapsed = time.perf_counter() - started
    simulator.clear_faults()

    assert error.value.code == "EXCHANGE_ERROR"
    assert elapsed < 1.0
    assert exchange.ticker("BTCUSDT").price > 0


def test_clock_skew_shifts_server_time(exchange, simulator):
    simulator.set_faults(clock_skew_ms=2500)

    drift = exchange.server_time() - datetime.now(UTC)

    assert timedelta(milliseconds=2000) < drift < timedelta(milliseconds=3500)


def test_partial_fill_is_reported_then_completes_on_a_later_poll(exchange, simulator):
    simulator.set_faults(partial_fill_ratio="0.4")

    placed = exchange.place_order(market_buy("1"))
    later = exchange.order_status("BTCUSDT", placed.order_id)

    assert placed.status is OrderStatus.PARTIALLY_FILLED
    assert placed.filled_quantity == Decimal("0.4")
    assert later.status is OrderStatus.FILLED
    assert later.filled_quantity == Decimal(1)


def test_partial_fill_with_cancelled_remainder_ends_cancelled(exchange, simulator):
    simulator.set_faults(partial_fill_ratio="0.4", partial_fill_remainder="cancel")

    placed = exchange.place_order(market_buy("1"))
    later = exchange.order_status("BTCUSDT", placed.order_id)

    assert later.status is OrderStatus.CANCELLED
    assert later.filled_quantity == Decimal("0.4")


def test_frozen_ticker_timestamps_are_that_far_in_the_past(exchange, simulator):
    simulator.set_faults(ticker_frozen_seconds=7200)

    first = exchange.ticker("BTCUSDT")
    second = exchange.ticker("BTCUSDT")

    age = datetime.now(UTC) - first.timestamp_utc
    assert timedelta(hours=2) - timedelta(seconds=2) < age < timedelta(hours=2, seconds=2)
    assert second.timestamp_utc == first.timestamp_utc
    assert second.price == first.price


def test_reject_orders_raises_rejected_and_nothing_is_accepted(exchange, simulator):
    simulator.set_faults(reject_orders=True)

    with pytest.raises(ExchangeRejectedError) as error:
        exchange.place_order(market_buy())

    assert error.value.code == "EXCHANGE_ORDER_REJECTED"
    assert simulator.accepted_orders() == []


def test_latency_delays_answers(exchange, simulator):
    exchange.server_time()
    simulator.set_faults(latency_ms=150)

    started = time.perf_counter()
    exchange.server_time()

    assert time.perf_counter() - started >= 0.15
