"""Exchange downtime, a hanging exchange and a dropped feed reach the gate's state at once.

The pipeline is the service's own composition root and background work against the loopback
exchange simulator (VALR adapter) and SSE server. Detection times are read from what the service
itself stamps (the reachability state's ``since``, the heartbeat's decision rows), so the
assertions do not depend on how fast this test happens to poll.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from tradeguard.api import create_app
from tradeguard.audit.records import AuditTable
from tradeguard.feeds.sse import EventFeedClient
from tradeguard.feeds.sse_server import LoopbackSSEServer
from tradeguard.policy import parse_utc
from tradeguard.simulator.pipeline import ScenarioPipeline

BOUND = timedelta(seconds=1)
GENEROUS_S = 15.0


def wait_for(predicate: Callable[[], Any], timeout: float = GENEROUS_S) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)
    return predicate()


def _state(pipeline: ScenarioPipeline) -> str:
    return str(pipeline.require().operator.status()["state"])


def _first_row_after(pipeline: ScenarioPipeline, reason: str, after: datetime) -> datetime | None:
    rows = pipeline.require().audit_store.rows(AuditTable.POLICY_DECISION)
    stamps = [
        parse_utc(str(row["timestamp_utc"]))
        for row in rows
        if row["reason_code"] == reason and parse_utc(str(row["timestamp_utc"])) >= after
    ]
    return min(stamps, default=None)


def _metric(body: str, name: str) -> float:
    for line in body.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in the metrics")


def test_exchange_down_is_neutral_within_one_second_everywhere_and_allow_after() -> None:
    with ScenarioPipeline() as pipeline:
        container = pipeline.require()
        assert pipeline.exchange_sim is not None
        assert wait_for(lambda: _state(pipeline) == "ALLOW"), _state(pipeline)
        client = TestClient(create_app(container))

        injected = container.clock.now()
        pipeline.exchange_sim.set_faults(down=True)
        assert wait_for(lambda: _state(pipeline) == "NEUTRAL")

        status = container.operator.status()
        reachability = status["exchange_reachability"]
        assert reachability["reachable"] is False
        assert parse_utc(reachability["since"]) - injected <= BOUND
        assert {c["name"]: c["code"] for c in status["health_checks"]}["exchange_reachable"] == (
            "EXCHANGE_UNREACHABLE"
        )
        # The heartbeat is woken by the change: the trail's NEUTRAL row is stamped within 1 s.
        row = wait_for(lambda: _first_row_after(pipeline, "NEUTRAL_HEALTH_RED", injected))
        assert row is not None and row - injected <= BOUND
        ready = client.get("/readyz").json()
        assert ready["checks"]["state"] == "NEUTRAL"
        metrics = client.get("/metrics").text
        assert _metric(metrics, 'tradeguard_state{state="NEUTRAL"}') == 1.0
        assert _metric(metrics, 'tradeguard_state{state="ALLOW"}') == 0.0
        assert _metric(metrics, "tradeguard_exchange_reachable") == 0.0

        pipeline.exchange_sim.clear_faults()
        assert wait_for(lambda: _state(pipeline) == "ALLOW")
        metrics = client.get("/metrics").text
        assert _metric(metrics, 'tradeguard_state{state="ALLOW"}') == 1.0
        assert _metric(metrics, "tradeguard_exchange_reachable") == 1.0
        assert client.get("/readyz").json()["checks"]["state"] == "ALLOW"


def test_a_hanging_exchange_is_neutral_within_one_second() -> None:
    with ScenarioPipeline() as pipeline:
        container = pipeline.require()
        assert pipeline.exchange_sim is not None
        assert wait_for(lambda: _state(pipeline) == "ALLOW"), _state(pipeline)

        injected = container.clock.now()
        pipeline.exchange_sim.set_faults(latency_ms=3000)
        assert wait_for(lambda: _state(pipeline) == "NEUTRAL")
        snapshot = container.exchange.reachability.snapshot()  # type: ignore[union-attr]
        assert snapshot.reachable is False and snapshot.since_utc is not None
        assert snapshot.since_utc - injected <= BOUND
        assert "more than" in snapshot.detail

        pipeline.exchange_sim.clear_faults()
        assert wait_for(lambda: _state(pipeline) == "ALLOW")


def test_the_feed_reports_its_connection_changes_the_moment_they_happen() -> None:
    changes: list[bool] = []
    dropped = threading.Event()

    def on_change(connected: bool) -> None:
        changes.append(connected)
        if not connected:
            dropped.set()

    with LoopbackSSEServer(heartbeat_seconds=0.05) as server:
        feed = EventFeedClient(
            server.url,
            on_connection_change=on_change,
            backoff_initial_seconds=5.0,
            random=lambda: 1.0,
        )
        feed.start()
        try:
            assert wait_for(lambda: feed.connected)
            server.refuse_next(1, "status")
            server.drop_connections()
            assert dropped.wait(GENEROUS_S)
            assert feed.connected is False
        finally:
            feed.stop()
    assert changes[:2] == [True, False]
