"""Exchange downtime as a user meets it: `tradeguard run` in LIVE against `tradeguard exchange-sim`.

Both are started as the README and the runbook start them (two subprocesses, the VALR adapter
pointed at the simulator with its printed test credentials). The exchange is taken down with
``POST /_sim/faults {"down": true}`` and brought back with ``{}``.

Timing without luck: the 1 s bound is asserted on the times the service stamps itself (the
``since`` of its exchange reachability and the heartbeat's NEUTRAL decision row, both on the
machine's wall clock, which this test shares). Polling only checks what cannot depend on the
speed of the machine: every status read that *starts* after injection + 1 s must already be
NEUTRAL. The service's detection is designed well under the bound (a failed call or probe
marks the exchange unreachable at once; probes run every 0.2 s; a hanging call is cut at
0.4 s), so the bound keeps headroom on a loaded machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from tradeguard.api.auth import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign_body
from tradeguard.policy import parse_utc

TOKEN = "e2e-operator-token"
SECRET = "e2e-webhook-secret"
TRADEGUARD = str(Path(sys.executable).with_name("tradeguard"))
BOUND = timedelta(seconds=1)
GENEROUS_S = 30.0


@dataclass
class Stack:
    base: str
    sim: str
    auth: dict[str, str]
    log: Path


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(predicate: Callable[[], Any], timeout: float = GENEROUS_S) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except httpx.HTTPError:
            value = None
        if value:
            return value
        time.sleep(0.05)
    return None


def _start_simulator(log: IO[str]) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    process = subprocess.Popen(
        [TRADEGUARD, "exchange-sim", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:  # log lines first, then the ready object once it listens
        try:
            ready = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(ready, dict) and ready.get("event") == "exchange_simulator_ready":
            # Keep draining its output so a full pipe never blocks the simulator.
            threading.Thread(target=process.stdout.read, daemon=True).start()
            return process, ready
    process.kill()
    pytest.fail("tradeguard exchange-sim did not start")


def _env(tmp_path: Path, port: int, ready: dict[str, Any]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEGUARD_")}
    env.update(
        {
            "TRADEGUARD_DATABASE_URL": f"sqlite:///{tmp_path / 'tradeguard.db'}",
            "TRADEGUARD_EXECUTION_MODE": "LIVE",
            "TRADEGUARD_EXCHANGE": "valr",
            "TRADEGUARD_EXCHANGE_BASE_URL": ready["base_url"],
            "TRADEGUARD_EXCHANGE_API_KEY": ready["valr_api_key"],
            "TRADEGUARD_EXCHANGE_API_SECRET": ready["valr_api_secret"],
            "TRADEGUARD_OPERATOR_TOKEN": TOKEN,
            "TRADEGUARD_WEBHOOK_SECRET": SECRET,
            "TRADEGUARD_HOST": "127.0.0.1",
            "TRADEGUARD_PORT": str(port),
        }
    )
    return env


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    log_path = tmp_path / "service.log"
    log = log_path.open("w")
    simulator, ready = _start_simulator(log)
    port = _free_port()
    service = subprocess.Popen(
        [TRADEGUARD, "run"], env=_env(tmp_path, port, ready), stdout=log, stderr=subprocess.STDOUT
    )
    try:
        base = f"http://127.0.0.1:{port}"
        if not _wait(lambda: httpx.get(f"{base}/healthz", timeout=1).status_code == 200):
            pytest.fail(log_path.read_text())
        yield Stack(base, ready["base_url"], {"Authorization": f"Bearer {TOKEN}"}, log_path)
    finally:
        for process in (service, simulator):
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()


def _send(stack: Stack, **fields: Any) -> dict[str, Any]:
    body = {
        "signal_id": f"e2e-{time.time_ns()}",
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
    answer = httpx.post(f"{stack.base}/v1/signals", content=raw, headers=headers, timeout=30)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def _status(stack: Stack) -> dict[str, Any]:
    answer = httpx.get(f"{stack.base}/v1/status", headers=stack.auth, timeout=10)
    answer.raise_for_status()
    result: dict[str, Any] = answer.json()
    return result


def _faults(stack: Stack, faults: dict[str, Any]) -> None:
    httpx.post(f"{stack.sim}/_sim/faults", json=faults, timeout=10).raise_for_status()


def _sim_orders(stack: Stack) -> list[dict[str, Any]]:
    orders: list[dict[str, Any]] = httpx.get(f"{stack.sim}/_sim/orders", timeout=10).json()
    return orders


def _first_row(stack: Stack, reason: str, after: datetime) -> datetime | None:
    rows = httpx.get(f"{stack.base}/v1/decisions?limit=200", headers=stack.auth, timeout=10).json()[
        "decisions"
    ]
    stamps = [parse_utc(row["timestamp_utc"]) for row in rows if row["reason_code"] == reason]
    return min((stamp for stamp in stamps if stamp >= after), default=None)


def test_exchange_down_is_neutral_within_one_second_and_allow_again_after_recovery(
    stack: Stack,
) -> None:
    assert _wait(lambda: _status(stack)["state"] == "ALLOW"), stack.log.read_text()[-4000:]
    opened = _send(stack, quantity="0.02")  # a position to exit from during the outage
    assert (opened["decision"], opened["outcome"]) == ("ALLOW", "EXECUTED"), opened

    injected = datetime.now(UTC)
    injected_monotonic = time.monotonic()
    _faults(stack, {"down": True})
    reads: list[tuple[float, str]] = []

    def neutral() -> bool:
        started = time.monotonic()
        state = str(_status(stack)["state"])
        reads.append((started, state))
        return state == "NEUTRAL"

    assert _wait(neutral), reads[-5:]
    # New risk in the outage is refused by the gate (not merely failed at the exchange).
    refused = _send(stack)
    assert (refused["decision"], refused["outcome"]) == ("NEUTRAL", "REFUSED"), refused
    assert refused["refusal_code"] == "NEUTRAL_HEALTH_RED"
    # An exit still passes the gate; the exchange is down, so it cannot be filled now.
    exit_down = _send(stack, side="SELL", intent="REDUCE", quantity="0.005")
    assert exit_down["decision"] == "NEUTRAL", exit_down
    assert exit_down["refusal_code"] != "INTENT_NOT_PERMITTED", exit_down

    # The service's own stamps: unreachable since, and the heartbeat's NEUTRAL row.
    status = _status(stack)
    assert status["exchange_reachability"]["reachable"] is False
    assert parse_utc(status["exchange_reachability"]["since"]) - injected <= BOUND
    checks = {check["name"]: check["code"] for check in status["health_checks"]}
    assert checks["exchange_reachable"] == "EXCHANGE_UNREACHABLE"
    row = _wait(lambda: _first_row(stack, "NEUTRAL_HEALTH_RED", injected))
    assert row is not None and row - injected <= BOUND, (row, injected)
    # Keep reading until injection + 1.2 s: every read started after + 1 s is NEUTRAL.
    while time.monotonic() < injected_monotonic + 1.2:
        neutral()
        time.sleep(0.05)
    late = [state for started, state in reads if started >= injected_monotonic + 1.0]
    assert late and set(late) == {"NEUTRAL"}, reads

    cleared = datetime.now(UTC)
    _faults(stack, {})
    assert _wait(lambda: _status(stack)["state"] == "ALLOW"), stack.log.read_text()[-4000:]
    assert _status(stack)["exchange_reachability"]["reachable"] is True
    allowed_row = _wait(lambda: _first_row(stack, "ALLOW_ALL_GATES_PASSED", cleared))
    assert allowed_row is not None

    # No order reached the exchange while it was down; after recovery new risk and exits do.
    arrivals = [parse_utc(order["arrived_at"]) for order in _sim_orders(stack)]
    assert not [at for at in arrivals if injected <= at <= cleared], arrivals
    again = _send(stack)
    assert (again["decision"], again["outcome"]) == ("ALLOW", "EXECUTED"), again
    exit_up = _send(stack, side="SELL", intent="REDUCE", quantity="0.005")
    assert exit_up["outcome"] == "EXECUTED", exit_up
    assert len(_sim_orders(stack)) == len(arrivals) + 2
