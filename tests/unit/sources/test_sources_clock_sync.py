"""ExchangeTimeSynchronizer: NTP-style estimate, logging, hook, failures."""

from __future__ import annotations

from datetime import datetime

import pytest
from structlog.testing import capture_logs

from tradeguard.codes import ErrorCode
from tradeguard.sources import ExchangeTimeSynchronizer, TimeSyncResult

from .fakes import FakeExchangeClock, fake_clock, unreachable


def test_clock_sync_estimates_drift_at_midpoint_with_rtt_uncertainty() -> None:
    clock = fake_clock()
    exchange = FakeExchangeClock(clock, skew_ms=250, latency_s=0.1)
    result = ExchangeTimeSynchronizer(exchange, clock).sync_time("cid-1")
    # The exchange stamps its time mid-flight: the midpoint estimate recovers the skew exactly.
    assert result.drift_ms == pytest.approx(250)
    assert result.rtt_ms == pytest.approx(100)
    assert result.uncertainty_ms == pytest.approx(50)
    assert result.is_within_tolerance is True
    assert result.error_code is None
    assert result.correlation_id == "cid-1"


def test_clock_sync_logs_drift_every_sync_and_calls_metric_hook() -> None:
    clock = fake_clock()
    seen: list[TimeSyncResult] = []
    sync = ExchangeTimeSynchronizer(
        FakeExchangeClock(clock, skew_ms=-40), clock, on_result=seen.append
    )
    with capture_logs() as logs:
        sync.sync_time("a")
        sync.sync_time("b")
    synced = [line for line in logs if line["event"] == "exchange_time_synced"]
    assert [line["drift_ms"] for line in synced] == [-40, -40]
    assert [r.correlation_id for r in seen] == ["a", "b"]
    assert sync.last_result is seen[-1]


def test_clock_sync_drift_exceeded_logs_code_then_recovery_clears_it() -> None:
    clock = fake_clock()
    exchange = FakeExchangeClock(clock, skew_ms=-1500)
    sync = ExchangeTimeSynchronizer(exchange, clock, max_drift_ms=1000)
    with capture_logs() as logs:
        result = sync.sync_time("a")
        exchange.skew_ms = 10
        recovered = sync.sync_time("b")
    assert (result.is_within_tolerance, result.error_code) == (False, "EXCHANGE_TIME_DRIFT")
    assert logs[0]["code"] == ErrorCode.EXCHANGE_TIME_DRIFT
    assert recovered.error_code is None
    assert any(line["event"] == "exchange_time_recovered" for line in logs)


@pytest.mark.parametrize(
    "answer",
    ["2026-03-01T12:00:00Z", 1740830400, None, datetime(2026, 3, 1, 12)],
)
def test_clock_sync_garbage_answer_is_unavailable(answer: object) -> None:
    clock = fake_clock()
    exchange = FakeExchangeClock(clock)
    exchange.answer = answer if answer is not None else object()
    result = ExchangeTimeSynchronizer(exchange, clock).sync_time("g")
    assert result.error_code == ErrorCode.EXCHANGE_TIME_UNAVAILABLE
    assert result.drift_ms is None and result.exchange_time_utc is None
    assert result.is_within_tolerance is False


def test_clock_sync_unreachable_exchange_is_unavailable_and_logged() -> None:
    clock = fake_clock()
    exchange = FakeExchangeClock(clock)
    exchange.failure = unreachable()
    with capture_logs() as logs:
        result = ExchangeTimeSynchronizer(exchange, clock).sync_time("u")
    assert result.error_code == ErrorCode.EXCHANGE_TIME_UNAVAILABLE
    assert "connection refused" in result.detail
    assert logs[0]["event"] == "exchange_time_unavailable"
    assert logs[0]["code"] == ErrorCode.EXCHANGE_TIME_UNAVAILABLE


def test_clock_sync_broken_metric_hook_does_not_break_sync() -> None:
    clock = fake_clock()

    def broken(_: TimeSyncResult) -> None:
        raise RuntimeError("metrics down")

    sync = ExchangeTimeSynchronizer(FakeExchangeClock(clock), clock, on_result=broken)
    assert sync.sync_time("x").is_within_tolerance is True


def test_clock_sync_result_to_dict_uses_z_timestamps() -> None:
    clock = fake_clock()
    data = ExchangeTimeSynchronizer(FakeExchangeClock(clock), clock).sync_time("x").to_dict()
    assert data["exchange_time_utc"].endswith("Z")
    assert data["error_code"] is None
