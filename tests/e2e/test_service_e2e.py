"""The service as the README starts it: `tradeguard run` in a subprocess, driven over HTTP + CLI."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.service_support import LOOSE_ORDER_CONTROLS_ENV
from tradeguard.api.auth import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign_body

TOKEN = "e2e-operator-token"
SECRET = "e2e-webhook-secret"
TRADEGUARD = str(Path(sys.executable).with_name("tradeguard"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(tmp_path: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEGUARD_")}
    env.update(
        {
            "TRADEGUARD_DATABASE_URL": f"sqlite:///{tmp_path / 'tradeguard.db'}",
            "TRADEGUARD_OPERATOR_TOKEN": TOKEN,
            "TRADEGUARD_WEBHOOK_SECRET": SECRET,
            "TRADEGUARD_HOST": "127.0.0.1",
            "TRADEGUARD_PORT": str(port),
            "TRADEGUARD_HEARTBEAT_INTERVAL_SECONDS": "0.2",
            **LOOSE_ORDER_CONTROLS_ENV,
        }
    )
    return env


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TRADEGUARD, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture
def running_service(tmp_path: Path) -> Iterator[tuple[str, dict[str, str], Path]]:
    port = _free_port()
    env = _env(tmp_path, port)
    log = (tmp_path / "service.log").open("w")
    process = subprocess.Popen([TRADEGUARD, "run"], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
            if process.poll() is not None:
                pytest.fail((tmp_path / "service.log").read_text())
        yield base, env, tmp_path
    finally:
        process.terminate()
        process.wait(10)
        log.close()


def _send(base: str, **fields: Any) -> httpx.Response:
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
    return httpx.post(f"{base}/v1/signals", content=raw, headers=headers, timeout=10)


def test_a_fat_fingered_size_is_refused_before_it_leaves(
    running_service: tuple[str, dict[str, str], Path],
) -> None:
    # The default cap is 100,000 of gross exposure; 1,000 BTC at about 50,000 is far above it.
    base, _env, _tmp_path = running_service
    huge = _send(base, quantity="1000")
    assert huge.status_code == 200
    body = huge.json()
    assert body["decision"] == "ALLOW"  # every gate passed: the cap refuses the size
    assert body["outcome"] == "REFUSED" and body["order"] is None
    assert body["refusal_code"] == "RISK_EXPOSURE"
    assert _send(base).json()["outcome"] == "EXECUTED"


def test_tour_signal_kill_switch_signal_again_and_verify(
    running_service: tuple[str, dict[str, str], Path],
) -> None:
    base, env, _tmp_path = running_service
    auth = {"Authorization": f"Bearer {TOKEN}"}

    first = _send(base).json()
    assert first["decision"] == "ALLOW" and first["outcome"] == "EXECUTED"

    engaged = _cli(env, "kill", "on", "--operator", "e2e", "--reason", "tour drill")
    assert engaged.returncode == 0, engaged.stderr
    time.sleep(0.1)

    second = _send(base).json()
    assert second["decision"] == "HALT" and second["reason_code"] == "HALT_KILL_SWITCH"
    assert second["outcome"] == "REFUSED" and second["order"] is None

    sent = _cli(
        env,
        "signal",
        "send",
        "--symbol",
        "BTCUSDT",
        "--side",
        "BUY",
        "--quantity",
        "0.01",
        "--url",
        f"{base}/v1/signals",
    )
    assert sent.returncode == 1, sent.stdout + sent.stderr
    assert json.loads(sent.stdout)["decision"] == "HALT"

    status = json.loads(_cli(env, "status", "--json").stdout)
    assert status["source"] == "service" and status["state"] == "HALT"

    decisions = httpx.get(f"{base}/v1/decisions?limit=50", headers=auth).json()["decisions"]
    seen = {(row["policy_decision"], row["reason_code"]) for row in decisions}
    assert ("ALLOW", "ALLOW_ALL_GATES_PASSED") in seen
    assert ("HALT", "HALT_KILL_SWITCH") in seen

    verify = _cli(env, "audit", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_status_when_service_is_down_is_read_from_the_database(tmp_path: Path) -> None:
    env = _env(tmp_path, _free_port())
    engaged = _cli(env, "kill", "on", "--operator", "ops", "--reason", "offline")
    assert engaged.returncode == 0, engaged.stderr
    status = _cli(env, "status", "--json")
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert data["source"] == "database"
    assert data["state"] == "HALT" and data["kill_switch_active"] is True


def test_live_without_operator_token_refuses_to_start_with_exit_2(tmp_path: Path) -> None:
    env = _env(tmp_path, _free_port())
    del env["TRADEGUARD_OPERATOR_TOKEN"]
    env.update({"TRADEGUARD_EXECUTION_MODE": "LIVE", "TRADEGUARD_EXCHANGE": "valr"})
    result = _cli(env, "run")
    assert result.returncode == 2
    assert "LIVE_MODE_REFUSED" in result.stderr
