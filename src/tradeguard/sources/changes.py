"""Tell the parts that cache or record health that a health condition just changed.

The exchange's reachability, market data staleness and the event feed's connection each change
at a moment that is known (a failed call, a tick turning too old, a dropped stream). Whoever
sees the change calls :meth:`HealthChanges.notify`; the composition root subscribes the policy
builder (it drops its cached health answer, so the next decision asks again) and the
background work subscribes the heartbeat (it evaluates and records the transition at once).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from ..logging import get_logger

_log = get_logger(__name__)


class HealthChanges:
    """A list of subscribers called, in order, on every health change; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: list[Callable[[], object]] = []
        self.notified = 0

    def subscribe(self, subscriber: Callable[[], object]) -> None:
        """Call ``subscriber()`` on every change from now on."""
        with self._lock:
            self._subscribers.append(subscriber)

    def unsubscribe(self, subscriber: Callable[[], object]) -> None:
        """Stop calling ``subscriber`` (no error when it was not subscribed)."""
        with self._lock:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

    def notify(self, *_reason: object) -> None:
        """Tell every subscriber that a condition changed (arguments are ignored)."""
        with self._lock:
            subscribers = tuple(self._subscribers)
            self.notified += 1
        for subscriber in subscribers:
            try:
                subscriber()
            except Exception as exc:  # one subscriber must not hide the change from the rest
                _log.error("health_change_subscriber_failed", error=repr(exc))


__all__ = ["HealthChanges"]
