"""Health changes are known when they happen: stale-data timers, wakes and cache invalidation."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from tradeguard.clock import FakeClock, SystemClock
from tradeguard.codes import ErrorCode
from tradeguard.errors import ExchangeUnavailableError
from tradeguard.exchange import ExchangeReachability, MonitoredExchange, PaperExchange
from tradeguard.feeds.market_data import MarketDataTracker
from tradeguard.policy import HealthStatus
from tradeguard.sources import (
    ExchangeReachableCheck,
    HealthVerificationModule,
    MarketDataFreshCheck,
    PolicyContextBuilder,
)
from tradeguard.sources.changes import HealthChanges
from tradeguard.sources.periodic import PeriodicTask

from .fakes import StaticBudget, StaticKill, StaticRisk


def test_a_tick_turns_stale_by_timer_at_the_moment_it_gets_too_old() -> None:
    changed = threading.Event()
    seen: list[tuple[str, float | None]] = []
    tracker: MarketDataTracker

    def on_change(symbol: str) -> None:
        seen.append((symbol, tracker.age_seconds(symbol)))
        if len(seen) == 2:
            changed.set()

    tracker = MarketDataTracker(SystemClock(), max_age_s=0.3, on_change=on_change)
    try:
        stamped = datetime.now(UTC) - timedelta(seconds=0.2)
        recorded = time.monotonic()
        tracker.record("BTCUSDT", stamped)
        assert changed.wait(10), "the stale timer never fired"
        fired_after = time.monotonic() - recorded
    finally:
        tracker.close()
    (first, fresh_age), (second, stale_age) = seen
    assert (first, second) == ("BTCUSDT", "BTCUSDT")
    assert fresh_age is not None and fresh_age < 0.3  # the first tick: fresh
    assert stale_age is not None and stale_age > 0.3  # the timer: just past the limit
    assert fired_after >= 0.09  # not before the tick was 0.3 s old (0.1 s after recording)


def test_a_newer_tick_rearms_the_timer_and_a_stale_tick_reports_at_once() -> None:
    clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
    changes: list[str] = []
    tracker = MarketDataTracker(clock, max_age_s=30, on_change=changes.append)
    try:
        tracker.record("BTCUSDT", clock.now())
        tracker.record("BTCUSDT", clock.now())  # still fresh: no second change
        assert changes == ["BTCUSDT"]
        tracker.record("BTCUSDT", clock.now() - timedelta(hours=2))  # frozen in the past
        assert changes == ["BTCUSDT", "BTCUSDT"]
        tracker.record("BTCUSDT", clock.now())  # fresh again
        assert len(changes) == 3
    finally:
        tracker.close()


def test_periodic_task_wake_runs_the_action_at_once() -> None:
    ran = threading.Semaphore(0)
    task = PeriodicTask("wake-test", 3600, ran.release)
    task.start()
    try:
        assert ran.acquire(timeout=10)  # the first run at start
        started = time.monotonic()
        task.wake()
        assert ran.acquire(timeout=10)
        assert time.monotonic() - started < 3600
    finally:
        task.stop()


def test_health_changes_call_every_subscriber_even_after_one_fails() -> None:
    changes = HealthChanges()
    calls: list[str] = []

    def boom() -> None:
        raise RuntimeError("boom")

    changes.subscribe(boom)
    changes.subscribe(lambda: calls.append("second"))
    changes.notify("anything")
    changes.unsubscribe(boom)
    changes.unsubscribe(boom)
    changes.notify()
    assert calls == ["second", "second"] and changes.notified == 2


def test_a_failed_call_reaches_the_builder_at_once_despite_its_cached_health() -> None:
    # The builder reuses a health answer for a whole minute here; only the invalidation can
    # make the next build see the failure.
    clock = FakeClock()
    changes = HealthChanges()
    reachability = ExchangeReachability(clock)
    reachability.add_listener(changes.notify)
    inner = PaperExchange(clock)
    exchange = MonitoredExchange(inner, clock, reachability=reachability)
    exchange.ticker("BTCUSDT")
    tracker = MarketDataTracker(clock)
    tracker.record("BTCUSDT", clock.now())
    health = HealthVerificationModule(
        [
            ExchangeReachableCheck(
                lambda: exchange.last_success_monotonic, clock, 10, reachability=reachability
            ),
            MarketDataFreshCheck(tracker, ["BTCUSDT"], 30),
        ]
    )
    builder = PolicyContextBuilder(
        StaticKill(), StaticBudget(), health, StaticRisk(), clock, 1.0, max_sample_age_s=60
    )
    changes.subscribe(builder.invalidate)
    try:
        assert builder.build(_cid()).health_status is HealthStatus.GREEN

        def fail() -> None:
            raise ExchangeUnavailableError(ErrorCode.EXCHANGE_UNREACHABLE, "reset")

        inner.balances = fail  # type: ignore[method-assign]
        with pytest.raises(ExchangeUnavailableError):
            exchange.balances()
        assert builder.build(_cid()).health_status is HealthStatus.RED
    finally:
        builder.close()


def _cid() -> str:
    import uuid

    return str(uuid.uuid4())
