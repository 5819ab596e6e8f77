"""The guarded ccxt exchange, in process, with real ccxt against the simulator's Binance subset.

The same guard over HTTP against `tradeguard run` is in tests/e2e/test_decide_e2e.py.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import ccxt
import ccxt.async_support as accxt
import httpx
import pytest
from fastapi.testclient import TestClient

from tests.service_support import LOOSE_ORDER_CONTROLS, bearer, make_settings
from tradeguard.api import create_app
from tradeguard.audit.records import AuditTable
from tradeguard.background import prime_sources
from tradeguard.bootstrap import Container, build_container
from tradeguard.exchange.simulator import ExchangeSimulator
from tradeguard.integrations.ccxt import TradeGuardRefused, guard

OPTIONS = {
    "defaultType": "spot",
    "fetchMarkets": {"types": ["spot"]},
    "fetchCurrencies": False,
    "fetchMargins": False,
    "adjustForTimeDifference": False,
}


def binance(simulator: ExchangeSimulator, module: Any = ccxt) -> Any:
    """ccxt's binance pointed at the simulator (reference/ccxt-binance-loopback.md)."""
    exchange = module.binance(
        {
            "apiKey": simulator.api_key,
            "secret": simulator.api_secret,
            "enableRateLimit": False,
            "options": dict(OPTIONS),
        }
    )
    base = simulator.base_url
    exchange.urls["api"] = {k: base + urlsplit(v).path for k, v in exchange.urls["api"].items()}
    return exchange


@pytest.fixture
def service() -> Iterator[tuple[Container, TestClient]]:
    container = build_container(
        make_settings(source_timeout_ms=5000, **LOOSE_ORDER_CONTROLS)
    )  # busy machines
    prime_sources(container)
    try:
        with TestClient(create_app(container), raise_server_exceptions=False) as client:
            yield container, client
    finally:
        container.close()


def sim_orders(simulator: ExchangeSimulator) -> list[dict[str, Any]]:
    response = httpx.get(simulator.base_url + "/_sim/orders", timeout=5)
    response.raise_for_status()
    return list(response.json())


def engage_kill_switch(client: TestClient) -> None:
    response = client.post(
        "/v1/kill-switch",
        json={"active": True, "operator_id": "ops", "reason": "guard test"},
        headers=bearer(),
    )
    assert response.status_code == 200, response.text


def order_events(container: Container) -> list[str]:
    return [row["event"] for row in container.audit_store.rows(AuditTable.ORDER)]


def test_the_guarded_exchange_is_the_exchange(simulator, service):
    container, _ = service
    raw = binance(simulator)
    guarded = guard(raw, container=container)
    assert isinstance(guarded, ccxt.binance) and isinstance(guarded, ccxt.Exchange)
    assert guarded.id == "binance" and guarded.urls is raw.urls
    guarded.load_markets()
    assert raw.markets is guarded.markets and "BTC/USDT" in guarded.markets
    assert guarded.fetch_ticker("BTC/USDT")["last"] > 0
    assert type(guarded).createOrder is type(guarded).create_order
    assert type(guarded).editOrder is type(guarded).edit_order


def test_an_allowed_order_lands_and_is_reported(simulator, service):
    container, _ = service
    guarded = guard(binance(simulator), container=container, strategy="demo")
    order = guarded.create_market_buy_order("BTC/USDT", 0.001)
    landed = sim_orders(simulator)
    assert [(o["symbol"], o["side"], o["quantity"]) for o in landed] == [
        ("BTCUSDT", "BUY", "0.001")
    ]
    assert order["status"] == "closed" and order["filled"] == 0.001
    # Decision first (signal + decision rows), then the bot's report of the fill.
    (signal,) = container.audit_store.rows(AuditTable.SIGNAL)
    assert signal["payload"]["strategy"] == "demo"
    assert signal["payload"]["source"] == "ccxt:binance"
    assert order_events(container) == ["FILLED"]
    assert container.execution.positions.position("BTCUSDT") == Decimal("0.001")
    assert container.execution.positions.reserved("BTCUSDT") == (0, 0)
    assert container.decider.outstanding() == 0


def test_a_refused_order_raises_and_nothing_lands(simulator, service):
    container, client = service
    guarded = guard(binance(simulator), container=container)
    guarded.create_order("BTC/USDT", "market", "buy", 0.001)
    engage_kill_switch(client)
    with pytest.raises(TradeGuardRefused) as refused:
        guarded.createOrder("BTC/USDT", "market", "buy", 0.001)  # the camelCase alias too
    assert isinstance(refused.value, ccxt.InvalidOrder)
    assert refused.value.code == "HALT_KILL_SWITCH" and refused.value.decision == "HALT"
    with pytest.raises(TradeGuardRefused):
        guarded.create_limit_sell_order("BTC/USDT", 0.001, 60000)
    assert len(sim_orders(simulator)) == 1
    # cancel_order always passes: the kill switch does not stop a cancel.
    assert guarded.fetch_balance()["BTC"]["total"] > 0


def test_a_resting_order_holds_until_its_cancel_is_reported(simulator, service):
    container, _ = service
    guarded = guard(binance(simulator), container=container)
    order = guarded.create_limit_buy_order("BTC/USDT", 0.002, 1000)
    assert order["status"] == "open"
    positions = container.execution.positions
    assert positions.reserved("BTCUSDT") == (Decimal("0.002"), 0)
    cancelled = guarded.cancel_order(order["id"], "BTC/USDT")
    assert cancelled["status"] == "canceled"
    assert positions.reserved("BTCUSDT") == (0, 0)
    assert order_events(container) == ["SUBMITTED", "CANCELLED"]
    assert container.decider.outstanding() == 0


def test_intents_come_from_params_and_are_not_sent_to_the_exchange(simulator, service):
    container, _ = service
    guarded = guard(binance(simulator), container=container)
    guarded.create_market_buy_order("BTC/USDT", 0.002)
    guarded.create_order("BTC/USDT", "market", "sell", 0.001, params={"tradeguard_intent": "close"})
    with pytest.raises(TradeGuardRefused) as flipped:  # a REDUCE that would flip the position
        guarded.create_order("BTC/USDT", "market", "sell", 0.005, params={"reduceOnly": True})
    assert flipped.value.code == "ORDER_WOULD_INCREASE_RISK"
    intents = [r["payload"]["intent"] for r in container.audit_store.rows(AuditTable.SIGNAL)]
    assert intents == ["OPEN", "CLOSE", "REDUCE"]
    assert all(o["intent"] is None for o in sim_orders(simulator))
    assert container.execution.positions.position("BTCUSDT") == Decimal("0.001")


def test_orders_sized_in_quote_currency_are_refused(simulator, service):
    container, _ = service
    guarded = guard(binance(simulator), container=container)
    with pytest.raises(TradeGuardRefused) as refused:
        guarded.create_market_buy_order_with_cost("BTC/USDT", 50)
    assert refused.value.code == "INPUT_INVALID_VALUE"
    assert sim_orders(simulator) == []


def test_an_unreachable_decide_api_refuses(simulator):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    guarded = guard(binance(simulator), url=f"http://127.0.0.1:{port}", secret="s", timeout=0.5)
    with pytest.raises(TradeGuardRefused) as refused:
        guarded.create_market_buy_order("BTC/USDT", 0.001)
    assert refused.value.code == "SERVICE_UNREACHABLE" and refused.value.decision is None
    assert sim_orders(simulator) == []


def test_the_async_exchange_is_guarded_alike(simulator, service):
    container, client = service

    async def scenario() -> tuple[Any, Any]:
        guarded = guard(binance(simulator, accxt), container=container)
        try:
            assert isinstance(guarded, accxt.binance)
            order = await guarded.create_market_buy_order("BTC/USDT", 0.001)
            resting = await guarded.create_limit_buy_order("BTC/USDT", 0.001, 1000)
            await guarded.cancel_order(resting["id"], "BTC/USDT")
            engage_kill_switch(client)
            with pytest.raises(TradeGuardRefused) as refused:
                await guarded.create_market_buy_order("BTC/USDT", 0.001)
            return order, refused.value
        finally:
            await guarded.close()

    order, refused = asyncio.run(scenario())
    assert order["status"] == "closed"
    assert refused.code == "HALT_KILL_SWITCH"
    assert len(sim_orders(simulator)) == 2
    assert order_events(container) == ["FILLED", "SUBMITTED", "CANCELLED", "REFUSED"]
    assert container.execution.positions.position("BTCUSDT") == Decimal("0.001")
    assert container.execution.positions.reserved("BTCUSDT") == (0, 0)


def test_edit_order_goes_through_the_gate_and_a_refused_exchange_call_frees_its_permit(
    simulator, service
):
    container, client = service
    guarded = guard(binance(simulator), container=container)
    resting = guarded.create_limit_buy_order("BTC/USDT", 0.001, 1000)
    # The simulator has no cancel-replace endpoint: the exchange refuses the edit, and the
    # edit's permit is reported REJECTED at once instead of waiting for its expiry.
    with pytest.raises(ccxt.BaseError) as failed:
        guarded.edit_order(resting["id"], "BTC/USDT", "limit", "buy", 0.001, 1100)
    assert not isinstance(failed.value, TradeGuardRefused)
    assert container.decider.outstanding() == 1  # only the resting order's permit
    engage_kill_switch(client)
    with pytest.raises(TradeGuardRefused) as refused:
        guarded.edit_order(resting["id"], "BTC/USDT", "limit", "buy", 0.001, 1100)
    assert refused.value.code == "HALT_KILL_SWITCH"
    assert len(sim_orders(simulator)) == 1
