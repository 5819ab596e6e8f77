"""Group commit: every caller is woken with its own result, batches form, errors reach all."""

from __future__ import annotations

import threading
import time

import pytest

from tradeguard.audit.chain import PreparedRow
from tradeguard.audit.records import AuditTable
from tradeguard.audit.writer import GroupCommitWriter, Pending
from tradeguard.codes import ErrorCode
from tradeguard.errors import AuditUnavailableError

ROW = PreparedRow(AuditTable.POLICY_DECISION, '{"seq":', "}")


class CountingCommit:
    def __init__(self, fail: bool = False, delay: float = 0.001) -> None:
        self.seq = 0
        self.batches: list[int] = []
        self.fail = fail
        self.delay = delay

    def __call__(self, batch: list[Pending]) -> None:
        time.sleep(self.delay)  # a commit takes time: callers arriving meanwhile share the next
        if self.fail:
            raise AuditUnavailableError(ErrorCode.AUD_006, "disk gone")
        self.batches.append(len(batch))
        for pending in batch:
            pending.seqs = list(range(self.seq + 1, self.seq + 1 + len(pending.rows)))
            self.seq += len(pending.rows)


def _hammer(writer: GroupCommitWriter, threads: int, each: int) -> tuple[list[int], list[str]]:
    seqs: list[int] = []
    errors: list[str] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(each):
            try:
                got = writer.submit([ROW]).seqs
            except AuditUnavailableError as exc:
                with lock:
                    errors.append(exc.code)
                continue
            with lock:
                seqs.extend(got)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    return seqs, errors


def test_every_concurrent_caller_gets_its_own_seq_and_batches_form() -> None:
    commit = CountingCommit()
    writer = GroupCommitWriter(commit, name="test-writer")
    seqs, errors = _hammer(writer, threads=16, each=50)
    writer.close()
    assert errors == []
    assert sorted(seqs) == list(range(1, 16 * 50 + 1))
    assert max(commit.batches) > 1 and sum(commit.batches) == 16 * 50


def test_a_failed_commit_fails_every_caller_of_its_batch() -> None:
    writer = GroupCommitWriter(CountingCommit(fail=True), name="test-writer")
    seqs, errors = _hammer(writer, threads=8, each=5)
    writer.close()
    assert seqs == [] and errors == ["AUD-006"] * 40


def test_an_append_after_close_is_refused_at_once() -> None:
    writer = GroupCommitWriter(CountingCommit(), name="test-writer")
    assert writer.submit([ROW]).seqs == [1]
    writer.close()
    started = time.monotonic()
    with pytest.raises(AuditUnavailableError):
        writer.submit([ROW])
    assert time.monotonic() - started < 1.0


def test_stats_count_every_batch_its_rows_and_the_time_of_its_commit():
    commit = CountingCommit(delay=0.005)
    writer = GroupCommitWriter(commit, name="test-stats")
    try:
        assert writer.stats().to_dict()["batches"] == 0
        for _ in range(3):
            writer.submit([ROW, ROW])
        # The writer counts a batch after waking its callers: poll (generous deadline) rather
        # than hope a fixed sleep was long enough on a busy machine.
        deadline = time.monotonic() + 10
        while writer.stats().batches < 3 and time.monotonic() < deadline:
            time.sleep(0.001)
        stats = writer.stats()
    finally:
        writer.close()
    assert (stats.batches, stats.rows, stats.betweens) == (3, 6, 2)
    assert stats.commit_seconds >= 3 * 0.005
    summary = stats.to_dict()
    assert summary["mean_batch_rows"] == 2.0 and summary["mean_commit_ms"] >= 5.0
    # The rate is the rows of a batch over one cycle (a commit plus the time between two),
    # worked out from the unrounded sums; the only slack allowed is its own rounding to an
    # integer (never compare against figures that were rounded on their own first).
    cycle_s = stats.commit_seconds / stats.batches + stats.between_seconds / stats.betweens
    assert abs(summary["rows_per_s_of_this_cycle"] - 2.0 / cycle_s) <= 0.5 + 1e-6
