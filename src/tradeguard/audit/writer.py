"""Group commit: one writer thread per store drains a queue and commits each batch at once.

Appending threads prepare their canonical JSON, enqueue it and block until the transaction
that holds their rows is durable. Rows that arrive while a commit is in flight share the next
transaction, so throughput grows with concurrency while durability is never weakened.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from ..codes import ErrorCode
from ..errors import AuditUnavailableError, TradeGuardError
from ..logging import get_logger
from .chain import PreparedRow

_log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ControlWrite:
    """A change of the mutable control state, committed with the rows of its request."""

    key: str
    value: str


class Pending:
    """One caller's request: rows (and maybe a control write) waiting for their commit."""

    __slots__ = ("control", "done", "error", "next", "rows", "seqs", "version")

    def __init__(self, rows: list[PreparedRow], control: ControlWrite | None) -> None:
        self.rows = rows
        self.control = control
        self.seqs: list[int] = []
        self.version: int | None = None
        self.error: TradeGuardError | None = None
        self.next: Pending | None = None
        self.done = threading.Lock()
        self.done.acquire()

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


class GroupCommitWriter:
    """Serialise appends through one thread; callers block until their batch is durable.

    ``commit`` runs one transaction for a batch and fills in ``seqs`` (and ``version`` for a
    control write) of every request, or raises; an error fails every request of the batch,
    except that a batch refused for its content is retried request by request so that one
    bad record cannot fail its neighbours.
    """

    def __init__(self, commit: CommitBatch, *, name: str, max_rows: int = 20_000) -> None:
        self._commit = commit
        self._max_rows = max_rows
        self._queue: deque[Pending] = deque()
        self._cond = threading.Condition(threading.Lock())
        self._closed = False
        self._idle = False
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(
        self, rows: list[PreparedRow], control: ControlWrite | None = None, timeout: float = 30.0
    ) -> Pending:
        """Enqueue ``rows`` and wait until they are durable; return the completed request."""
        if self._closed:
            raise AuditUnavailableError(ErrorCode.AUD_006, "the audit store is closed")
        pending = Pending(rows, control)
        # deque.append is atomic: no lock on the hot path. The writer publishes ``_idle``
        # before it re-checks the queue, and we read it after appending, so one of us sees
        # the other and no request can sleep in the queue.
        self._queue.append(pending)
        if self._idle or self._closed:
            self._wake()
        if not pending.wait(timeout):
            raise AuditUnavailableError(
                ErrorCode.AUD_006, f"the audit write did not complete within {timeout} s"
            )
        if pending.error is not None:
            raise pending.error
        return pending

    def _wake(self) -> None:
        with self._cond:
            if self._stopped:  # closed while we enqueued: nobody will commit these
                self._fail_queued()
            else:
                self._cond.notify()

    def _fail_queued(self) -> None:
        error = AuditUnavailableError(ErrorCode.AUD_006, "the audit store is closed")
        while self._queue:
            pending = self._queue.popleft()
            pending.error = error
            pending.done.release()

    @property
    def alive(self) -> bool:
        """True while the writer thread runs."""
        return self._thread.is_alive() and not self._closed

    def close(self, timeout: float = 10.0) -> None:
        """Commit what is queued, then stop the thread."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def _take(self) -> list[Pending] | None:
        queue = self._queue
        if not queue:
            with self._cond:
                self._idle = True
                while not queue:
                    if self._closed:
                        self._stopped = True
                        return None
                    self._cond.wait()
                self._idle = False
        batch = [queue.popleft()]
        count = len(batch[0].rows)
        while queue and count + len(queue[0].rows) <= self._max_rows:
            item = queue.popleft()
            count += len(item.rows)
            batch.append(item)
        return batch

    def _run(self) -> None:
        while (batch := self._take()) is not None:
            try:
                self._commit_or_split(batch)
            finally:
                for before, after in itertools.pairwise(batch):
                    before.next = after
                batch[0].done.release()

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


__all__ = ["CommitBatch", "ControlWrite", "GroupCommitWriter", "Pending"]
