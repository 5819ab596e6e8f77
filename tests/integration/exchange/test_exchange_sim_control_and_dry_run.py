"""The simulator's /_sim/ control surface, DRY_RUN isolation and the exchange-sim command."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from decimal import Decimal

import httpx
import pytest

from tradeguard.clock import SystemClock
from tradeguard.exchange import DryRunExchange, create_exchange
from tradeguard.exchange.simulator import ExchangeSimulator
from tradeguard.policy import Side, parse_utc
from tradeguard.ports import OrderRequest, OrderStatus, OrderType
from tradeguard.settings import load_settings


def test_sim_faults_are_set_shown_and_cleared_over_http(simulator):
    with httpx.Client(base_url=simulator.base_url) as client:
        set_answer = client.post("/_sim/faults", json={"clock_skew_ms": 2500, "down": True})
        shown = client.get("/_sim/faults").json()
        client.post("/_sim/faults", json={})
        cleared = client.get("/_sim/faults").json()

    assert set_answer.status_code == 200
    assert shown["clock_skew_ms"] == 2500 and shown["down"] is True
    assert cleared["down"] is False and cleared["clock_skew_ms"] == 0
    assert cleared["partial_fill_ratio"] is None


def test_sim_faults_refuse_invalid_json_with_400(simulator):
    with httpx.Client(base_url=simulator.base_url) as client:
        unknown = client.post("/_sim/faults", json={"explode": True})
        garbage = client.post("/_sim/faults", content=b"{not json")

    assert unknown.status_code == 400 and "explode" in unknown.json()["message"]
    assert garbage.status_code == 400
    assert simulator.faults.down is False


def test_down_stops_the_trading_api_but_sim_keeps_answering(simulator):
    simulator.set_faults(down=True)

    with httpx.Client(base_url=simulator.base_url) as client:
        with pytest.raises(httpx.TransportError):
            client.get("/v1/public/time")
        with pytest.raises(httpx.TransportError):
            client.get("/api/v3/time")
        assert client.get("/_sim/health").json() == {"ok": True}
        assert client.get("/_sim/faults").json()["down"] is True


def test_sim_orders_lists_accepted_orders_with_arrival_time_and_details(simulator, valr):
    valr.place_order(
        OrderRequest("tg-corr-1", "ETHUSDT", Side.SELL, Decimal("0.25"), intent="REDUCE")
    )

    with httpx.Client(base_url=simulator.base_url) as client:
        [order] = client.get("/_sim/orders").json()
        client.delete("/_sim/orders")
        after_clear = client.get("/_sim/orders").json()

    assert order["symbol"] == "ETHUSDT"
    assert order["side"] == "SELL"
    assert order["quantity"] == "0.25"
    assert order["client_order_id"] == "tg-corr-1"
    assert order["intent"] == "REDUCE"
    assert order["arrived_at"].endswith("Z") and len(order["arrived_at"]) == 27
    parse_utc(order["arrived_at"])
    assert after_clear == []


def test_simulator_stop_closes_keep_alive_connections_and_the_port():
    simulator = ExchangeSimulator()
    base_url = simulator.start()
    client = httpx.Client(base_url=base_url, timeout=1)
    assert client.get("/_sim/health").status_code == 200

    simulator.stop()

    with pytest.raises(httpx.TransportError):
        client.get("/_sim/health")
    client.close()
    simulator.stop()  # idempotent


@pytest.mark.parametrize("exchange_name", ["valr", "ccxt:binance"])
def test_dry_run_orders_never_reach_the_exchange_but_reads_do(simulator, exchange_name):
    settings = load_settings(
        {},
        execution_mode="DRY_RUN",
        exchange=exchange_name,
        exchange_base_url=simulator.base_url,
        exchange_api_key=simulator.api_key,
        exchange_api_secret=simulator.api_secret,
    )
    exchange = create_exchange(settings, SystemClock())
    assert isinstance(exchange, DryRunExchange)

    ticker = exchange.ticker("BTCUSDT")
    server_time = exchange.server_time()
    placed = exchange.place_order(OrderRequest("tg-dry-1", "BTCUSDT", Side.BUY, Decimal(1)))
    resting = exchange.place_order(
        OrderRequest(
            "tg-dry-2",
            "BTCUSDT",
            Side.BUY,
            Decimal(1),
            order_type=OrderType.LIMIT,
            price=Decimal(1),
        )
    )
    cancelled = exchange.cancel_order("BTCUSDT", resting.order_id)
    status = exchange.order_status("BTCUSDT", placed.order_id)
    balances = exchange.balances()

    assert ticker.price > 0 and server_time is not None
    assert placed.status is OrderStatus.FILLED
    assert placed.average_price is not None
    assert abs(placed.average_price - ticker.price) / ticker.price < Decimal("0.05")
    assert cancelled.status is OrderStatus.CANCELLED
    assert status.status is OrderStatus.FILLED
    assert balances  # read from the real (simulated) account
    assert simulator.accepted_orders() == []
    with httpx.Client(base_url=simulator.base_url) as client:
        assert client.get("/_sim/orders").json() == []
    exchange.close()


def test_exchange_sim_command_serves_until_interrupted():
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from tradeguard.cli.app import main; main()",
            "exchange-sim",
            "--port",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = ""
        while process.stdout is not None and '"base_url"' not in line:
            line = process.stdout.readline()
            if not line:
                break
        ready = json.loads(line)
        assert ready["valr_api_key"] and ready["valr_api_secret"]
        assert httpx.get(ready["base_url"] + "/v1/public/time", timeout=2).status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)
    assert process.returncode in (0, 130)
