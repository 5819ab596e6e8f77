"""Alerts with the service started as the README starts it, and a loopback JSON webhook.

`tradeguard run` runs in a subprocess with ``TRADEGUARD_ALERT_URLS`` naming the webhook; the
operator uses the CLI. Each alert must arrive within 5 seconds of the event (MiFID II RTS 6
Art 16), measured from the event's ``operator_audit`` row to the webhook's receipt (the CLI's
interpreter start-up, which a loaded machine stretches, is not part of the event), and carry
the code, the operator and the correlation id the CLI printed.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.alert_receiver import AlertReceiver, alert_receiver
from tests.e2e.test_service_e2e import TRADEGUARD, _cli, _env, _free_port
from tradeguard.policy import parse_utc

DEADLINE = 5.0
HOOK_SECRET = "hook-path-token-never-logged"


def fields(body: dict[str, Any]) -> dict[str, str]:
    found = {}
    for line in body["message"].splitlines():
        match = re.fullmatch(r"([a-z_]+): (.*)", line)
        if match:
            found[match.group(1)] = match.group(2)
    return found


@pytest.fixture
def alerting_service(tmp_path: Path) -> Iterator[tuple[str, dict[str, str], AlertReceiver, Path]]:
    with alert_receiver(f"/hooks/{HOOK_SECRET}") as receiver:
        port = _free_port()
        env = _env(tmp_path, port)
        env["TRADEGUARD_ALERT_URLS"] = receiver.url
        log_path = tmp_path / "service.log"
        log = log_path.open("w")
        process = subprocess.Popen(
            [TRADEGUARD, "run"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
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
                    pytest.fail(log_path.read_text())
            yield base, env, receiver, log_path
        finally:
            process.terminate()
            process.wait(10)
            log.close()


def _recorded_at(database: Path, correlation_id: str) -> float:
    with sqlite3.connect(database) as conn:
        (stamp,) = conn.execute(
            "SELECT timestamp_utc FROM operator_audit WHERE correlation_id = ?", (correlation_id,)
        ).fetchone()
    return parse_utc(stamp).timestamp()


def _arrives(receiver: AlertReceiver, event: str, correlation_id: str, database: Path) -> dict:
    body = receiver.wait_for(
        lambda b: (
            fields(b).get("event") == event and fields(b).get("correlation_id") == correlation_id
        ),
        timeout=DEADLINE * 4,  # generous wait; the bound itself is asserted below
    )
    assert body is not None, f"no {event} alert"
    assert body["_received_at"] - _recorded_at(database, correlation_id) < DEADLINE
    return fields(body)


def test_cli_kill_switch_release_and_latch_reset_each_alert_within_5_seconds(
    alerting_service: tuple[str, dict[str, str], AlertReceiver, Path],
) -> None:
    base, env, receiver, log_path = alerting_service
    database = log_path.parent / "tradeguard.db"

    engaged = _cli(env, "kill", "on", "--operator", "alice", "--reason", "exchange outage drill")
    assert engaged.returncode == 0, engaged.stderr
    on = _arrives(
        receiver, "kill_switch_engaged", json.loads(engaged.stdout)["correlation_id"], database
    )
    assert on["code"] == "KILL_SWITCH_ENGAGED"
    assert on["operator_id"] == "alice" and on["reason"] == "exchange outage drill"
    assert on["status"] == f"{base}/v1/status"

    # The running service sees the HALT latch through the shared database and alerts too.
    latched = receiver.wait_for(lambda b: fields(b).get("event") == "halt_latched", 15)
    assert latched is not None
    assert fields(latched)["code"] == "HALT_KILL_SWITCH"
    assert fields(latched)["gate"] == "KILL_SWITCH"

    released = _cli(env, "kill", "off", "--operator", "bob", "--reason", "drill over")
    assert released.returncode == 0, released.stderr
    off = _arrives(
        receiver, "kill_switch_released", json.loads(released.stdout)["correlation_id"], database
    )
    assert off["code"] == "KILL_SWITCH_RELEASED" and off["operator_id"] == "bob"

    reset = _cli(env, "latch", "reset", "--operator", "carol", "--reason", "checked")
    assert reset.returncode == 0, reset.stderr
    answer = json.loads(reset.stdout)
    assert answer["was_latched"] is True
    after = _arrives(receiver, "latch_reset", answer["correlation_id"], database)
    assert after["code"] == "LATCH_RESET" and after["operator_id"] == "carol"

    # The webhook's path carries a token: neither the service's log nor the CLI printed it.
    outputs = engaged.stdout + engaged.stderr + released.stderr + reset.stderr
    assert HOOK_SECRET not in log_path.read_text() + outputs
    assert '"alert_sent"' in log_path.read_text()
