"""One policy source read by its own persistent worker thread, under a timeout.

The caller never runs a source itself, so a source that hangs forever costs the caller at most
its timeout. Answers are kept as samples: a sample asked no longer than ``max_age_s`` ago is
reused without a thread hand-off (the cheap hot path), and a sample past half that age is
refreshed ahead in the background. Waits use the real monotonic clock because they are real
thread waits.

Workers start on the first request and exit after ``idle_exit_s`` without one, so an
unused builder holds no threads. A worker stuck in a hung source is abandoned after its call
is overdue and a fresh worker takes its place, at most ``max_abandoned`` at a time; past that
the source simply keeps failing until one of the stuck calls returns.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Sample:
    """One answer of a source: when it was asked and answered, and what it said or raised."""

    asked_at: float
    answered_at: float
    answer: object
    error: Exception | None


@dataclass(frozen=True, slots=True)
class Pending:
    """No usable sample yet: wait for the call asked at ``asked_at`` until ``deadline``."""

    asked_at: float
    deadline: float


class SourceSlot:
    """Read one source on a persistent worker thread and keep its latest sample."""

    def __init__(
        self,
        name: str,
        read: Callable[[], object],
        *,
        timeout_s: float,
        max_age_s: float,
        max_abandoned: int = 4,
        idle_exit_s: float = 30.0,
    ) -> None:
        self.name = name
        self.timeout_s = timeout_s
        self._read = read
        self._max_age_s = max_age_s
        self._ahead_s = max_age_s / 2
        self._max_abandoned = max_abandoned
        self._idle_exit_s = idle_exit_s
        self._cond = threading.Condition(threading.Lock())
        self.sample: Sample | None = None
        self._valid_from = -math.inf
        self._asked_at: float | None = None
        self._pending = False
        self._generation = 0
        self._abandoned = 0
        self._alive = False
        self._closed = False

    def poll(self, now: float) -> Sample | Pending:
        """Return a usable sample, or what to wait for after asking the source."""
        sample = self.sample
        if (
            sample is not None
            and sample.asked_at >= self._valid_from
            and now - sample.asked_at <= self._max_age_s
        ):
            if now - sample.asked_at > self._ahead_s and self._asked_at is None:
                with self._cond:
                    if self._asked_at is None and not self._closed:
                        self._ask(now)
            return sample
        with self._cond:
            return self._request(now)

    def wait(self, pending: Pending) -> Sample | None:
        """Wait until the call asked at ``pending.asked_at`` answers, or its deadline passes."""
        with self._cond:
            while True:
                sample = self.sample
                if sample is not None and sample.asked_at >= pending.asked_at:
                    return sample
                remaining = pending.deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)

    def invalidate(self) -> None:
        """Forget the current sample and every answer to a call asked before now."""
        with self._cond:
            self._valid_from = time.monotonic()
            self.sample = None

    def close(self) -> None:
        """Stop the idle worker (a worker stuck in its source exits when the source returns)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    # -- called with the lock held ---------------------------------------------------------

    def _request(self, now: float) -> Pending:
        asked = self._asked_at
        if self._closed:
            return Pending(now, now)
        if asked is None or asked < self._valid_from:
            self._ask(now)
            return Pending(now, now + self.timeout_s)
        if now - asked <= self.timeout_s:
            return Pending(asked, asked + self.timeout_s)
        if self._abandoned < self._max_abandoned:
            # The call in flight is overdue: leave its worker behind and start a fresh one.
            self._abandoned += 1
            self._spawn()
            self._ask(now)
            return Pending(now, now + self.timeout_s)
        return Pending(now, now)

    def _ask(self, now: float) -> None:
        self._asked_at = now
        self._pending = True
        if self._alive:
            self._cond.notify_all()
        else:
            self._spawn()

    def _spawn(self) -> None:
        self._generation += 1
        self._alive = True
        worker = threading.Thread(
            target=self._work,
            args=(self._generation,),
            name=f"policy-source-{self.name}-{self._generation}",
            daemon=True,
        )
        worker.start()

    # -- the worker --------------------------------------------------------------------------

    def _work(self, generation: int) -> None:
        while True:
            asked = self._next_call(generation)
            if asked is None:
                return
            try:
                answer, error = self._read(), None
            except Exception as exc:  # kept as the sample; the builder fails the source closed
                answer, error = None, exc
            answered = time.monotonic()
            with self._cond:
                if generation != self._generation:
                    self._abandoned -= 1
                    return
                if not self._pending:
                    self._asked_at = None
                if asked >= self._valid_from:
                    self.sample = Sample(asked, answered, answer, error)
                self._cond.notify_all()

    def _next_call(self, generation: int) -> float | None:
        """Wait for a request; return when it was asked, or None when this worker must exit."""
        with self._cond:
            while not self._pending and not self._closed and generation == self._generation:
                if not self._cond.wait(self._idle_exit_s) and not self._pending:
                    break  # idle for too long: exit; the next request starts a worker
            if self._closed or generation != self._generation or not self._pending:
                if generation == self._generation:
                    self._alive = False
                return None
            self._pending = False
            return self._asked_at if self._asked_at is not None else time.monotonic()


__all__ = ["Pending", "Sample", "SourceSlot"]
