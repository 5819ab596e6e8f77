"""A writer killed with SIGKILL loses no record whose append had returned."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tradeguard import open_audit_store
from tradeguard.audit.records import AuditTable

ROOT = Path(__file__).resolve().parents[3]


def _count(path: Path) -> int:
    return len(path.read_text().split()) if path.exists() else 0


def _kill_at_random_moments(url: str, tmp_path: Path, rounds: int, seed: int) -> None:
    rng = random.Random(seed)
    returned = tmp_path / "returned.txt"
    for _ in range(rounds):
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.audit.audit_workers", url, str(returned)],
            cwd=ROOT,
        )
        before = _count(returned)
        deadline = time.monotonic() + 30
        while _count(returned) == before and time.monotonic() < deadline:
            time.sleep(0.01)  # wait until it appends, then kill it at a random moment
        time.sleep(rng.uniform(0.0, 0.3))
        child.send_signal(signal.SIGKILL)
        child.wait()
    seqs = [int(line) for line in returned.read_text().split()]
    assert seqs, "the writer never returned an append"
    store = open_audit_store(url)
    try:
        report = store.verify()
        assert report.ok, report.breaks
        stored = {row["seq"] for row in store.rows(AuditTable.POLICY_DECISION)}
        assert set(seqs) <= stored  # every returned seq survived the kill
    finally:
        store.close()


def test_sigkilled_sqlite_writer_loses_no_returned_append(tmp_path: Path) -> None:
    _kill_at_random_moments(f"sqlite:///{tmp_path / 'audit.db'}", tmp_path, rounds=2, seed=1)


@pytest.mark.postgres
def test_sigkilled_postgres_writer_loses_no_returned_append(
    tmp_path: Path, postgres_url: str
) -> None:
    _kill_at_random_moments(postgres_url, tmp_path, rounds=2, seed=2)


@pytest.mark.slow
def test_sigkilled_sqlite_writer_many_times_loses_nothing(tmp_path: Path) -> None:
    _kill_at_random_moments(f"sqlite:///{tmp_path / 'audit.db'}", tmp_path, rounds=15, seed=3)


@pytest.mark.slow
@pytest.mark.postgres
def test_sigkilled_postgres_writer_many_times_loses_nothing(
    tmp_path: Path, postgres_url: str
) -> None:
    _kill_at_random_moments(postgres_url, tmp_path, rounds=15, seed=4)
