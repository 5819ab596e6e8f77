"""Leader election and the leader's publication on a real PostgreSQL database."""

from __future__ import annotations

import time
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from tradeguard.audit.postgres import PostgresAuditStore, connect
from tradeguard.clock import FakeClock
from tradeguard.feeds.market_data import MarketDataTracker
from tradeguard.leadership import LeaderElection, follow_status, publish_status
from tradeguard.sources.clock_sync import ExchangeTimeSynchronizer


def _wait_for(condition: Any, deadline_s: float = 10) -> bool:
    deadline = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_one_leader_at_a_time_and_a_lost_leader_is_replaced(postgres_url):
    events: list[str] = []
    elections = [
        LeaderElection(
            postgres_url,
            "acct",
            on_elected=lambda i=i: events.append(f"elected {i}"),
            on_lost=lambda i=i: events.append(f"lost {i}"),
            interval_s=0.05,
        )
        for i in range(2)
    ]
    try:
        for election in elections:
            election.start()
        assert [e.is_leader for e in elections] == [True, False]
        elections[0].stop()  # its session ends: the lock is free
        assert _wait_for(lambda: elections[1].is_leader)
        assert events == ["elected 0", "elected 1"]
    finally:
        for election in elections:
            election.stop()


def test_another_account_elects_its_own_leader(postgres_url):
    first = LeaderElection(postgres_url, "a", on_elected=lambda: None, on_lost=lambda: None)
    second = LeaderElection(postgres_url, "b", on_elected=lambda: None, on_lost=lambda: None)
    try:
        assert first.try_once() and second.try_once()
    finally:
        first.stop()
        second.stop()


class _Exchange:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.last_success_monotonic: float | None = None

    def server_time(self) -> Any:
        return self.clock.now()

    def note_success(self, age_seconds: float) -> None:
        self.last_success_monotonic = self.clock.monotonic() - age_seconds


def _container(clock: FakeClock) -> Any:
    exchange = _Exchange(clock)
    return SimpleNamespace(
        clock=clock,
        market_data=MarketDataTracker(clock),
        time_sync=ExchangeTimeSynchronizer(exchange, clock, sync_interval_seconds=1),
        exchange=exchange,
        feed=SimpleNamespace(connected=True),
    )


def test_a_follower_copies_a_fresh_publication_and_fails_closed_on_a_stale_one(postgres_url):
    PostgresAuditStore(postgres_url).close()
    clock = FakeClock()
    leader, follower = _container(clock), _container(clock)
    leader.market_data.record("BTCUSDT", clock.now())
    leader.time_sync.sync_time("c1")
    leader.exchange.last_success_monotonic = clock.monotonic()
    conn = connect(postgres_url, autocommit=True)
    try:
        publish_status(leader, conn, "acct")
        clock.advance(0.5)
        assert follow_status(follower, conn, "acct")
        assert follower.market_data.age_seconds("BTCUSDT") == 0.5
        assert follower.time_sync.last_result is not None
        assert not follower.time_sync.is_stale()
        assert follower.exchange.last_success_monotonic == clock.monotonic() - 0.5
        assert follower.feed.connected is True
        clock.advance(10)  # the leader stopped publishing
        assert not follow_status(follower, conn, "acct")
        assert follower.feed.connected is False
        assert follower.time_sync.is_stale()  # it ages as it would have at the leader
        assert follower.market_data.age_seconds("BTCUSDT") == 10.5
        clock.set(clock.now() - timedelta(seconds=20))  # a publication from the future
        assert not follow_status(follower, conn, "acct")
    finally:
        conn.close()
