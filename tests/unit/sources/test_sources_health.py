"""HealthVerificationModule and its named checks."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tradeguard.codes import ErrorCode
from tradeguard.feeds.market_data import MarketDataTracker
from tradeguard.policy import HealthStatus
from tradeguard.sources import (
    AuditWritableCheck,
    CheckResult,
    CheckStatus,
    ClockSyncCheck,
    EventFeedCheck,
    ExchangeReachableCheck,
    ExchangeTimeSynchronizer,
    HealthVerificationModule,
    MarketDataFreshCheck,
    ReconciliationCheck,
)

from .fakes import NOW, FakeExchangeClock, fake_clock, unreachable


class Fixed:
    def __init__(self, name: str, status: CheckStatus, code: str = "X") -> None:
        self.name = name
        self.result = CheckResult(name, status, code)

    def check(self) -> CheckResult:
        return self.result


class Raising:
    name = "broken"

    def check(self) -> CheckResult:
        raise RuntimeError("boom")


class Garbage:
    name = "garbage"

    def check(self) -> CheckResult:
        return "GREEN"  # type: ignore[return-value]


G, Y, R, N = CheckStatus.GREEN, CheckStatus.YELLOW, CheckStatus.RED, CheckStatus.NOT_CONFIGURED


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([], HealthStatus.GREEN),
        ([G, G], HealthStatus.GREEN),
        ([G, N], HealthStatus.GREEN),
        ([N, N], HealthStatus.GREEN),
        ([G, Y, N], HealthStatus.YELLOW),
        ([Y, R, G], HealthStatus.RED),
        ([R, N], HealthStatus.RED),
    ],
)
def test_health_overall_is_worst_configured_check(
    statuses: list[CheckStatus], expected: HealthStatus
) -> None:
    module = HealthVerificationModule([Fixed(f"c{i}", s) for i, s in enumerate(statuses)])
    assert module.status() is expected
    assert [r.status for r in module.results()] == statuses


def test_health_check_that_raises_or_answers_garbage_counts_red() -> None:
    module = HealthVerificationModule([Fixed("ok", G), Raising(), Garbage()])
    report = module.report()
    assert report.status is HealthStatus.RED
    assert [(r.name, r.status, r.code) for r in report.results[1:]] == [
        ("broken", R, ErrorCode.TPP_004),
        ("garbage", R, ErrorCode.TPP_004),
    ]
    assert module.last_report is report


def test_exchange_reachable_red_after_timeout_or_before_first_success() -> None:
    clock = fake_clock()
    last: list[float | None] = [None]
    check = ExchangeReachableCheck(lambda: last[0], clock, timeout_s=10)
    assert check.name == "exchange_reachable"
    assert check.check().code == ErrorCode.EXCHANGE_UNREACHABLE
    last[0] = clock.monotonic()
    clock.advance(10)
    assert check.check().status is G
    clock.advance(0.5)
    result = check.check()
    assert (result.status, result.code) == (R, ErrorCode.EXCHANGE_UNREACHABLE)


def test_market_data_fresh_yellow_names_stale_and_missing_symbols() -> None:
    clock = fake_clock()
    tracker = MarketDataTracker(clock)
    check = MarketDataFreshCheck(tracker, ["BTCUSDT", "ETHUSDT"], max_age_s=30)
    tracker.record("BTCUSDT", NOW)
    tracker.record("ETHUSDT", NOW - timedelta(seconds=29))
    assert check.check().status is G
    clock.advance(2)
    result = check.check()
    assert (result.status, result.code) == (Y, ErrorCode.MARKET_DATA_STALE)
    assert "ETHUSDT" in result.detail and "BTCUSDT" not in result.detail
    assert MarketDataFreshCheck(tracker, ["XRPUSDT"], 30).check().status is Y


def test_clock_sync_check_follows_synchronizer_and_distrusts_old_syncs() -> None:
    clock = fake_clock()
    exchange = FakeExchangeClock(clock)
    sync = ExchangeTimeSynchronizer(exchange, clock, max_drift_ms=1000, sync_interval_seconds=60)
    check = ClockSyncCheck(sync)
    assert check.check().code == ErrorCode.EXCHANGE_TIME_UNAVAILABLE  # before the first sync
    sync.sync_time("c1")
    assert check.check().status is G
    exchange.skew_ms = 1500
    sync.sync_time("c2")
    assert (check.check().status, check.check().code) == (Y, ErrorCode.EXCHANGE_TIME_DRIFT)
    exchange.failure = unreachable()
    sync.sync_time("c3")
    assert check.check().code == ErrorCode.EXCHANGE_TIME_UNAVAILABLE
    exchange.failure, exchange.skew_ms = None, 0
    sync.sync_time("c4")
    assert check.check().status is G
    clock.advance(181)
    assert check.check().code == ErrorCode.EXCHANGE_TIME_UNAVAILABLE


def test_event_feed_check_not_configured_connected_and_disconnected() -> None:
    assert EventFeedCheck(None).check().status is N
    assert EventFeedCheck(lambda: True).check().status is G
    result = EventFeedCheck(lambda: False).check()
    assert (result.name, result.status, result.code) == ("event_feed", Y, "FEED_DISCONNECTED")


def test_reconciliation_check_yellow_while_pending() -> None:
    assert ReconciliationCheck(lambda: False).check().status is G
    result = ReconciliationCheck(lambda: True).check()
    assert (result.name, result.status, result.code) == (
        "reconciliation",
        Y,
        ErrorCode.RECONCILIATION_PENDING,
    )


def test_audit_writable_check_red_when_ping_raises_and_caches_briefly() -> None:
    now = [0.0]
    calls: list[int] = []
    failing = [False]

    def ping() -> None:
        calls.append(1)
        if failing[0]:
            raise OSError("disk full")

    check = AuditWritableCheck(ping, cache_seconds=1.0, monotonic=lambda: now[0])
    assert check.check().status is G
    failing[0] = True
    assert check.check().status is G  # cached
    assert len(calls) == 1
    now[0] = 1.0
    result = check.check()
    assert (result.name, result.status, result.code) == ("audit_store", R, "AUDIT_UNAVAILABLE")
    assert len(calls) == 2


def test_health_check_names_are_the_spec_names() -> None:
    clock = fake_clock()
    sync = ExchangeTimeSynchronizer(FakeExchangeClock(clock), clock)
    checks = [
        ExchangeReachableCheck(lambda: None, clock, 1),
        MarketDataFreshCheck(MarketDataTracker(clock), [], 1),
        ClockSyncCheck(sync),
        EventFeedCheck(None),
        ReconciliationCheck(lambda: False),
        AuditWritableCheck(lambda: None),
    ]
    assert [c.name for c in checks] == [
        "exchange_reachable",
        "market_data_fresh",
        "clock_sync",
        "event_feed",
        "reconciliation",
        "audit_store",
    ]
