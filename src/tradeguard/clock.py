"""Clocks: the system clock and a controllable fake for tests and the simulator."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from .policy.clock import SystemClock
from .policy.ports import Clock


class FakeClock:
    """A clock that moves only when told to; thread-safe."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start if start is not None else datetime(2026, 1, 1, tzinfo=UTC)
        self._monotonic = 1000.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """Return the fake wall-clock time."""
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        """Return the fake monotonic reading."""
        with self._lock:
            return self._monotonic

    def advance(self, seconds: float) -> None:
        """Move both clocks forward by ``seconds``."""
        with self._lock:
            self._now += timedelta(seconds=seconds)
            self._monotonic += seconds

    def set(self, moment: datetime) -> None:
        """Set the wall clock (the monotonic clock is unaffected)."""
        with self._lock:
            self._now = moment


__all__ = ["Clock", "FakeClock", "SystemClock"]
