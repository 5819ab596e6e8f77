"""Coalesce the webhook's signals into batches for ``Gate.submit_many``.

Every request handing its signal to a gate thread costs a thread hand-off, a GIL hand-off and
a durable commit of its own (group commit merges commits, not hand-offs). The batcher lives
on the event loop: a signal that arrives while all ``workers`` batches are in flight waits in
a list; when a batch finishes, the waiting signals leave together, up to ``max_batch``, in
one hand-off and one durable write of all their decisions. Under light load every batch holds
one signal, so nothing waits for company.

Orders of a batch are placed one after the other, so batches are only worth it when placing
an order is an in-process call (the paper exchange); for a remote exchange the webhook uses
``max_batch=1`` and more workers, which keeps the orders of concurrent signals concurrent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from .runner import GateRunner

S = TypeVar("S")
R = TypeVar("R")

SubmitMany = Callable[[Sequence[S]], list[R | Exception]]


class SignalBatcher(Generic[S, R]):
    """Run ``submit_many`` on batches of the signals that arrive together.

    Args:
        submit_many: The gate's batch entry point; one answer or exception per signal.
        workers: Batches in flight at once (threads).
        max_batch: Most signals in one batch.
        name: Thread name prefix.
    """

    def __init__(
        self, submit_many: SubmitMany[S, R], *, workers: int, max_batch: int, name: str
    ) -> None:
        self._runner: GateRunner[Sequence[S], list[R | Exception]] = GateRunner(
            submit_many, workers=workers, name=name
        )
        self._workers = workers
        self._max_batch = max(1, max_batch)
        self._waiting: list[tuple[S, asyncio.Future[R]]] = []
        self._in_flight = 0

    async def submit(self, signal: S) -> R:
        """Return the gate's answer for ``signal`` (raise what the gate raised for it)."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((signal, future))
        if self._in_flight < self._workers:
            self._send()
        return await future

    def close(self) -> None:
        """Finish the batches in flight and stop the threads."""
        self._runner.close()

    def _send(self) -> None:
        batch = self._waiting[: self._max_batch]
        del self._waiting[: self._max_batch]
        self._in_flight += 1
        job = self._runner.run([signal for signal, _ in batch])
        job.add_done_callback(lambda done: self._settle(batch, done))

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


__all__ = ["SignalBatcher", "SubmitMany"]
