"""Group commit from asyncio tasks: durable seqs, one loop wake-up per batch, errors, close."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from tradeguard.audit.chain import PreparedRow
from tradeguard.audit.records import AuditTable
from tradeguard.audit.writer import GroupCommitWriter, Pending
from tradeguard.codes import ErrorCode
from tradeguard.errors import AuditUnavailableError, InvalidInputError

ROW = PreparedRow(AuditTable.POLICY_DECISION, '{"seq":', "}")
BAD = PreparedRow(AuditTable.POLICY_DECISION, '{"bad":true,"seq":', "}")


class GatedCommit:
    """Commits batches like a database; ``gate`` can hold a commit until a test opens it."""

    def __init__(self, *, fail: bool = False) -> None:
        self.seq = 0
        self.batches: list[list[Pending]] = []
        self.fail = fail
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def __call__(self, batch: list[Pending]) -> None:
        self.entered.set()
        if not self.gate.wait(timeout=10):
            raise AuditUnavailableError(ErrorCode.AUD_006, "gate never opened")
        if self.fail:
            raise AuditUnavailableError(ErrorCode.AUD_006, "disk gone")
        if any(row is BAD for pending in batch for row in pending.rows):
            raise InvalidInputError(ErrorCode.INPUT_INVALID_VALUE, "row refused")
        self.batches.append(list(batch))
        for pending in batch:
            pending.seqs = list(range(self.seq + 1, self.seq + 1 + len(pending.rows)))
            self.seq += len(pending.rows)


async def _hold_writer(writer: GroupCommitWriter, commit: GatedCommit) -> asyncio.Task[Any]:
    """Start a first append whose commit waits on the gate, so later ones queue up."""
    commit.gate.clear()
    first = asyncio.create_task(writer.asubmit([ROW]))
    while not commit.entered.is_set():
        await asyncio.sleep(0.001)
    return first


def test_tasks_get_dense_distinct_seqs_and_share_batches() -> None:
    commit = GatedCommit()
    writer = GroupCommitWriter(commit, name="test-writer")

    async def append_many(count: int) -> list[int]:
        return [(await writer.asubmit([ROW])).seqs[0] for _ in range(count)]

    async def main() -> list[int]:
        results = await asyncio.gather(*(append_many(25) for _ in range(16)))
        return [seq for seqs in results for seq in seqs]

    seqs = asyncio.run(main())
    writer.close()
    assert sorted(seqs) == list(range(1, 16 * 25 + 1))
    assert max(len(batch) for batch in commit.batches) > 1


def test_a_batch_of_tasks_wakes_their_loop_once() -> None:
    commit = GatedCommit()
    writer = GroupCommitWriter(commit, name="test-writer")
    wakeups: list[Any] = []

    async def main() -> list[Pending]:
        loop = asyncio.get_running_loop()
        original = loop.call_soon_threadsafe

        def counting(callback: Any, *args: Any, **kwargs: Any) -> Any:
            wakeups.append(callback)
            return original(callback, *args, **kwargs)

        loop.call_soon_threadsafe = counting  # type: ignore[method-assign]
        first = await _hold_writer(writer, commit)
        queued = [asyncio.create_task(writer.asubmit([ROW])) for _ in range(20)]
        await asyncio.sleep(0.01)  # every task is now in the queue behind the held commit
        commit.gate.set()
        return [await first, *await asyncio.gather(*queued)]

    done = asyncio.run(main())
    writer.close()
    assert [len(batch) for batch in commit.batches] == [1, 20]
    assert len(wakeups) == 2  # one per batch, not one per task
    assert sorted(p.seqs[0] for p in done) == list(range(1, 22))


def test_threads_and_tasks_share_one_batch() -> None:
    commit = GatedCommit()
    writer = GroupCommitWriter(commit, name="test-writer")
    thread_seqs: list[int] = []

    def thread_append() -> None:
        thread_seqs.extend(writer.submit([ROW, ROW]).seqs)

    async def main() -> list[int]:
        first = await _hold_writer(writer, commit)
        threads = [threading.Thread(target=thread_append) for _ in range(3)]
        for thread in threads:
            thread.start()
        tasks = [asyncio.create_task(writer.asubmit([ROW])) for _ in range(3)]
        await asyncio.sleep(0.05)
        commit.gate.set()
        seqs = [seq for pending in await asyncio.gather(first, *tasks) for seq in pending.seqs]
        for thread in threads:
            await asyncio.to_thread(thread.join, 5)
        return seqs

    task_seqs = asyncio.run(main())
    writer.close()
    mixed = commit.batches[1]
    assert {pending.future is None for pending in mixed} == {True, False}
    assert sorted(task_seqs + thread_seqs) == list(range(1, 4 + 3 * 2 + 1))


def test_a_failed_commit_raises_aud_006_in_every_awaiting_task() -> None:
    writer = GroupCommitWriter(GatedCommit(fail=True), name="test-writer")

    async def main() -> list[BaseException | Pending]:
        calls = [writer.asubmit([ROW]) for _ in range(10)]
        return await asyncio.gather(*calls, return_exceptions=True)

    outcomes = asyncio.run(main())
    writer.close()
    assert all(isinstance(o, AuditUnavailableError) for o in outcomes)
    assert {o.code for o in outcomes if isinstance(o, AuditUnavailableError)} == {"AUD-006"}


def test_a_refused_row_fails_only_its_own_task() -> None:
    commit = GatedCommit()
    writer = GroupCommitWriter(commit, name="test-writer")

    async def main() -> list[BaseException | Pending]:
        first = await _hold_writer(writer, commit)
        rows = [[ROW], [ROW], [BAD], [ROW]]
        tasks = [asyncio.create_task(writer.asubmit(r)) for r in rows]
        await asyncio.sleep(0.01)
        commit.gate.set()
        return await asyncio.gather(first, *tasks, return_exceptions=True)

    first, good1, good2, bad, good3 = asyncio.run(main())
    writer.close()
    assert isinstance(bad, InvalidInputError) and bad.code == "INPUT_INVALID_VALUE"
    good = [first, good1, good2, good3]
    assert all(isinstance(o, Pending) for o in good)
    assert sorted(o.seqs[0] for o in good if isinstance(o, Pending)) == [1, 2, 3, 4]


def test_the_event_loop_keeps_running_while_a_commit_is_held() -> None:
    commit = GatedCommit()
    writer = GroupCommitWriter(commit, name="test-writer")

    async def main() -> tuple[int, Pending]:
        first = await _hold_writer(writer, commit)
        ticks = 0
        for _ in range(20):
            await asyncio.sleep(0.001)
            ticks += 1
        assert not first.done()
        commit.gate.set()
        return ticks, await first

    ticks, pending = asyncio.run(main())
    writer.close()
    assert ticks == 20 and pending.seqs == [1]


def test_close_refuses_queued_tasks_when_the_commit_is_stuck() -> None:
    commit = GatedCommit()
    writer = GroupCommitWriter(commit, name="test-writer")

    async def main() -> tuple[list[BaseException | Pending], float]:
        first = await _hold_writer(writer, commit)
        queued = [asyncio.create_task(writer.asubmit([ROW])) for _ in range(5)]
        await asyncio.sleep(0.01)
        started = time.monotonic()
        await asyncio.to_thread(writer.close, 0.2)
        outcomes = await asyncio.gather(first, *queued, return_exceptions=True)
        return outcomes, time.monotonic() - started

    outcomes, waited = asyncio.run(main())
    commit.gate.set()
    assert waited < 2.0
    assert all(isinstance(o, AuditUnavailableError) and o.code == "AUD-006" for o in outcomes)


def test_close_commits_what_is_queued_and_refuses_later_tasks_at_once() -> None:
    commit = GatedCommit()
    writer = GroupCommitWriter(commit, name="test-writer")

    async def main() -> tuple[list[Pending], BaseException]:
        first = await _hold_writer(writer, commit)
        queued = [asyncio.create_task(writer.asubmit([ROW])) for _ in range(5)]
        await asyncio.sleep(0.01)
        closing = asyncio.create_task(asyncio.to_thread(writer.close))
        await asyncio.sleep(0.01)
        commit.gate.set()
        committed = await asyncio.gather(first, *queued)
        await closing
        with pytest.raises(AuditUnavailableError) as refused:
            await writer.asubmit([ROW])
        return list(committed), refused.value

    committed, refused = asyncio.run(main())
    assert sorted(p.seqs[0] for p in committed) == [1, 2, 3, 4, 5, 6]
    assert isinstance(refused, AuditUnavailableError) and refused.code == "AUD-006"


def test_a_task_whose_commit_hangs_gets_aud_006_after_its_timeout() -> None:
    commit = GatedCommit()
    writer = GroupCommitWriter(commit, name="test-writer")

    async def main() -> tuple[BaseException | None, float]:
        first = await _hold_writer(writer, commit)
        started = time.monotonic()
        try:
            await writer.asubmit([ROW], timeout=0.2)
        except AuditUnavailableError as exc:
            return exc, time.monotonic() - started
        finally:
            commit.gate.set()
            await first
        return None, time.monotonic() - started

    error, waited = asyncio.run(main())
    writer.close()
    assert isinstance(error, AuditUnavailableError) and error.code == "AUD-006"
    assert 0.2 <= waited < 1.5
