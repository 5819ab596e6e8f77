"""A deadline timer: one daemon thread that calls callbacks when their deadlines pass.

Detection needs to act at the moment a condition becomes true (a call has been in flight too
long, the newest tick has just become too old) rather than at the next poll. Starting a
``threading.Timer`` per exchange call would start a thread per call; this keeps one thread and
a heap of deadlines instead. Deadlines are on the real monotonic clock, because they are real
thread waits (the same reason :mod:`tradeguard.sources.slot` waits on it).
"""

from __future__ import annotations

import heapq
import itertools
import math
import threading
import time
from collections.abc import Callable

from .logging import get_logger

_log = get_logger(__name__)

BUSY_TICK_S = 0.05
"""While deadlines keep coming, the thread looks at its heap this often instead of being woken
by each new deadline (one wake-up per exchange call cost more than the call)."""


class DeadlineTimer:
    """Call each scheduled callback once its delay has passed, unless it was cancelled.

    Callbacks run on the timer's thread, one after the other; they must be short (set a flag,
    notify listeners). One that raises is logged and the timer goes on.

    Args:
        name: Name of the thread (for debugging).
        monotonic: Where "now" comes from (the real monotonic clock by default).
    """

    def __init__(self, name: str, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self._monotonic = monotonic
        self._cond = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int]] = []
        self._callbacks: dict[int, Callable[[], object]] = {}
        self._ids = itertools.count(1)
        self._thread: threading.Thread | None = None
        self._closed = False
        # When the sleeping thread will look at the heap anyway (-inf: it is awake, and will
        # look before it sleeps again); a deadline before that must wake it.
        self._wake_at = -math.inf
        self._scheduled = False

    def schedule(self, delay_s: float, callback: Callable[[], object]) -> int:
        """Call ``callback`` after ``delay_s`` seconds; return a token for :meth:`cancel`."""
        deadline = self._monotonic() + max(0.0, delay_s)
        with self._cond:
            token = next(self._ids)
            if self._closed:
                return token
            self._callbacks[token] = callback
            heapq.heappush(self._heap, (deadline, token))
            self._scheduled = True
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name=f"deadline-{self.name}", daemon=True
                )
                self._thread.start()
            elif deadline < self._wake_at:
                self._cond.notify()
        return token

    def cancel(self, token: int) -> bool:
        """Forget the callback of ``token``; return True when it had not run yet."""
        with self._cond:
            return self._callbacks.pop(token, None) is not None

    @property
    def pending(self) -> int:
        """How many callbacks are scheduled and not yet run or cancelled."""
        with self._cond:
            return len(self._callbacks)

    def close(self) -> None:
        """Stop the thread; scheduled callbacks are dropped."""
        with self._cond:
            self._closed = True
            self._callbacks.clear()
            self._heap.clear()
            self._cond.notify_all()

    def _due(self) -> list[Callable[[], object]] | None:
        # Wait (lock held) until something is due; None when closed.
        while not self._closed:
            while self._heap and self._heap[0][1] not in self._callbacks:
                heapq.heappop(self._heap)  # cancelled
            now = self._monotonic()
            if not self._heap:
                if self._scheduled:  # busy: look again after a tick, unless woken sooner
                    self._sleep(now, BUSY_TICK_S)
                else:  # idle: sleep until a deadline comes
                    self._sleep(now, math.inf)
                continue
            if self._heap[0][0] > now:
                self._sleep(now, self._heap[0][0] - now)
                continue
            due = []
            while self._heap and self._heap[0][0] <= now:
                _, token = heapq.heappop(self._heap)
                callback = self._callbacks.pop(token, None)
                if callback is not None:
                    due.append(callback)
            return due
        return None

    def _sleep(self, now: float, seconds: float) -> None:
        # A deadline scheduled meanwhile wakes the thread only if it is due before the thread
        # would look at the heap anyway.
        self._scheduled = False
        self._wake_at = now + seconds
        self._cond.wait(None if math.isinf(seconds) else seconds)
        self._wake_at = -math.inf

    def _run(self) -> None:
        while True:
            with self._cond:
                due = self._due()
            if due is None:
                return
            for callback in due:
                try:
                    callback()
                except Exception as exc:  # one bad callback must not stop the others
                    _log.error("deadline_callback_failed", timer=self.name, error=repr(exc))


__all__ = ["DeadlineTimer"]
