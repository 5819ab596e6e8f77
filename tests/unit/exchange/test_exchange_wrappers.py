"""MonitoredExchange, create_exchange, the ccxt error table, faults parsing and the market."""

from __future__ import annotations

from decimal import Decimal

import ccxt
import pytest
from pydantic import SecretStr
from structlog.testing import capture_logs

from tradeguard.clock import FakeClock
from tradeguard.codes import ErrorCode
from tradeguard.errors import (
    ConfigurationError,
    ExchangeRejectedError,
    ExchangeUnavailableError,
    InvalidInputError,
)
from tradeguard.exchange import (
    CcxtExchange,
    DryRunExchange,
    MonitoredExchange,
    PaperExchange,
    SimulatedMarket,
    ValrExchange,
    create_exchange,
    split_symbol,
)
from tradeguard.exchange.ccxt_adapter import _translate, rewrite_api_urls
from tradeguard.exchange.simulator import FaultSpecError, SimulatorFaults
from tradeguard.policy import Side
from tradeguard.ports import OrderRequest, Ticker
from tradeguard.settings import load_settings


class FlakyExchange(PaperExchange):
    """A paper exchange whose ticker fails on demand."""

    def __init__(self, clock):
        super().__init__(clock, price_source=lambda s: Decimal(10))
        self.error: Exception | None = None

    def ticker(self, symbol):
        if self.error is not None:
            raise self.error
        return super().ticker(symbol)


def test_monitored_records_success_errors_calls_and_tickers():
    clock = FakeClock()
    inner = FlakyExchange(clock)
    calls: list[tuple[str, bool, float]] = []
    tickers: list[Ticker] = []
    monitored = MonitoredExchange(inner, clock, on_call=lambda *a: calls.append(a))
    monitored._on_ticker = tickers.append
    assert monitored.last_success_monotonic is None

    monitored.ticker("BTCUSDT")
    first_success = monitored.last_success_monotonic
    clock.advance(5)
    inner.error = ExchangeUnavailableError(ErrorCode.EXCHANGE_ERROR, "down")
    with pytest.raises(ExchangeUnavailableError):
        monitored.ticker("BTCUSDT")

    assert first_success == 1000.0
    assert monitored.last_success_monotonic == first_success
    assert monitored.last_error is inner.error
    assert monitored.last_error_monotonic == 1005.0
    assert [(name, ok) for name, ok, _ in calls] == [("ticker", True), ("ticker", False)]
    assert [t.symbol for t in tickers] == ["BTCUSDT"]
    assert monitored.name == "paper"


def test_monitored_counts_a_rejection_as_the_exchange_answering():
    clock = FakeClock()
    inner = FlakyExchange(clock)
    monitored = MonitoredExchange(inner, clock)
    inner.error = ExchangeRejectedError(ErrorCode.EXCHANGE_ORDER_REJECTED, "no")

    with pytest.raises(ExchangeRejectedError):
        monitored.ticker("BTCUSDT")

    assert monitored.last_success_monotonic == 1000.0


def test_monitored_delegates_every_port_method():
    clock = FakeClock()
    monitored = MonitoredExchange(PaperExchange(clock, price_source=lambda s: Decimal(5)), clock)

    state = monitored.place_order(OrderRequest("c", "BTCUSDT", Side.BUY, Decimal(1)))

    assert monitored.order_status("BTCUSDT", state.order_id).filled_quantity == 1
    assert monitored.open_orders() == []
    assert monitored.server_time() == clock.now()
    assert {b.currency for b in monitored.balances()} >= {"BTC", "USDT"}
    monitored.close()


def test_create_exchange_paper_uses_paper_settings():
    settings = load_settings(
        {}, paper_partial_fill_ratio=Decimal("0.5"), paper_quote_balance=Decimal(7)
    )

    exchange = create_exchange(settings, FakeClock())

    assert isinstance(exchange, PaperExchange)
    assert exchange.partial_fill_ratio == Decimal("0.5")
    assert {b.currency: b.total for b in exchange.balances()}["USDT"] == Decimal(7)


def test_create_exchange_dry_run_wraps_a_real_adapter_and_logs_isolation_once():
    settings = load_settings({}, exchange="valr", exchange_base_url="http://127.0.0.1:9")

    with capture_logs() as logs:
        exchange = create_exchange(settings, FakeClock())

    assert isinstance(exchange, DryRunExchange)
    assert exchange.name == "dry-run:valr"
    assert [entry["code"] for entry in logs if entry.get("code")] == ["DRY_RUN_ISOLATION"]


def test_create_exchange_live_returns_the_real_adapter_and_needs_credentials():
    live = {"execution_mode": "LIVE", "exchange": "valr", "operator_token": "t"}

    with pytest.raises(ConfigurationError):
        create_exchange(load_settings({}, **live), FakeClock())
    exchange = create_exchange(
        load_settings({}, exchange_api_key="k", exchange_api_secret="s", **live), FakeClock()
    )

    assert isinstance(exchange, ValrExchange)
    exchange.close()


def test_ccxt_unknown_exchange_id_is_a_configuration_error():
    with pytest.raises(ConfigurationError):
        CcxtExchange("no_such_exchange", api_key=None, api_secret=None, clock=FakeClock())


@pytest.mark.parametrize(
    ("exc", "kind", "code"),
    [
        (ccxt.RequestTimeout("t"), ExchangeUnavailableError, "EXCHANGE_ERROR"),
        (ccxt.ExchangeNotAvailable("x"), ExchangeUnavailableError, "EXCHANGE_ERROR"),
        (ccxt.NetworkError("x"), ExchangeUnavailableError, "EXCHANGE_ERROR"),
        (ccxt.DDoSProtection("x"), ExchangeUnavailableError, "EXCHANGE_ERROR"),
        (ccxt.BadResponse("x"), ExchangeUnavailableError, "EXCHANGE_BAD_RESPONSE"),
        (ccxt.NullResponse("x"), ExchangeUnavailableError, "EXCHANGE_BAD_RESPONSE"),
        (ccxt.AuthenticationError("x"), ExchangeUnavailableError, "EXCHANGE_AUTH_FAILED"),
        (ccxt.InvalidOrder("x"), ExchangeRejectedError, "EXCHANGE_ORDER_REJECTED"),
        (ccxt.InsufficientFunds("x"), ExchangeRejectedError, "EXCHANGE_ORDER_REJECTED"),
        (ccxt.BadSymbol("x"), ExchangeRejectedError, "EXCHANGE_ORDER_REJECTED"),
        (ccxt.OrderNotFound("x"), ExchangeRejectedError, "EXCHANGE_ORDER_NOT_FOUND"),
        (ccxt.BaseError("x"), ExchangeUnavailableError, "EXCHANGE_ERROR"),
    ],
)
def test_ccxt_exceptions_translate_to_our_hierarchy(exc, kind, code):
    translated = _translate(ccxt, exc, "call")

    assert isinstance(translated, kind)
    assert translated.code == code


def test_rewrite_api_urls_keeps_paths_and_swaps_host_everywhere():
    urls = {"public": "https://api.binance.com/api/v3", "nested": {"x": "https://a.b/sapi/v1"}}

    assert rewrite_api_urls(urls, "http://127.0.0.1:1/") == {
        "public": "http://127.0.0.1:1/api/v3",
        "nested": {"x": "http://127.0.0.1:1/sapi/v1"},
    }


def test_faults_round_trip_and_refuse_unknown_or_mistyped_keys():
    faults = SimulatorFaults.from_json({"partial_fill_ratio": "0.4", "latency_ms": 5})

    assert SimulatorFaults.from_json(faults.to_json()) == faults
    assert SimulatorFaults.from_json({}) == SimulatorFaults()
    for bad in (
        {"downn": True},
        {"down": "yes"},
        {"latency_ms": -1},
        {"partial_fill_ratio": "0"},
        {"partial_fill_ratio": "1.5"},
        {"partial_fill_remainder": "later"},
        {"ticker_frozen_seconds": "long"},
        [],
    ):
        with pytest.raises(FaultSpecError):
            SimulatorFaults.from_json(bad)


def test_split_symbol_and_market_walk():
    assert split_symbol("BTCUSDT") == ("BTC", "USDT")
    assert split_symbol("BTCZAR") == ("BTC", "ZAR")
    assert split_symbol("ETHBTC") == ("ETH", "BTC")
    with pytest.raises(InvalidInputError):
        split_symbol("USDT")
    market = SimulatedMarket(seed=1)
    assert market.last_price("BTCUSDT") == Decimal(50000)
    assert market.next_price("BTCUSDT") != market.next_price("BTCUSDT")
    assert SimulatedMarket(seed=1).next_price("X") == SimulatedMarket(seed=1).next_price("X")


def test_secret_settings_are_secretstr():
    settings = load_settings({}, exchange_api_key="k")
    assert isinstance(settings.exchange_api_key, SecretStr)
