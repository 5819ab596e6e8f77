"""A worker killed with SIGKILL mid-burst: nothing acknowledged is lost, no capacity leaks.

``tradeguard run --workers 2`` on PostgreSQL (paper, DRY_RUN) takes a concurrent burst of
signals; one worker is killed with SIGKILL in the middle of it. Every signal that was answered
(HTTP 200) is in the audit trail with its decision, and with its order rows when it was sent;
the reservations the dead worker held are gone once its lease expired, those of the living one
once its orders resolved; the supervisor replaces the dead worker and the service answers.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.service_support import LOOSE_ORDER_CONTROLS_ENV

from .test_shared_caps_e2e import TOKEN, Service, _free_port, send

LEASE_SECONDS = 2


def _env(database_url: str, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEGUARD_")}
    env.update(
        {
            "TRADEGUARD_DATABASE_URL": database_url,
            "TRADEGUARD_OPERATOR_TOKEN": TOKEN,
            "TRADEGUARD_WEBHOOK_SECRET": "scale-webhook-secret",
            "TRADEGUARD_HOST": "127.0.0.1",
            "TRADEGUARD_PORT": str(port),
            "TRADEGUARD_SHARED_LEASE_SECONDS": str(LEASE_SECONDS),
            "TRADEGUARD_SOURCE_TIMEOUT_MS": "2000",
            **LOOSE_ORDER_CONTROLS_ENV,
            "TRADEGUARD_LOG_LEVEL": "WARNING",
        }
    )
    return env


def _workers(pid: int) -> list[int]:
    # The supervisor's children that are workers (not multiprocessing's resource tracker).
    children = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    workers = []
    for child in children:
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue  # gone meanwhile
        if b"spawn_main" in command:
            workers.append(child)
    return workers


def _wait_for(condition, deadline_s: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {deadline_s} s")
        time.sleep(0.1)


def _query(url: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return list(conn.execute(sql))


def test_a_worker_killed_mid_burst_loses_nothing_answered_and_leaks_no_reservation(
    postgres_url: str, tmp_path: Path
) -> None:
    service = Service(_env(postgres_url, _free_port()), tmp_path / "w.log", "--workers", "2")
    try:
        service.wait_allowing()
        _wait_for(lambda: len(_workers(service.process.pid)) == 2, 30, "two workers")
        victim = _workers(service.process.pid)[0]
        answered: list[dict[str, object]] = []
        lock = threading.Lock()

        def sender(count: int) -> None:
            for _ in range(count):
                try:
                    response = send(service.base, quantity="0.001")
                except httpx.HTTPError:
                    continue  # the connection died with the worker: not answered
                if response.status_code == 200:
                    with lock:
                        answered.append(response.json())

        threads = [threading.Thread(target=sender, args=(15,)) for _ in range(4)]
        for thread in threads:
            thread.start()
        _wait_for(lambda: len(answered) >= 10, 60, "ten answers before the kill")
        os.kill(victim, signal.SIGKILL)
        for thread in threads:
            thread.join(120)
        assert len(answered) >= 10
        # Nothing answered is lost: each signal is in the trail, and a sent one has its orders.
        recorded = {
            row[0]: row[1]
            for row in _query(postgres_url, "SELECT signal_id, correlation_id FROM signal_audit")
        }
        orders = {row[0] for row in _query(postgres_url, "SELECT correlation_id FROM order_audit")}
        for answer in answered:
            assert answer["signal_id"] in recorded
            if answer["outcome"] in ("EXECUTED", "PARTIALLY_FILLED", "RESTING"):
                assert answer["correlation_id"] in orders
        # No reservation outlives its order (the living worker) or the lease (the dead one).
        _wait_for(
            lambda: _query(postgres_url, "SELECT count(*) FROM shared_reservations")[0][0] == 0,
            LEASE_SECONDS * 10,
            "every reservation released or expired",
        )
        # The supervisor replaced the dead worker, and the service still decides.
        _wait_for(
            lambda: (
                victim not in _workers(service.process.pid)
                and len(_workers(service.process.pid)) == 2
            ),
            60,
            "a new worker",
        )
        service.wait_allowing()
        assert send(service.base, quantity="0.001").json()["outcome"] == "EXECUTED"
    finally:
        service.stop()
