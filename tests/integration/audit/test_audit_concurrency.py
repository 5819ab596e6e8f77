"""Several processes appending to one database at once keep every chain linear."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from tests.integration.audit.audit_workers import append_many
from tradeguard import open_audit_store
from tradeguard.audit.records import AuditTable

PROCESSES = 4
PER_PROCESS = 60


def _run(url: str) -> None:
    open_audit_store(url).close()  # migrate once up front; racing migrations are tested too
    context = multiprocessing.get_context("spawn")
    with context.Pool(PROCESSES) as pool:
        results = pool.starmap(append_many, [(url, w, PER_PROCESS) for w in range(PROCESSES)])
    returned = sorted(seq for seqs in results for seq in seqs)
    expected_rows = PROCESSES * (PER_PROCESS + PER_PROCESS // 5)
    assert returned == list(range(1, expected_rows + 1))  # none lost, none duplicated
    store = open_audit_store(url)
    try:
        report = store.verify()
        assert report.ok, report.breaks
        heads = {h.table: h.seq for h in report.heads}
        assert heads[AuditTable.POLICY_DECISION] == expected_rows
        assert heads[AuditTable.OPERATOR] == PROCESSES * len(range(0, PER_PROCESS, 25))
    finally:
        store.close()


def test_four_processes_append_to_one_sqlite_file(tmp_path: Path) -> None:
    _run(f"sqlite:///{tmp_path / 'audit.db'}")


@pytest.mark.postgres
def test_four_processes_append_to_one_postgres_schema(postgres_url: str) -> None:
    _run(postgres_url)


def test_processes_opening_a_new_database_at_once_migrate_it_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    context = multiprocessing.get_context("spawn")
    with context.Pool(PROCESSES) as pool:
        results = pool.starmap(append_many, [(url, w, 5) for w in range(PROCESSES)])
    assert sorted(s for seqs in results for s in seqs) == list(range(1, PROCESSES * 6 + 1))
