"""MarketDataTracker: ages from the exchange's own tick timestamps."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import pytest

from tradeguard.errors import InvalidInputError
from tradeguard.feeds.market_data import MarketDataTracker

from .fakes import NOW, fake_clock


def test_market_data_age_is_now_minus_exchange_tick_time() -> None:
    clock = fake_clock()
    tracker = MarketDataTracker(clock)
    assert tracker.age_seconds("BTCUSDT") is None
    tracker.record("BTCUSDT", NOW - timedelta(seconds=3))
    assert tracker.age_seconds("BTCUSDT") == 3
    clock.advance(10)
    assert tracker.age_seconds("BTCUSDT") == 13


def test_market_data_frozen_timestamps_grow_stale_even_when_ticks_arrive() -> None:
    clock = fake_clock()
    tracker = MarketDataTracker(clock)
    frozen = NOW - timedelta(hours=2)
    for _ in range(3):
        tracker.record("BTCUSDT", frozen)
        clock.advance(1)
    assert tracker.age_seconds("BTCUSDT") == pytest.approx(7203)


def test_market_data_tick_far_in_future_is_untrusted_not_fresh() -> None:
    tracker = MarketDataTracker(fake_clock(), future_tolerance_s=5)
    tracker.record("A", NOW + timedelta(seconds=2))
    tracker.record("B", NOW + timedelta(days=1))
    assert tracker.age_seconds("A") == 0
    assert tracker.age_seconds("B") == math.inf


def test_market_data_refuses_naive_timestamps_and_empty_symbols() -> None:
    tracker = MarketDataTracker(fake_clock())
    with pytest.raises(InvalidInputError):
        tracker.record("BTCUSDT", datetime(2026, 3, 1, 12))
    with pytest.raises(InvalidInputError):
        tracker.record("", NOW)


def test_market_data_snapshot_lists_every_symbol_with_its_age() -> None:
    tracker = MarketDataTracker(fake_clock())
    tracker.record("ETHUSDT", NOW - timedelta(seconds=1))
    tracker.record("BTCUSDT", NOW)
    snapshot = tracker.snapshot()
    assert list(snapshot) == ["BTCUSDT", "ETHUSDT"]
    assert snapshot["ETHUSDT"].age_seconds == 1
