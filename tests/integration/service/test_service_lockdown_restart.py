"""L6 lockdown through the real container on SQLite, across a restart; heartbeat trail."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from tests.service_support import make_settings
from tradeguard.audit.records import AuditTable
from tradeguard.background import Heartbeat, prime_sources, start_background
from tradeguard.bootstrap import build_container
from tradeguard.feeds.sse_server import LoopbackSSEServer
from tradeguard.policy import PolicyDecision


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_lockdown_at_fifth_failure_survives_a_restart_and_never_clears_itself(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'tg.db'}"
    with LoopbackSSEServer(heartbeat_seconds=0.05) as feed_server:
        feed_server.refuse_next(5, "status")
        settings = make_settings(
            url,
            event_feed_url=feed_server.url,
            feed_backoff_initial_seconds=0.01,
            feed_backoff_max_seconds=0.02,
        )
        container = build_container(settings)
        background = start_background(container)
        try:
            assert wait_until(lambda: container.operator.status()["state"] == "L6_LOCKDOWN")
            assert feed_server.stats()["attempts"] >= 5
            assert wait_until(lambda: container.feed is not None and container.feed.connected)
            status = container.operator.status()
            assert status["state"] == "L6_LOCKDOWN"
            assert status["decision"] == "HALT" and status["is_latched"] is True
            assert status["kill_switch"]["actor"] == "system:event-feed"
            assert status["kill_switch"]["code"] == "SSE_RECONNECT_EXHAUSTED"
            operator_rows = list(container.audit_store.rows(AuditTable.OPERATOR))
            assert len(operator_rows) == 1
        finally:
            background.stop()
            container.close()

    reopened = build_container(make_settings(url))
    try:
        prime_sources(reopened)
        status = reopened.operator.status()
        assert status["state"] == "L6_LOCKDOWN"
        assert status["decision"] == "HALT"
        assert status["is_latched"] is True
    finally:
        reopened.close()


def test_heartbeat_records_only_transitions_with_their_context(tmp_path: Path) -> None:
    container = build_container(make_settings(f"sqlite:///{tmp_path / 'hb.db'}"))
    try:
        prime_sources(container)
        heartbeat = Heartbeat(container)
        for _ in range(3):
            heartbeat.beat()
        container.operator.set_kill_switch(True, "ops", "drill")
        for _ in range(3):
            heartbeat.beat()
        rows = [
            row
            for row in container.audit_store.rows(AuditTable.POLICY_DECISION)
            if row.get("origin") == "heartbeat"
        ]
    finally:
        container.close()
    assert [row["policy_decision"] for row in rows] == ["ALLOW", "HALT"]
    assert rows[1]["reason_code"] == "HALT_KILL_SWITCH"
    assert rows[1]["context_snapshot"]["kill_switch_active"] is True


def test_kill_switch_set_by_another_process_blocks_this_one_within_100_ms(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    service_side = build_container(make_settings(url))
    operator_side = build_container(make_settings(url))
    try:
        prime_sources(service_side)
        assert service_side.operator.status()["decision"] == "ALLOW"
        operator_side.operator.set_kill_switch(True, "ops", "from the CLI")
        started = time.monotonic()
        assert wait_until(lambda: service_side.builder.build(_cid()).kill_switch_active, 1.0)
        assert time.monotonic() - started < 0.1
    finally:
        service_side.close()
        operator_side.close()


def _cid() -> str:
    import uuid

    return str(uuid.uuid4())


def test_latch_reset_by_another_process_is_seen_by_the_service(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'latch.db'}"
    service_side = build_container(make_settings(url))
    operator_side = build_container(make_settings(url))
    try:
        prime_sources(service_side)
        heartbeat = Heartbeat(service_side)

        def seen_within_100_ms(predicate: Callable[[PolicyDecision], bool]) -> bool:
            # SPEC §3: a change made anywhere is seen everywhere within 100 ms.
            return wait_until(lambda: predicate(heartbeat.beat()), timeout=0.1)

        operator_side.operator.set_kill_switch(True, "ops", "drill")
        assert seen_within_100_ms(lambda d: d.is_latched)
        operator_side.operator.set_kill_switch(False, "ops", "drill over")
        assert seen_within_100_ms(lambda d: d.reason_code == "HALT_LATCHED")
        operator_side.operator.reset_latch("ops", "cause fixed")
        assert seen_within_100_ms(lambda d: d.decision == "ALLOW")
    finally:
        service_side.close()
        operator_side.close()
