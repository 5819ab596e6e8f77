"""Market data freshness: the newest tick time of every symbol, as the exchange stamped it.

The tracker is fed by whatever sees ticks (the exchange adapter's ticker, the event feed) and
read by the ``market_data_fresh`` health check. Ages come from the injected clock's wall time
minus the exchange's own tick timestamp, so frozen exchange timestamps read as stale data even
when ticks keep arriving.

Given ``max_age_s`` and ``on_change``, the tracker also says *when* a symbol turns stale or
fresh: at the moment a tick arrives that changes it, and, through a deadline timer, at the
moment the newest tick becomes older than ``max_age_s`` (not at the next poll of the health).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from ..codes import ErrorCode
from ..errors import InvalidInputError
from ..policy import Clock
from ..timers import DeadlineTimer

UNTRUSTED_AGE = math.inf
"""The age reported for a tick stamped too far in the future to be believed."""


@dataclass(frozen=True, slots=True)
class MarketTick:
    """The newest tick seen for one symbol and its age when the snapshot was taken."""

    symbol: str
    timestamp_utc: datetime
    age_seconds: float


class MarketDataTracker:
    """Keep the newest exchange tick timestamp per symbol; thread-safe.

    Args:
        clock: Where "now" comes from.
        future_tolerance_s: A tick stamped further than this ahead of the local clock cannot
            be trusted (a garbage or badly skewed timestamp): its age reads as infinite, so the
            symbol counts as stale instead of looking fresh until that moment arrives.
        max_age_s: A tick older than this is stale (None: the tracker does not watch ages).
        on_change: Called (with the symbol) when a symbol turns stale or fresh.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        future_tolerance_s: float = 5.0,
        max_age_s: float | None = None,
        on_change: Callable[[str], object] | None = None,
    ) -> None:
        self._clock = clock
        self._future_tolerance_s = future_tolerance_s
        self._ticks: dict[str, datetime] = {}
        self._lock = threading.Lock()
        self._max_age_s = max_age_s
        self._on_change = on_change
        self._stale: dict[str, bool] = {}
        self._expiry: dict[str, int] = {}
        watching = max_age_s is not None and on_change is not None
        self._timer = DeadlineTimer("market-data") if watching else None

    def record(self, symbol: str, timestamp_utc: datetime) -> None:
        """Record a tick of ``symbol`` stamped ``timestamp_utc`` by the exchange or feed.

        The latest received tick wins (not the largest timestamp), so a frozen feed that keeps
        repeating an old stamp makes the symbol stale.

        Raises:
            InvalidInputError: When the symbol is empty or the timestamp has no timezone.
        """
        if not isinstance(symbol, str) or not symbol:
            raise InvalidInputError(
                ErrorCode.INPUT_INVALID_VALUE, "symbol must be a non-empty string", field="symbol"
            )
        if not isinstance(timestamp_utc, datetime) or timestamp_utc.utcoffset() is None:
            raise InvalidInputError(
                ErrorCode.INPUT_INVALID_VALUE,
                "tick timestamp must be a timezone-aware datetime",
                field="timestamp_utc",
            )
        stamp = timestamp_utc.astimezone(UTC)
        with self._lock:
            self._ticks[symbol] = stamp
        if self._timer is not None:
            self._watch(symbol, stamp)

    def close(self) -> None:
        """Stop the staleness timer (when watching)."""
        if self._timer is not None:
            self._timer.close()

    def _watch(self, symbol: str, stamp: datetime) -> None:
        # Re-arm the symbol's timer for the moment ``stamp`` becomes too old; report a change.
        max_age = self._max_age_s
        timer = self._timer
        if max_age is None or timer is None:
            return
        age = self._age(stamp, self._clock.now())
        stale = age > max_age
        with self._lock:
            if self._ticks.get(symbol) != stamp:
                return  # a newer tick arrived meanwhile; its own call watches it
            changed = self._stale.get(symbol) is not stale
            self._stale[symbol] = stale
            previous = self._expiry.pop(symbol, None)
            if not stale:
                # 1 ms past the limit, so the check (age > max age) agrees when it fires.
                self._expiry[symbol] = timer.schedule(
                    max_age - age + 0.001, lambda: self._watch(symbol, stamp)
                )
        if previous is not None:
            timer.cancel(previous)
        if changed and self._on_change is not None:
            self._on_change(symbol)

    def age_seconds(self, symbol: str) -> float | None:
        """Return how old the newest tick of ``symbol`` is, or None when none was seen."""
        with self._lock:
            stamp = self._ticks.get(symbol)
        if stamp is None:
            return None
        return self._age(stamp, self._clock.now())

    def snapshot(self) -> dict[str, MarketTick]:
        """Return every tracked symbol's newest tick and its age now."""
        now = self._clock.now()
        with self._lock:
            ticks = dict(self._ticks)
        return {
            symbol: MarketTick(symbol, stamp, self._age(stamp, now))
            for symbol, stamp in sorted(ticks.items())
        }

    def _age(self, stamp: datetime, now: datetime) -> float:
        age = (now - stamp).total_seconds()
        if age < -self._future_tolerance_s:
            return UNTRUSTED_AGE
        return max(0.0, age)


__all__ = ["UNTRUSTED_AGE", "MarketDataTracker", "MarketTick"]
