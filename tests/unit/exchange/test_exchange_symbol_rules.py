"""Each adapter's ``symbol_rules``: VALR's pair list and ccxt's markets read strictly; the
wrappers pass the rules through; the cache reads them once and fails closed."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from tradeguard.clock import FakeClock
from tradeguard.codes import ErrorCode
from tradeguard.errors import ExchangeRejectedError, ExchangeUnavailableError, InvalidInputError
from tradeguard.exchange import DryRunExchange, MonitoredExchange, PaperExchange, ValrExchange
from tradeguard.exchange.paper import paper_rules
from tradeguard.execution import SymbolRulesCache
from tradeguard.ports import SymbolRules

D = Decimal
PAIR = {
    "symbol": "BTCZAR",
    "baseCurrency": "BTC",
    "quoteCurrency": "ZAR",
    "shortName": "BTC/ZAR",
    "active": True,
    "minBaseAmount": "0.0001",
    "maxBaseAmount": "2",
    "minQuoteAmount": "10",
    "maxQuoteAmount": "5000000",
    "tickSize": "1",
    "baseDecimalPlaces": "8",
}


def valr_answering(pairs: Any) -> ValrExchange:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/public/pairs"
        assert "X-VALR-API-KEY" not in request.headers  # a public route
        return httpx.Response(200, content=json.dumps(pairs).encode())

    return ValrExchange(
        "https://valr.test",
        SecretStr("k"),
        SecretStr("s"),
        FakeClock(),
        transport=httpx.MockTransport(handler),
    )


def test_valr_rules_come_from_the_pair_list():
    rules = valr_answering([PAIR]).symbol_rules("BTCZAR")
    assert rules == SymbolRules("BTCZAR", D("0.00000001"), D("0.0001"), D(10), D(1))


@pytest.mark.parametrize(
    "broken",
    [
        {"baseDecimalPlaces": "eight"},
        {"baseDecimalPlaces": True},
        {"tickSize": "0"},
        {"tickSize": None},
        {"minBaseAmount": "-1"},
        {"minQuoteAmount": "NaN"},
    ],
)
def test_valr_rules_that_make_no_sense_are_a_bad_response(broken):
    with pytest.raises(ExchangeUnavailableError) as caught:
        valr_answering([{**PAIR, **broken}]).symbol_rules("BTCZAR")
    assert caught.value.code == ErrorCode.EXCHANGE_BAD_RESPONSE


def test_valr_refuses_a_pair_it_does_not_list_or_lists_inactive():
    with pytest.raises(ExchangeRejectedError):
        valr_answering([PAIR]).symbol_rules("ETHZAR")
    with pytest.raises(ExchangeRejectedError):
        valr_answering([{**PAIR, "active": False}]).symbol_rules("BTCZAR")
    with pytest.raises(ExchangeUnavailableError):
        valr_answering({"not": "a list"}).symbol_rules("BTCZAR")


def test_paper_rules_are_configurable_with_sensible_defaults():
    custom = SymbolRules("BTCUSDT", D("0.001"), D("0.001"), D(5), D("0.1"))
    paper = PaperExchange(FakeClock(), symbol_rules={"BTCUSDT": custom})
    assert paper.symbol_rules("BTCUSDT") == custom
    assert paper.symbol_rules("ETHUSDT") == paper_rules("ETHUSDT")
    assert paper_rules("X").quantity_step == D("0.00000001")


def test_wrappers_pass_the_rules_through_and_dry_run_reads_the_real_ones():
    clock = FakeClock()
    real = valr_answering([PAIR])
    calls: list[tuple[str, bool]] = []
    monitored = MonitoredExchange(real, clock, on_call=lambda m, ok, _s: calls.append((m, ok)))
    assert monitored.symbol_rules("BTCZAR").price_tick == D(1)
    assert calls == [("symbol_rules", True)]
    assert DryRunExchange(real, clock).symbol_rules("BTCZAR").min_notional == D(10)


@pytest.mark.parametrize(
    "fields",
    [
        {"quantity_step": D(0)},
        {"price_tick": D(-1)},
        {"min_quantity": D(-1)},
        {"min_notional": D("Infinity")},
    ],
)
def test_symbol_rules_refuse_nonsense_naming_the_field(fields):
    values = {
        "quantity_step": D("0.1"),
        "min_quantity": D(0),
        "min_notional": D(0),
        "price_tick": D("0.1"),
        **fields,
    }
    with pytest.raises(InvalidInputError) as caught:
        SymbolRules("BTCUSDT", **values)
    assert caught.value.field == next(iter(fields))


# --- the cache -------------------------------------------------------------------------------


class CountingExchange:
    def __init__(self) -> None:
        self.calls = 0
        self.fail = False

    def symbol_rules(self, symbol: str) -> SymbolRules:
        self.calls += 1
        if self.fail:
            raise ExchangeUnavailableError("EXCHANGE_ERROR", "down")
        return paper_rules(symbol)


def test_the_cache_reads_each_symbols_rules_once():
    exchange = CountingExchange()
    cache = SymbolRulesCache(exchange, FakeClock())  # type: ignore[arg-type]
    assert cache("BTCUSDT") == cache("BTCUSDT") == paper_rules("BTCUSDT")
    exchange.fail = True
    assert cache("BTCUSDT") == paper_rules("BTCUSDT")  # kept: not read again
    assert exchange.calls == 1


def test_unreadable_rules_are_none_and_asked_again_only_after_the_retry_interval():
    clock = FakeClock()
    exchange = CountingExchange()
    exchange.fail = True
    cache = SymbolRulesCache(exchange, clock, retry_seconds=1.0)  # type: ignore[arg-type]
    assert cache.warm(["BTCUSDT"]) == {"BTCUSDT": None}
    assert cache("BTCUSDT") is None and exchange.calls == 1
    exchange.fail = False
    clock.advance(1.0)
    assert cache("BTCUSDT") == paper_rules("BTCUSDT") and exchange.calls == 2
    assert cache.known() == {"BTCUSDT": paper_rules("BTCUSDT")}


def test_rules_of_another_symbol_are_refused_as_unreadable():
    class Wrong(CountingExchange):
        def symbol_rules(self, symbol: str) -> SymbolRules:
            return paper_rules("SOMETHINGELSE")

    assert SymbolRulesCache(Wrong(), FakeClock())("BTCUSDT") is None  # type: ignore[arg-type]


# --- ccxt's markets --------------------------------------------------------------------------


def _ccxt_with(market: dict[str, Any], mode: int):
    pytest.importorskip("ccxt")
    from tradeguard.exchange import CcxtExchange

    exchange = CcxtExchange("binance", api_key=None, api_secret=None, clock=FakeClock())
    inner = exchange._exchange
    inner.markets = {
        "BTC/USDT": {
            "id": "BTCUSDT",
            "base": "BTC",
            "quote": "USDT",
            "spot": True,
            "symbol": "BTC/USDT",
            **market,
        }
    }
    inner.markets_by_id = {"BTCUSDT": [inner.markets["BTC/USDT"]]}
    inner.symbols = ["BTC/USDT"]
    inner.load_markets = lambda *a, **k: inner.markets
    inner.precisionMode = mode
    return exchange


def test_ccxt_rules_from_tick_size_precision_and_limits():
    import ccxt

    exchange = _ccxt_with(
        {
            "precision": {"amount": 1e-05, "price": 0.01},
            "limits": {"amount": {"min": 1e-05}, "cost": {"min": 5.0}},
        },
        ccxt.TICK_SIZE,
    )
    assert exchange.symbol_rules("BTCUSDT") == SymbolRules(
        "BTCUSDT", D("0.00001"), D("0.00001"), D(5), D("0.01")
    )


def test_ccxt_rules_from_decimal_places_and_no_minimums():
    import ccxt

    exchange = _ccxt_with(
        {"precision": {"amount": 6, "price": 2}, "limits": {}}, ccxt.DECIMAL_PLACES
    )
    assert exchange.symbol_rules("BTCUSDT") == SymbolRules(
        "BTCUSDT", D("0.000001"), D(0), D(0), D("0.01")
    )


def test_ccxt_rules_in_significant_digits_or_missing_are_unreadable():
    import ccxt

    digits = _ccxt_with({"precision": {"amount": 4, "price": 5}}, ccxt.SIGNIFICANT_DIGITS)
    missing = _ccxt_with({"precision": {}}, ccxt.TICK_SIZE)
    for exchange in (digits, missing):
        with pytest.raises(ExchangeUnavailableError) as caught:
            exchange.symbol_rules("BTCUSDT")
        assert caught.value.code == ErrorCode.EXCHANGE_BAD_RESPONSE
