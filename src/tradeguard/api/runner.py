"""A small pool of threads that runs the synchronous gate for the async webhook.

``Gate.submit`` blocks while its records become durable, so it cannot run on the event loop.
``GateRunner`` keeps a fixed number of threads (fewer than the requests in flight: a few keep
the audit store's group commit busy, more only contend for the GIL) fed from one queue, and
hands each result back to the loop with a single ``call_soon_threadsafe``. That is the whole
hand-off: no ``concurrent.futures.Future`` chained to an asyncio one, no capacity limiter.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from ..logging import get_logger

_log = get_logger("tradeguard.api.runner")

T = TypeVar("T")
R = TypeVar("R")

_Job = tuple[T, asyncio.AbstractEventLoop, "asyncio.Future[R]"]


def _settle(future: asyncio.Future[R], result: R | None, error: BaseException | None) -> None:
    if future.cancelled():  # the client went away; nothing is waiting for this answer
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)  # type: ignore[arg-type]


class GateRunner(Generic[T, R]):
    """Run ``call(item)`` on ``workers`` threads; ``await runner.run(item)`` from the loop.

    Args:
        call: The blocking function (the gate's ``submit``).
        workers: Number of threads.
        name: Thread name prefix.
    """

    def __init__(self, call: Callable[[T], R], *, workers: int, name: str) -> None:
        self._call = call
        self._workers = workers
        self._name = name
        self._jobs: queue.SimpleQueue[_Job[T, R] | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def run(self, item: T) -> asyncio.Future[R]:
        """Queue ``item``; return a future of the loop that completes with its result."""
        if not self._threads:
            self._start()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._jobs.put((item, loop, future))
        return future

    def close(self, timeout: float = 10.0) -> None:
        """Finish the queued calls, then stop the threads (a later ``run`` starts new ones)."""
        with self._lock:
            threads, self._threads = self._threads, []
            for _ in threads:
                self._jobs.put(None)
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(timeout)

    def _start(self) -> None:
        # Started on first use, so an app that never receives a signal holds no threads.
        with self._lock:
            if self._threads:
                return
            threads = [
                threading.Thread(target=self._work, name=f"{self._name}-{index}", daemon=True)
                for index in range(self._workers)
            ]
            for thread in threads:
                thread.start()
            self._threads = threads

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            item, loop, future = job
            result: R | None = None
            error: BaseException | None = None
            try:
                result = self._call(item)
            except BaseException as exc:  # handed to the awaiting request, which maps it
                error = exc
            try:
                loop.call_soon_threadsafe(_settle, future, result, error)
            except RuntimeError:  # the loop is closed: the server is shutting down
                _log.warning("gate_result_undeliverable", error=repr(error) if error else None)


__all__ = ["GateRunner"]
