"""Combine the calls of concurrent threads into batches.

Every thread that calls :meth:`Combiner.submit` queues its item and sleeps; ``lanes`` worker
threads each take up to ``max_batch`` queued items at once, run ``call_many`` on them and hand
every caller its answer. Nothing waits for company: under light load a batch holds one item.
Under load, the items that arrive while a batch is in flight leave together in the next one.

Used by :class:`~tradeguard.execution.dispatcher.SignalDispatcher`: the signals of concurrent
producer threads are decided by ``Gate.submit_many``, two durable writes per batch instead of
two per signal, and with two lanes one batch is prepared while the other one commits.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

GATHER_YIELDS = 4
"""How many times a lane lets newly submitted items join before it takes a batch."""

CallMany = Callable[[Sequence[T]], Sequence[R | Exception]]


class _Slot(Generic[T, R]):
    # One caller's item and its answer; ``ready`` is held until the answer is in.
    __slots__ = ("answer", "item", "ready")

    def __init__(self, item: T) -> None:
        self.item = item
        self.answer: R | BaseException | None = None
        self.ready = threading.Lock()
        self.ready.acquire()


class Combiner(Generic[T, R]):
    """Run ``call_many`` on batches of the items that concurrent callers submit together.

    Args:
        call_many: Answers a batch: one result, or the exception to raise, per item in order.
        lanes: Batches in flight at once (worker threads, started on first use).
        max_batch: Most items in one batch.
        name: Thread name prefix.
    """

    def __init__(
        self, call_many: CallMany[T, R], *, lanes: int = 2, max_batch: int = 32, name: str
    ) -> None:
        self._call_many = call_many
        self._lanes = max(1, lanes)
        self._max_batch = max(1, max_batch)
        self._name = name
        self._cond = threading.Condition(threading.Lock())
        self._queue: deque[_Slot[T, R]] = deque()
        self._threads: list[threading.Thread] = []

    def submit(self, item: T) -> R:
        """Return the answer for ``item`` (raise the exception ``call_many`` gave for it)."""
        slot: _Slot[T, R] = _Slot(item)
        with self._cond:
            if not self._threads:
                self._start()
            self._queue.append(slot)
            self._cond.notify()
        slot.ready.acquire()
        answer = slot.answer
        if isinstance(answer, BaseException):
            raise answer
        return answer  # type: ignore[return-value]  # an R: every slot is answered

    def _start(self) -> None:
        for index in range(self._lanes):
            thread = threading.Thread(target=self._work, name=f"{self._name}-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _take(self) -> list[_Slot[T, R]]:
        with self._cond:
            while not self._queue:
                self._cond.wait()
        # The callers just answered are waking up to submit again: give them the GIL for a
        # moment so their items join this batch instead of waiting for the next one.
        queued = len(self._queue)
        for _ in range(GATHER_YIELDS):
            if queued >= self._max_batch:
                break
            time.sleep(0)
            if len(self._queue) == queued:
                break
            queued = len(self._queue)
        with self._cond:
            count = min(self._max_batch, len(self._queue))
            return [self._queue.popleft() for _ in range(count)]

    def _work(self) -> None:
        while True:
            batch = self._take()
            answers: Sequence[R | BaseException]
            try:
                answers = self._call_many([slot.item for slot in batch])
                if len(answers) != len(batch):
                    error = RuntimeError(f"{len(answers)} answers for {len(batch)} items")
                    answers = [error] * len(batch)
            except BaseException as exc:  # every caller of the batch gets it; none waits on
                answers = [exc] * len(batch)
            for slot, answer in zip(batch, answers, strict=True):
                slot.answer = answer
                slot.ready.release()


__all__ = ["CallMany", "Combiner"]
