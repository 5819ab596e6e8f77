"""Coalesce the webhook's signals into batches for ``Gate.submit_many``/``asubmit_many``.

A signal that arrives while all ``workers`` batches are in flight waits in a list; when a
batch finishes, the waiting signals leave together, up to ``max_batch``, with one durable
write of all their decisions. Under light load every batch holds one signal, so nothing waits
for company.

Two ways to run a batch:

- ``asubmit_many`` (the paper exchange, where placing an order is an in-process call): the
  batch is a task on the event loop that awaits its durable writes (the decisions before the
  first write run on a worker thread, see ``Gate.asubmit_many``); while one batch's rows become
  durable the loop reads the next requests.
- ``submit_many`` (a remote exchange): the blocking gate runs on ``workers`` threads
  (:class:`~.runner.GateRunner`), one signal per batch (``max_batch=1``), so the orders of
  concurrent signals still go out concurrently and a slow exchange never stalls the loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from ..logging import get_logger
from .runner import GateRunner

S = TypeVar("S")
R = TypeVar("R")

SubmitMany = Callable[[Sequence[S]], list[R | Exception]]
AsyncSubmitMany = Callable[[Sequence[S]], Awaitable[list[R | Exception]]]

_log = get_logger("tradeguard.api.batcher")


class SignalBatcher(Generic[S, R]):
    """Run batches of the signals that arrive together.

    Args:
        submit_many: The gate's blocking batch entry point (run on threads), or None.
        asubmit_many: The gate's event-loop batch entry point, or None; exactly one is given.
        workers: Batches in flight at once.
        max_batch: Most signals in one batch.
        name: Thread name prefix.
    """

    def __init__(
        self,
        submit_many: SubmitMany[S, R] | None = None,
        *,
        asubmit_many: AsyncSubmitMany[S, R] | None = None,
        workers: int,
        max_batch: int,
        name: str,
    ) -> None:
        if (submit_many is None) == (asubmit_many is None):
            raise ValueError("give exactly one of submit_many and asubmit_many")
        self._runner: GateRunner[Sequence[S], list[R | Exception]] | None = (
            GateRunner(submit_many, workers=workers, name=name) if submit_many else None
        )
        self._asubmit_many = asubmit_many
        self._workers = workers
        self._max_batch = max(1, max_batch)
        self._waiting: list[tuple[S, asyncio.Future[R]]] = []
        self._in_flight = 0
        self._tasks: set[asyncio.Task[list[R | Exception]]] = set()

    async def submit(self, signal: S) -> R:
        """Return the gate's answer for ``signal`` (raise what the gate raised for it)."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((signal, future))
        if self._in_flight < self._workers:
            self._send()
        return await future

    def close(self) -> None:
        """Finish the batches in flight on threads and stop the threads."""
        if self._runner is not None:
            self._runner.close()

    def _send(self) -> None:
        batch = self._waiting[: self._max_batch]
        del self._waiting[: self._max_batch]
        self._in_flight += 1
        signals = [signal for signal, _ in batch]
        if self._asubmit_many is not None:
            task = asyncio.get_running_loop().create_task(self._run(self._asubmit_many, signals))
            self._tasks.add(task)  # keep a reference until it is done
            task.add_done_callback(self._tasks.discard)
            task.add_done_callback(lambda done: self._settle(batch, done))
        elif self._runner is not None:
            job = self._runner.run(signals)
            job.add_done_callback(lambda done: self._settle(batch, done))

    @staticmethod
    async def _run(call: AsyncSubmitMany[S, R], signals: list[S]) -> list[R | Exception]:
        return await call(signals)

    def _settle(
        self,
        batch: list[tuple[S, asyncio.Future[R]]],
        done: asyncio.Future[list[R | Exception]],
    ) -> None:
        self._in_flight -= 1
        error: BaseException | None = (
            done.exception() if not done.cancelled() else asyncio.CancelledError()
        )
        answers: list[R | BaseException] = list(done.result()) if error is None else []
        if len(answers) != len(batch):  # never leave a request waiting for an answer
            if error is not None and not isinstance(error, asyncio.CancelledError):
                _log.error("gate_batch_failed", error=repr(error), signals=len(batch))
            error = error or RuntimeError(f"{len(answers)} answers for {len(batch)} signals")
            answers = [error] * len(batch)
        for (_, future), answer in zip(batch, answers, strict=True):
            if future.done():  # the request went away; its signal was still decided
                continue
            if isinstance(answer, BaseException):
                future.set_exception(answer)
            else:
                future.set_result(answer)
        while self._waiting and self._in_flight < self._workers:
            self._send()


__all__ = ["AsyncSubmitMany", "SignalBatcher", "SubmitMany"]
