"""Group commit: one writer thread per store drains a queue and commits each batch at once.

Appending threads prepare their canonical JSON, enqueue it and block until the transaction
that holds their rows is durable; asyncio tasks do the same but await a future instead of
blocking their event loop. Rows that arrive while a commit is in flight share the next
transaction, so throughput grows with concurrency while durability is never weakened.

After a commit the writer wakes the first blocked thread of the batch (each wakes the next)
and completes the futures of each event loop's tasks with one ``call_soon_threadsafe`` per
loop and batch, so a batch of many tasks costs the loop one wake-up, not one per task.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from ..codes import ErrorCode
from ..errors import AuditUnavailableError, TradeGuardError
from ..logging import get_logger
from .chain import PreparedRow

_log = get_logger(__name__)
_CLOSED = "the audit store is closed"
_UNUSED_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class ControlWrite:
    """A change of the mutable control state, committed with the rows of its request."""

    key: str
    value: str


class Pending:
    """One caller's request: rows (and maybe a control write) waiting for their commit.

    A thread's request carries a held lock that the writer releases; a task's request
    carries a future of its event loop instead (``future`` is None for a thread).
    """

    __slots__ = ("control", "done", "error", "future", "next", "rows", "seqs", "version")

    def __init__(
        self,
        rows: list[PreparedRow],
        control: ControlWrite | None = None,
        future: asyncio.Future[None] | None = None,
    ) -> None:
        self.rows = rows
        self.control = control
        self.seqs: list[int] = []
        self.version: int | None = None
        self.error: TradeGuardError | None = None
        self.next: Pending | None = None
        self.future = future
        if future is None:
            self.done = threading.Lock()
            self.done.acquire()
        else:
            self.done = _UNUSED_LOCK  # a task waits on its future; no lock to allocate

    def wait(self, timeout: float) -> bool:
        """Wait until the commit is over, then wake the next caller of the same batch.

        The writer wakes only the first caller of a batch and each wakes the next: waking
        them all at once would have them fight over the GIL, costing more than it saves.
        A caller that gives up (a commit stuck for ``timeout``) breaks the chain: the callers
        after it then time out too, refused with AUD-006 like it (fail closed).
        """
        if not self.done.acquire(timeout=timeout):
            return False
        following = self.next
        if following is not None:
            following.done.release()
        return True


CommitBatch = Callable[[list[Pending]], None]


@dataclass(frozen=True, slots=True)
class WriterStats:
    """What the writer did so far: how full its commits were and where its time went.

    ``commit_seconds`` is the database work of each batch; ``between_seconds`` adds up the time
    from the end of one commit to the start of the next, waking the callers included. Under
    steady load that is the callers' turnaround: how long those of one batch take to hand in
    the next; otherwise it includes idle time.
    """

    batches: int
    rows: int
    commit_seconds: float
    between_seconds: float
    betweens: int

    def to_dict(self) -> dict[str, float]:
        """Return the means in milliseconds and the rows per second of that cycle."""
        batch_rows = self.rows / self.batches if self.batches else 0.0
        commit_ms = 1e3 * self.commit_seconds / self.batches if self.batches else 0.0
        between_ms = 1e3 * self.between_seconds / self.betweens if self.betweens else 0.0
        cycle_ms = commit_ms + between_ms
        return {
            "batches": self.batches,
            "mean_batch_rows": round(batch_rows, 1),
            "mean_commit_ms": round(commit_ms, 3),
            "mean_between_commits_ms": round(between_ms, 3),
            "rows_per_s_of_this_cycle": round(batch_rows / cycle_ms * 1e3) if cycle_ms else 0,
        }


def _resolve(batch: list[Pending]) -> None:
    # Runs in the event loop: one call completes every task of a batch. A future already
    # done belongs to a task that timed out or was cancelled; its outcome is not ours.
    for pending in batch:
        future = pending.future
        if future is not None and not future.done():
            future.set_result(None)


def _complete(batch: list[Pending]) -> None:
    """Wake every caller of ``batch`` (the outcome is already in each request).

    Threads are woken as a chain (the first here, each wakes the next); the tasks of each
    event loop by one ``call_soon_threadsafe``. Callable from any thread.
    """
    first: Pending | None = None
    last: Pending | None = None
    loops: dict[asyncio.AbstractEventLoop, list[Pending]] = {}
    for pending in batch:
        future = pending.future
        if future is None:
            if last is None:
                first = pending
            else:
                last.next = pending
            last = pending
        else:
            loop = future.get_loop()
            group = loops.get(loop)
            if group is None:
                loops[loop] = [pending]
            else:
                group.append(pending)
    for loop, group in loops.items():
        try:
            loop.call_soon_threadsafe(_resolve, group)
        except RuntimeError:  # the loop is closed: nobody awaits these any more
            continue
    if first is not None:
        first.done.release()


class Deadlines:
    """Fail the futures of tasks whose commit takes longer than their timeout (AUD-006).

    One timer per event loop sweeps its outstanding requests every ``period`` seconds,
    instead of one timer per request: a request costs an append here, not a heap entry.
    A request is thus refused between ``timeout`` and ``timeout + period`` after it came.
    """

    def __init__(self, period: float = 0.25) -> None:
        self._period = period
        # Each loop's deque is touched only by that loop's thread; the dict by any of them.
        self._loops: dict[asyncio.AbstractEventLoop, deque[tuple[float, float, Pending]]] = {}

    def watch(self, loop: asyncio.AbstractEventLoop, pending: Pending, timeout: float) -> None:
        """Register ``pending`` (its future belongs to ``loop``, the running one)."""
        watched = self._loops.get(loop)
        if watched is None:
            for other in list(self._loops):
                if other.is_closed():  # its timer will never run: forget its requests
                    self._loops.pop(other, None)
            watched = self._loops[loop] = deque()
            loop.call_later(self._period, self._sweep, loop)
        watched.append((loop.time() + timeout, timeout, pending))

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        watched = self._loops[loop]
        while watched and _settled(watched[0][2]):
            watched.popleft()
        now = loop.time()
        for deadline, timeout, pending in watched:
            future = pending.future
            if deadline <= now and future is not None and not future.done():
                future.set_exception(
                    AuditUnavailableError(
                        ErrorCode.AUD_006, f"the audit write did not complete within {timeout} s"
                    )
                )
        if watched:
            loop.call_later(self._period, self._sweep, loop)
        else:
            del self._loops[loop]


def _settled(pending: Pending) -> bool:
    return pending.future is None or pending.future.done()


class GroupCommitWriter:
    """Serialise appends through one thread; callers wait until their batch is durable.

    ``commit`` runs one transaction for a batch and fills in ``seqs`` (and ``version`` for a
    control write) of every request, or raises; an error fails every request of the batch,
    except that a batch refused for its content is retried request by request so that one
    bad record cannot fail its neighbours. Threads (``submit``) and asyncio tasks
    (``asubmit``) share the queue, the batches and these guarantees.
    """

    def __init__(self, commit: CommitBatch, *, name: str, max_rows: int = 20_000) -> None:
        self._commit = commit
        self._max_rows = max_rows
        self._queue: deque[Pending] = deque()
        self._cond = threading.Condition(threading.Lock())
        self._closed = False
        self._idle = False
        self._stopped = False
        self._inflight: list[Pending] = []
        self._deadlines = Deadlines()
        # Written by the writer thread only; read as a snapshot by ``stats``.
        self._stats = WriterStats(0, 0, 0.0, 0.0, 0)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(
        self, rows: list[PreparedRow], control: ControlWrite | None = None, timeout: float = 30.0
    ) -> Pending:
        """Enqueue ``rows`` and wait until they are durable; return the completed request."""
        if self._closed:
            raise AuditUnavailableError(ErrorCode.AUD_006, _CLOSED)
        pending = Pending(rows, control)
        self._enqueue(pending)
        if not pending.wait(timeout):
            raise AuditUnavailableError(
                ErrorCode.AUD_006, f"the audit write did not complete within {timeout} s"
            )
        if pending.error is not None:
            raise pending.error
        return pending

    async def asubmit(
        self, rows: list[PreparedRow], control: ControlWrite | None = None, timeout: float = 30.0
    ) -> Pending:
        """Enqueue ``rows`` and await their durable commit without blocking the event loop.

        Raises what ``submit`` raises, in the awaiting task. A task cancelled while it waits
        does not withdraw its rows: they may still be committed.
        """
        if self._closed:
            raise AuditUnavailableError(ErrorCode.AUD_006, _CLOSED)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        pending = Pending(rows, control, future)
        self._deadlines.watch(loop, pending, timeout)
        self._enqueue(pending)
        await future
        if pending.error is not None:
            raise pending.error
        return pending

    def _enqueue(self, pending: Pending) -> None:
        # deque.append is atomic: no lock on the hot path. The writer publishes ``_idle``
        # before it re-checks the queue, and we read it after appending, so one of us sees
        # the other and no request can sleep in the queue.
        self._queue.append(pending)
        if self._idle or self._closed:
            self._wake()

    def _wake(self) -> None:
        with self._cond:
            if self._stopped:  # closed while we enqueued: nobody will commit these
                self._fail_queued()
            elif self._idle:
                # Cleared here, not only by the writer once it runs: the appenders that
                # follow before it gets the GIL then skip this lock.
                self._idle = False
                self._cond.notify()

    def _fail_queued(self) -> None:
        failed = self._drain()
        error = AuditUnavailableError(ErrorCode.AUD_006, _CLOSED)
        for pending in failed:
            pending.error = error
        _complete(failed)

    def _drain(self) -> list[Pending]:
        out: list[Pending] = []
        while True:
            try:
                out.append(self._queue.popleft())
            except IndexError:
                return out

    def stats(self) -> WriterStats:
        """Return the counters so far (a consistent snapshot)."""
        return self._stats

    @property
    def alive(self) -> bool:
        """True while the writer thread runs."""
        return self._thread.is_alive() and not self._closed

    def close(self, timeout: float = 10.0) -> None:
        """Commit what is queued, then stop the thread.

        A commit stuck beyond ``timeout`` does not leave callers hanging: what is still
        queued, and every task of the stuck batch, is refused with AUD-006 (fail closed:
        their rows may or may not become durable). Threads of the stuck batch time out.
        """
        with self._cond:
            self._closed = True
            self._cond.notify()
        if threading.current_thread() is self._thread:
            return
        self._thread.join(timeout)
        if not self._thread.is_alive():
            return
        with self._cond:
            self._stopped = True
            self._fail_queued()
        stuck = [p for p in self._inflight if p.future is not None]
        error = AuditUnavailableError(ErrorCode.AUD_006, "the audit store closed mid-commit")
        for pending in stuck:
            pending.error = error
        _complete(stuck)

    def _take(self) -> list[Pending] | None:
        queue = self._queue
        while True:
            if not queue:
                with self._cond:
                    # Publish ``_idle`` before (re-)checking the queue; see ``_enqueue``.
                    self._idle = True
                    while not queue:
                        if self._closed:
                            self._stopped = True
                            return None
                        self._cond.wait()
                        self._idle = True
                    self._idle = False
            batch: list[Pending] = []
            count = 0
            try:
                while queue and (not batch or count + len(queue[0].rows) <= self._max_rows):
                    item = queue.popleft()
                    batch.append(item)
                    count += len(item.rows)
            except IndexError:  # only ``close`` after a stuck commit pops besides us
                pass
            if batch:
                return batch

    def _run(self) -> None:
        clock = time.perf_counter
        ended: float | None = None
        while (batch := self._take()) is not None:
            started = clock()
            between = None if ended is None else started - ended
            self._inflight = batch
            try:
                self._commit_or_split(batch)
            finally:
                ended = clock()  # waking the callers counts as time between commits
                self._inflight = []
                _complete(batch)
                self._count(batch, ended - started, between)

    def _count(self, batch: list[Pending], commit: float, between: float | None) -> None:
        old = self._stats
        self._stats = WriterStats(
            old.batches + 1,
            old.rows + sum(len(pending.rows) for pending in batch),
            old.commit_seconds + commit,
            old.between_seconds + (between or 0.0),
            old.betweens + (0 if between is None else 1),
        )

    def _commit_or_split(self, batch: list[Pending]) -> None:
        try:
            self._commit(batch)
        except AuditUnavailableError as exc:
            _log.error("audit_write_failed", code=exc.code, error=exc.message, rows=len(batch))
            for pending in batch:
                pending.error = exc
        except TradeGuardError as exc:
            if len(batch) == 1:
                batch[0].error = exc
                return
            for pending in batch:
                self._commit_or_split([pending])
        except Exception as exc:  # the writer thread must outlive any bug; callers see it
            _log.exception("audit_writer_error", code=ErrorCode.AUD_006.value)
            error = AuditUnavailableError(ErrorCode.AUD_006, f"audit writer failed: {exc!r}")
            for pending in batch:
                pending.error = error


__all__ = [
    "CommitBatch",
    "ControlWrite",
    "Deadlines",
    "GroupCommitWriter",
    "Pending",
    "WriterStats",
]
