"""Several processes, one account on PostgreSQL: the caps hold for all of them together.

Two ``tradeguard run`` instances on one database, and one ``tradeguard run --workers 2``, trade
LIVE against one exchange simulator (so every order that leaves reaches it). A concurrent burst
of signals goes to all of them; what the simulator itself accepted (``GET /_sim/orders``) never
passes the exposure cap (orders in flight count, and the open-orders cap refuses while too many
are), while each process alone would have let its own share through; exits still pass at the
cap.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.service_support import LOOSE_ORDER_CONTROLS_ENV
from tradeguard.api.auth import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign_body
from tradeguard.exchange.simulator import ExchangeSimulator

TOKEN = "scale-operator-token"
SECRET = "scale-webhook-secret"
TRADEGUARD = str(Path(sys.executable).with_name("tradeguard"))
SYMBOL = "BTCUSDT"
QUANTITY = Decimal("0.01")
ORDERS_UNDER_CAP = 4  # the exposure cap holds 4.5 orders at the price when the test starts
BURST = 24


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(database_url: str, sim: ExchangeSimulator, cap: Decimal, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEGUARD_")}
    env.update(
        {
            "TRADEGUARD_DATABASE_URL": database_url,
            "TRADEGUARD_EXECUTION_MODE": "LIVE",
            "TRADEGUARD_EXCHANGE": "valr",
            "TRADEGUARD_EXCHANGE_BASE_URL": sim.base_url,
            "TRADEGUARD_EXCHANGE_API_KEY": sim.api_key,
            "TRADEGUARD_EXCHANGE_API_SECRET": sim.api_secret,
            "TRADEGUARD_OPERATOR_TOKEN": TOKEN,
            "TRADEGUARD_WEBHOOK_SECRET": SECRET,
            "TRADEGUARD_HOST": "127.0.0.1",
            "TRADEGUARD_PORT": str(port),
            "TRADEGUARD_SYMBOLS": json.dumps([SYMBOL]),
            "TRADEGUARD_MAX_GROSS_EXPOSURE": str(cap),
            "TRADEGUARD_MAX_OPEN_ORDERS": "3",
            "TRADEGUARD_HEARTBEAT_INTERVAL_SECONDS": "0.5",
            "TRADEGUARD_LOG_LEVEL": "WARNING",
            "TRADEGUARD_SOURCE_TIMEOUT_MS": "2000",  # a loaded 2-core machine: no timing luck
            **LOOSE_ORDER_CONTROLS_ENV,
        }
    )
    return env


class Service:
    """One ``tradeguard run`` process and its log."""

    def __init__(self, env: dict[str, str], log: Path, *args: str) -> None:
        self.base = f"http://127.0.0.1:{env['TRADEGUARD_PORT']}"
        self.log = log
        self._file = log.open("w")
        self.process = subprocess.Popen(
            [TRADEGUARD, "run", *args], env=env, stdout=self._file, stderr=subprocess.STDOUT
        )

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self._file.close()

    def wait_allowing(self, deadline_s: float = 60) -> None:
        """Wait until several status answers in a row say ALLOW (any worker answers)."""
        deadline = time.monotonic() + deadline_s
        streak = 0
        while streak < 6:
            if time.monotonic() > deadline or self.process.poll() is not None:
                pytest.fail(f"not ALLOW in time:\n{self.log.read_text()[-4000:]}")
            try:
                answer = httpx.get(
                    f"{self.base}/v1/status",
                    headers={"Authorization": f"Bearer {TOKEN}"},
                    timeout=2,
                ).json()
            except (httpx.HTTPError, ValueError):
                answer = {}
            streak = streak + 1 if answer.get("decision") == "ALLOW" else 0
            time.sleep(0.1)


def send(base: str, **fields: Any) -> httpx.Response:
    body = {
        "signal_id": f"scale-{time.time_ns()}-{os.urandom(4).hex()}",
        "symbol": SYMBOL,
        "side": "BUY",
        "intent": "OPEN",
        "quantity": str(QUANTITY),
        **fields,
    }
    raw = json.dumps(body).encode()
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign_body(SECRET, raw),
        TIMESTAMP_HEADER: str(int(time.time())),
    }
    return httpx.post(f"{base}/v1/signals", content=raw, headers=headers, timeout=30)


@pytest.fixture
def simulator() -> Iterator[ExchangeSimulator]:
    with ExchangeSimulator() as sim:
        yield sim


def _cap(sim: ExchangeSimulator) -> Decimal:
    price = sim.state.market.last_price(SYMBOL)
    return (QUANTITY * price * Decimal("4.5")).quantize(Decimal("0.01"))


def _burst(bases: list[str], count: int, **fields: Any) -> list[httpx.Response]:
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(lambda i: send(bases[i % len(bases)], **fields), range(count)))


def _accepted(sim: ExchangeSimulator, side: str, order_type: str) -> list[dict[str, Any]]:
    orders = httpx.get(f"{sim.base_url}/_sim/orders", timeout=5).json()
    return [o for o in orders if o["side"] == side and o["order_type"] == order_type]


def _check_caps(sim: ExchangeSimulator, bases: list[str]) -> None:
    answers = _burst(bases, BURST)
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    bodies = [a.json() for a in answers]
    sent = [b for b in bodies if b["outcome"] in ("EXECUTED", "PARTIALLY_FILLED")]
    codes = {b.get("refusal_code") for b in bodies if b["outcome"] == "REFUSED"}
    # Refused by the exposure cap, or by the open-orders cap while orders were in flight.
    assert codes <= {"RISK_EXPOSURE", "RISK_OPEN_ORDERS"}, bodies
    # What the exchange saw: never more than the exposure cap holds for all the processes
    # together (each alone would have sent four), and exactly what was answered as sent.
    assert 1 <= len(_accepted(sim, "BUY", "MARKET")) == len(sent) <= ORDERS_UNDER_CAP
    # One at a time, alternating between the processes, up to the cap and not one further.
    for index in range(ORDERS_UNDER_CAP + 2):
        send(bases[index % len(bases)])
    assert len(_accepted(sim, "BUY", "MARKET")) == ORDERS_UNDER_CAP
    assert send(bases[0]).json()["refusal_code"] == "RISK_EXPOSURE"
    # Exits pass at the cap, from every process.
    exits = [send(base, side="SELL", intent="REDUCE") for base in bases]
    assert [a.json()["outcome"] for a in exits] == ["EXECUTED"] * len(bases)
    assert len(_accepted(sim, "SELL", "MARKET")) == len(bases)


def test_two_instances_on_one_database_stay_under_the_caps_together(
    postgres_url: str, simulator: ExchangeSimulator, tmp_path: Path
) -> None:
    cap = _cap(simulator)
    services = [
        Service(_env(postgres_url, simulator, cap, _free_port()), tmp_path / f"s{i}.log")
        for i in range(2)
    ]
    try:
        for service in services:
            service.wait_allowing()
        _check_caps(simulator, [s.base for s in services])
    finally:
        for service in services:
            service.stop()


def test_two_workers_behind_one_port_stay_under_the_caps_together(
    postgres_url: str, simulator: ExchangeSimulator, tmp_path: Path
) -> None:
    cap = _cap(simulator)
    service = Service(
        _env(postgres_url, simulator, cap, _free_port()), tmp_path / "w.log", "--workers", "2"
    )
    try:
        service.wait_allowing()
        _check_caps(simulator, [service.base])
    finally:
        service.stop()
