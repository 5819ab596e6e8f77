"""The ccxt guard's wiring, with a fake ccxt exchange and a recording decider (no HTTP)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import ccxt
import ccxt.async_support as accxt
import pytest

from tradeguard.execution.decisions import DecideAnswer, OrderReport, ReportAnswer
from tradeguard.integrations.ccxt import TradeGuardRefused, guard

MARKET = {
    "id": "BTCUSDT",
    "symbol": "BTC/USDT",
    "base": "BTC",
    "quote": "USDT",
    "baseId": "BTC",
    "quoteId": "USDT",
    "active": True,
    "type": "spot",
    "spot": True,
    "precision": {"amount": 0.001, "price": 0.01},
    "limits": {},
}


class FakeExchange(ccxt.Exchange):
    id = "fake"

    def __init__(self) -> None:
        super().__init__()
        self.set_markets([MARKET])
        self.placed: list[tuple[Any, ...]] = []
        self.fail_with: Exception | None = None

    def load_markets(self, reload: bool = False, params: Any = None) -> Any:
        return self.markets

    def create_order(self, symbol, type, side, amount, price=None, params={}):  # noqa: B006
        if self.fail_with is not None:
            raise self.fail_with
        self.placed.append((symbol, type, side, amount, price, dict(params)))
        number = str(len(self.placed))
        status = "open" if type == "limit" else "closed"
        return {"id": number, "status": status, "filled": 0 if status == "open" else amount}

    def create_orders(self, orders, params={}):  # noqa: B006
        return [self.create_order(**o) for o in orders]

    def fetch_order(self, id, symbol=None, params={}):  # noqa: B006
        return {"id": id, "status": "closed", "filled": 0.002, "average": 100.0}


class AsyncFake(accxt.Exchange):
    id = "afake"

    def __init__(self) -> None:
        super().__init__()
        self.set_markets([MARKET])
        self.placed: list[Any] = []

    async def load_markets(self, reload: bool = False, params: Any = None) -> Any:
        return self.markets

    async def create_order(self, symbol, type, side, amount, price=None, params={}):  # noqa: B006
        self.placed.append((symbol, side, amount))
        return {"id": str(len(self.placed)), "status": "closed", "filled": amount}


class Recorder:
    """A decider that permits what ``allow`` says and records every call."""

    def __init__(self, allow: Any = lambda body: True) -> None:
        self.allow = allow
        self.decided: list[dict[str, Any]] = []
        self.reports: list[tuple[str, OrderReport]] = []

    def decide(self, signal: Mapping[str, Any]) -> DecideAnswer:
        self.decided.append(dict(signal))
        permitted = bool(self.allow(signal))
        permit = f"p{len(self.decided)}" if permitted else None
        return DecideAnswer(
            signal_id=str(signal["signal_id"]),
            correlation_id=f"c{len(self.decided)}",
            decision="ALLOW" if permitted else "HALT",
            reason_code="ALLOW_ALL_GATES_PASSED" if permitted else "HALT_KILL_SWITCH",
            blocking_gate=None,
            precedence_rank=None,
            is_latched=False,
            codes=(),
            permitted=permitted,
            refusal_code=None if permitted else "HALT_KILL_SWITCH",
            permit_id=permit,
            expires_at=datetime.now(UTC) if permitted else None,
        )

    def report(self, permit_id: str, report: OrderReport) -> ReportAnswer:
        self.reports.append((permit_id, report))
        return ReportAnswer(
            permit_id,
            permit_id,
            report.status.value,
            report.filled_quantity,
            report.filled_quantity,
            open=not report.status.is_terminal,
        )


def test_every_create_helper_goes_through_the_gate_once():
    exchange, decider = FakeExchange(), Recorder()
    guarded = guard(exchange, decider=decider)
    guarded.create_limit_buy_order("BTC/USDT", 0.0012345, 100.123)
    guarded.createMarketSellOrder("BTC/USDT", 0.001)
    guarded.create_order("BTC/USDT", "market", "buy", 0.001, None, {"tradeguard_intent": "close"})
    assert [(d["side"], d["intent"], d["order_type"]) for d in decider.decided] == [
        ("BUY", "OPEN", "LIMIT"),
        ("SELL", "OPEN", "MARKET"),
        ("BUY", "CLOSE", "MARKET"),
    ]
    first = decider.decided[0]
    assert (first["symbol"], first["quantity"], first["price"]) == ("BTCUSDT", "0.001", "100.12")
    assert first["source"] == "ccxt:fake" and first["signal_id"].startswith("ccxt-")
    assert all("tradeguard_intent" not in placed[5] for placed in exchange.placed)
    assert [r.status.value for _, r in decider.reports] == ["NEW", "FILLED", "FILLED"]


def test_a_refused_batch_places_nothing_and_frees_the_permits_it_had():
    exchange = FakeExchange()
    decider = Recorder(allow=lambda body: body["side"] == "BUY")
    guarded = guard(exchange, decider=decider)
    orders = [
        {"symbol": "BTC/USDT", "type": "market", "side": "buy", "amount": 0.001},
        {"symbol": "BTC/USDT", "type": "market", "side": "sell", "amount": 0.001},
    ]
    with pytest.raises(TradeGuardRefused) as refused:
        guarded.create_orders(orders)
    assert refused.value.code == "HALT_KILL_SWITCH"
    assert exchange.placed == []
    assert [(p, r.status.value) for p, r in decider.reports] == [("p1", "REJECTED")]


def test_an_exchange_refusal_is_reported_rejected_and_a_network_error_is_not():
    exchange, decider = FakeExchange(), Recorder()
    guarded = guard(exchange, decider=decider)
    exchange.fail_with = ccxt.InsufficientFunds("no money")
    with pytest.raises(ccxt.InsufficientFunds):
        guarded.create_market_buy_order("BTC/USDT", 0.001)
    exchange.fail_with = ccxt.RequestTimeout("slow")
    with pytest.raises(ccxt.RequestTimeout):
        guarded.create_market_buy_order("BTC/USDT", 0.001)
    # Unknown whether the timed-out order went out: no report, its permit expires instead.
    assert [(p, r.status.value, r.exchange_order_id) for p, r in decider.reports] == [
        ("p1", "REJECTED", "NOT_PLACED")
    ]


def test_a_resting_order_is_reported_again_when_fetched():
    exchange, decider = FakeExchange(), Recorder()
    guarded = guard(exchange, decider=decider)
    order = guarded.create_limit_buy_order("BTC/USDT", 0.002, 100)
    guarded.fetch_order(order["id"], "BTC/USDT")
    guarded.fetchOrder(order["id"], "BTC/USDT")  # closed now: not tracked any more
    assert [(r.status.value, r.filled_quantity, r.average_price) for _, r in decider.reports] == [
        ("NEW", Decimal(0), None),
        ("FILLED", Decimal("0.002"), Decimal("100.0")),
    ]


def test_a_decider_that_raises_is_a_refusal():
    class Broken(Recorder):
        def decide(self, signal: Mapping[str, Any]) -> DecideAnswer:
            raise RuntimeError("boom")

    exchange = FakeExchange()
    with pytest.raises(TradeGuardRefused) as refused:
        guard(exchange, decider=Broken()).create_market_buy_order("BTC/USDT", 0.001)
    assert refused.value.code == "SERVICE_UNREACHABLE" and exchange.placed == []


def test_unguarded_websocket_order_calls_are_refused_and_guard_checks_its_arguments():
    guarded = guard(FakeExchange(), decider=Recorder())
    with pytest.raises(TradeGuardRefused):
        guarded.create_order_ws("BTC/USDT", "market", "buy", 0.001)
    with pytest.raises(TradeGuardRefused):
        guarded.create_order("BTC/USDT", "market", "buy", 1, None, {"tradeguard_intent": "YOLO"})
    with pytest.raises(ValueError):
        guard(FakeExchange(), decider=Recorder(), url="http://x")
    with pytest.raises(TypeError):
        guard(object(), decider=Recorder())


def test_the_async_guard_awaits_and_guards():
    exchange = AsyncFake()
    decider = Recorder(allow=lambda body: body["side"] == "BUY")

    async def run() -> None:
        guarded = guard(exchange, decider=decider)
        assert isinstance(guarded, accxt.Exchange)
        await guarded.create_market_buy_order("BTC/USDT", 0.001)
        with pytest.raises(TradeGuardRefused):
            await guarded.createOrder("BTC/USDT", "market", "sell", 0.001)
        await guarded.close()

    asyncio.run(run())
    assert exchange.placed == [("BTC/USDT", "buy", 0.001)]
    assert [r.status.value for _, r in decider.reports] == ["FILLED"]


def test_closing_the_exchange_closes_the_client_the_guard_made():
    guarded = guard(FakeExchange(), url="http://127.0.0.1:9", secret="s")
    client = guarded._tradeguard.owned
    assert not client._http.is_closed
    guarded.close()
    assert client._http.is_closed
    shared = Recorder()
    guard(FakeExchange(), decider=shared).close()  # a decider it was given stays open
    assert guard(FakeExchange(), decider=shared)._tradeguard.owned is None
