"""The simulator's Binance market-data routes, read by real ccxt over loopback HTTP."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tradeguard.exchange.simulator import ExchangeSimulator
from tradeguard.exchange.simulator.binance_market_data import interval_ms

ccxt = pytest.importorskip("ccxt")


@pytest.fixture
def public_binance(simulator: ExchangeSimulator) -> Iterator[Any]:
    exchange = ccxt.binance(
        {
            "enableRateLimit": False,
            "options": {
                "fetchMarkets": {"types": ["spot"]},
                "fetchCurrencies": False,
                "fetchMargins": False,
            },
        }
    )
    base = simulator.base_url
    exchange.urls["api"] = {k: base + urlsplit(v).path for k, v in exchange.urls["api"].items()}
    yield exchange


def test_klines_end_at_the_open_candle_on_interval_boundaries(
    simulator: ExchangeSimulator, public_binance: Any
) -> None:
    simulator.set_price("BTCUSDT", Decimal("43210.5"))
    before = int(time.time() * 1000)
    candles = public_binance.fetch_ohlcv("BTC/USDT", "5m", limit=12)
    after = int(time.time() * 1000)
    assert len(candles) == 12
    step = 5 * 60_000
    opens = [candle[0] for candle in candles]
    assert all(t % step == 0 for t in opens)
    assert all(b - a == step for a, b in itertools.pairwise(opens))
    assert before - before % step <= opens[-1] <= after
    assert {candle[4] for candle in candles} == {43210.5}
    assert all(candle[5] == 1 for candle in candles)


def test_klines_since_start_time_stop_at_now(
    simulator: ExchangeSimulator, public_binance: Any
) -> None:
    now = int(time.time() * 1000)
    since = now - 10 * 60_000 - 1234
    candles = public_binance.fetch_ohlcv("ETH/USDT", "1m", since=since, limit=500)
    assert candles[0][0] == since + (-since) % 60_000
    assert 10 <= len(candles) <= 12
    assert candles[-1][0] <= now + 60_000


def test_order_book_brackets_the_price_and_tickers_list_every_symbol(
    simulator: ExchangeSimulator, public_binance: Any
) -> None:
    simulator.set_price("BTCUSDT", Decimal("50000"))
    book = public_binance.fetch_order_book("BTC/USDT", limit=5)
    assert book["bids"][0][0] == 49999.99 and book["asks"][0][0] == 50000.01
    assert len(book["bids"]) == len(book["asks"]) == 5
    assert [bid[0] for bid in book["bids"]] == sorted(
        (bid[0] for bid in book["bids"]), reverse=True
    )
    tickers = public_binance.fetch_tickers()
    assert {"BTC/USDT", "ETH/USDT"} <= set(tickers)
    assert tickers["BTC/USDT"]["last"] == 50000.0


def test_bad_symbol_and_interval_get_binance_errors(simulator: ExchangeSimulator) -> None:
    base = simulator.base_url
    bad_symbol = httpx.get(f"{base}/api/v3/klines", params={"symbol": "NOPE", "interval": "1m"})
    assert bad_symbol.status_code == 400 and bad_symbol.json()["code"] == -1121
    bad_interval = httpx.get(
        f"{base}/api/v3/klines", params={"symbol": "BTCUSDT", "interval": "7x"}
    )
    assert bad_interval.status_code == 400 and bad_interval.json()["code"] == -1120
    prices = httpx.get(f"{base}/api/v3/ticker/price").json()
    assert {row["symbol"] for row in prices} >= {"BTCUSDT", "ETHUSDT"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1m", 60_000), ("4h", 14_400_000), ("1d", 86_400_000), ("0m", None), ("m", None), ("", None)],
)
def test_interval_lengths(text: str, expected: int | None) -> None:
    assert interval_ms(text) == expected
