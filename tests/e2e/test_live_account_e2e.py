"""LIVE proves the account before and while it trades: `tradeguard run` against `exchange-sim`.

Both run as a user starts them (subprocesses); one simulator serves the whole module, with its
own API key and secret, and each test clears its faults and its resting orders first.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from tradeguard.api.auth import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign_body
from tradeguard.clock import SystemClock
from tradeguard.exchange import ValrExchange

TOKEN = "e2e-live-operator-token"
SECRET = "e2e-live-webhook-secret"
API_KEY = "e2e-live-key"
API_SECRET = "e2e-live-secret"
ACCOUNT_INTERVAL_S = 0.5
TRADEGUARD = str(Path(sys.executable).with_name("tradeguard"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until(predicate: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    return predicate()


@pytest.fixture(scope="module")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("exchange-sim")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEGUARD_")}
    process = subprocess.Popen(
        [
            TRADEGUARD,
            "exchange-sim",
            "--port",
            "0",
            "--api-key",
            API_KEY,
            "--api-secret",
            API_SECRET,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=workdir,
        env=env,
    )
    try:
        assert process.stdout is not None
        base_url = None
        for _ in range(200):
            line = process.stdout.readline()
            if not line:
                break
            if '"exchange_simulator_ready"' in line:
                base_url = json.loads(line)["base_url"]
                break
        assert base_url, "the exchange simulator did not report ready"
        yield base_url
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def sim(simulator: str) -> Iterator[str]:
    """The shared simulator with no fault and no resting order, before and after a test."""
    _reset(simulator)
    yield simulator
    _reset(simulator)


def _reset(base_url: str) -> None:
    httpx.post(f"{base_url}/_sim/faults", json={}, timeout=5).raise_for_status()
    client = ValrExchange(base_url, SecretStr(API_KEY), SecretStr(API_SECRET), SystemClock())
    try:
        for order in client.open_orders():
            client.cancel_order(order.symbol, order.order_id)
    finally:
        client.close()


def _sim_orders(base_url: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{base_url}/_sim/orders", timeout=5)
    response.raise_for_status()
    return list(response.json())


def _env(tmp_path: Path, sim_url: str, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEGUARD_")}
    env.update(
        {
            "TRADEGUARD_DATABASE_URL": f"sqlite:///{tmp_path / 'tradeguard.db'}",
            "TRADEGUARD_EXECUTION_MODE": "LIVE",
            "TRADEGUARD_EXCHANGE": "valr",
            "TRADEGUARD_EXCHANGE_BASE_URL": sim_url,
            "TRADEGUARD_EXCHANGE_API_KEY": API_KEY,
            "TRADEGUARD_EXCHANGE_API_SECRET": API_SECRET,
            "TRADEGUARD_OPERATOR_TOKEN": TOKEN,
            "TRADEGUARD_WEBHOOK_SECRET": SECRET,
            "TRADEGUARD_HOST": "127.0.0.1",
            "TRADEGUARD_PORT": str(port),
            "TRADEGUARD_HEARTBEAT_INTERVAL_SECONDS": "0.2",
            "TRADEGUARD_ACCOUNT_CHECK_INTERVAL_SECONDS": str(ACCOUNT_INTERVAL_S),
        }
    )
    env.update(extra)
    return env


class Service:
    """One `tradeguard run` subprocess and its log file."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.base = f"http://127.0.0.1:{env['TRADEGUARD_PORT']}"
        self._log = log_path.open("w")
        self.process = subprocess.Popen(
            [TRADEGUARD, "run"], env=env, stdout=self._log, stderr=subprocess.STDOUT
        )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(self.log_path.read_text())
            try:
                if httpx.get(f"{self.base}/healthz", timeout=0.5).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        pytest.fail("the service did not answer /healthz: " + self.log_path.read_text()[-2000:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(15)
        self._log.close()

    def status(self) -> dict[str, Any]:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        return dict(httpx.get(f"{self.base}/v1/status", headers=auth, timeout=10).json())

    def send(self, **fields: Any) -> dict[str, Any]:
        body = {
            "signal_id": f"e2e-live-{time.time_ns()}",
            "symbol": "BTCUSDT",
            "side": "BUY",
            "intent": "OPEN",
            "quantity": "0.01",
            **fields,
        }
        raw = json.dumps(body).encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign_body(SECRET, raw),
            TIMESTAMP_HEADER: str(int(time.time())),
        }
        response = httpx.post(f"{self.base}/v1/signals", content=raw, headers=headers, timeout=15)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def wait_allow(self) -> None:
        allowed = _wait_until(lambda: self.status()["state"] == "ALLOW")
        assert allowed, json.dumps(self.status()["health_checks"])


@pytest.fixture
def start(tmp_path: Path, sim: str) -> Iterator[Callable[..., Service]]:
    started: list[Service] = []

    def _start(**extra: str) -> Service:
        env = _env(tmp_path, sim, _free_port(), **extra)
        service = Service(env, tmp_path / f"service-{len(started)}.log")
        started.append(service)
        service.wait_ready()
        return service

    yield _start
    for service in started:
        service.stop()


def _check(status: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in status["health_checks"] if c["name"] == name)


def test_wrong_keys_make_preflight_fail_and_live_refuse_to_start(tmp_path: Path, sim: str) -> None:
    env = _env(tmp_path, sim, _free_port(), TRADEGUARD_EXCHANGE_API_KEY="revoked-key")
    orders_before = len(_sim_orders(sim))
    run = (TRADEGUARD, "preflight", "--json")
    preflight = subprocess.run(run, env=env, capture_output=True, text=True, timeout=60)
    assert preflight.returncode == 1, preflight.stdout + preflight.stderr
    report = json.loads(preflight.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert report["ok"] is False
    assert checks["credentials"]["status"] == "FAIL"
    assert checks["credentials"]["code"] == "EXCHANGE_AUTH_FAILED"
    assert "TRADEGUARD_EXCHANGE_API_KEY" in checks["credentials"]["action"]
    assert checks["database"]["status"] == "PASS"

    started = subprocess.run(
        (TRADEGUARD, "run"), env=env, capture_output=True, text=True, timeout=60
    )
    assert started.returncode == 1
    error = json.loads(started.stderr.strip().splitlines()[-1])
    assert error["error"] == "EXCHANGE_AUTH_FAILED" and error["action"]
    assert len(_sim_orders(sim)) == orders_before

    good = _env(tmp_path, sim, _free_port())
    passed = subprocess.run(run, env=good, capture_output=True, text=True, timeout=60)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert json.loads(passed.stdout)["ok"] is True


def test_right_keys_trade_and_revoked_keys_latch_halt_with_nothing_sent_after(
    start: Callable[..., Service], sim: str
) -> None:
    service = start()
    service.wait_allow()
    assert _check(service.status(), "exchange_account")["code"] == "CHECK_OK"
    allowed = service.send()
    assert allowed["decision"] == "ALLOW" and allowed["outcome"] == "EXECUTED", allowed
    ids = {o["client_order_id"] for o in _sim_orders(sim)}
    assert f"tg-{allowed['correlation_id']}" in ids

    revoked_at = datetime.now(UTC)
    httpx.post(f"{sim}/_sim/faults", json={"auth_fail": True}, timeout=5).raise_for_status()
    before = len(_sim_orders(sim))
    halted = _wait_until(lambda: service.status()["is_latched"], timeout=10)
    status = service.status()
    assert halted and status["decision"] == "HALT" and status["state"] == "HALT"
    # The service engaged the latch at its next account read (every 0.5 s); the slack is for
    # a busy machine, the figure itself is printed.
    since = datetime.fromisoformat(status["kill_switch"]["since"].replace("Z", "+00:00"))
    detected_s = (since - revoked_at).total_seconds()
    print(f"revoked keys latched HALT after {detected_s * 1000:.0f} ms")
    assert detected_s <= ACCOUNT_INTERVAL_S + 1.0, detected_s
    assert status["kill_switch"]["code"] == "EXCHANGE_AUTH_FAILED"
    assert status["kill_switch"]["actor"] == "system:exchange-account"
    assert _check(status, "exchange_account")["code"] == "EXCHANGE_AUTH_FAILED"
    ready = httpx.get(f"{service.base}/readyz", timeout=10).json()
    assert ready["checks"]["exchange_account"]["code"] == "EXCHANGE_AUTH_FAILED"

    refused = service.send()
    assert refused["decision"] == "HALT" and refused["outcome"] == "REFUSED"
    exit_refused = service.send(side="SELL", intent="CLOSE")
    assert exit_refused["decision"] == "HALT" and exit_refused["outcome"] == "REFUSED"

    # The keys work again: HALT stays latched (only an operator resets it).
    httpx.post(f"{sim}/_sim/faults", json={}, timeout=5).raise_for_status()
    time.sleep(ACCOUNT_INTERVAL_S * 3)
    still = service.status()
    assert still["decision"] == "HALT" and still["is_latched"] is True
    assert service.send()["outcome"] == "REFUSED"
    assert len(_sim_orders(sim)) == before


def test_unreadable_account_is_neutral_and_an_exit_still_trades(
    start: Callable[..., Service], sim: str
) -> None:
    service = start()
    service.wait_allow()
    opened = service.send()
    assert opened["outcome"] == "EXECUTED", opened

    httpx.post(f"{sim}/_sim/faults", json={"account_unreadable": True}, timeout=5)
    neutral = _wait_until(lambda: service.status()["decision"] == "NEUTRAL", timeout=10)
    status = service.status()
    assert neutral, status
    assert _check(status, "exchange_account")["code"] == "EXCHANGE_ACCOUNT_UNREADABLE"
    assert status["is_latched"] is False

    refused = service.send()
    assert refused["decision"] == "NEUTRAL" and refused["outcome"] == "REFUSED"
    closed = service.send(side="SELL", intent="CLOSE", quantity="0.01")
    assert closed["decision"] == "NEUTRAL" and closed["outcome"] == "EXECUTED", closed
    assert f"tg-{closed['correlation_id']}" in {o["client_order_id"] for o in _sim_orders(sim)}

    httpx.post(f"{sim}/_sim/faults", json={}, timeout=5)
    service.wait_allow()


def test_resting_orders_of_a_first_process_count_in_the_caps_of_the_next(
    start: Callable[..., Service], sim: str
) -> None:
    # The collar is widened so that LIMIT orders priced far below the market may rest.
    caps = {"TRADEGUARD_MAX_OPEN_ORDERS": "2", "TRADEGUARD_PRICE_COLLAR_PCT": "99"}
    first = start(**caps)
    first.wait_allow()
    for quantity in ("0.01", "0.02"):  # different sizes: not refused as duplicates
        resting = first.send(order_type="LIMIT", price="1000", quantity=quantity)
        assert resting["outcome"] == "RESTING", (resting["refusal_code"], resting["codes"])
    first.stop()
    placed = len(_sim_orders(sim))

    second = start(**caps)
    adopted = [
        json.loads(line)
        for line in second.log_path.read_text().splitlines()
        if '"resting_orders_adopted"' in line
    ]
    assert adopted and adopted[0]["adopted"] == 2
    second.wait_allow()
    refused = second.send(order_type="LIMIT", price="1000", quantity="0.03")
    assert refused["decision"] == "ALLOW" and refused["outcome"] == "REFUSED"
    assert refused["refusal_code"] == "RISK_OPEN_ORDERS"
    assert len(_sim_orders(sim)) == placed
