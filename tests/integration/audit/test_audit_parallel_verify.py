"""Verify split into seq ranges (worker processes) finds exactly what a single pass finds."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.audit_factories import decision
from tradeguard.audit.parallel import split, verify_tables
from tradeguard.audit.records import AuditTable
from tradeguard.audit.sqlite import SqliteAuditStore
from tradeguard.ports import ChainHead, VerifyReport

ROWS = 1200
PER_WORKER = 400  # 1,200 rows: three ranges, 1-400, 401-800, 801-1200


@pytest.fixture(autouse=True)
def cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tradeguard.audit.parallel.os.cpu_count", lambda: 4)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("parallel") / "template.db"
    store = SqliteAuditStore(f"sqlite:///{path}")
    store.record_many([decision(i) for i in range(ROWS)])
    store.close()
    return path


@pytest.fixture
def db(template: Path, tmp_path: Path) -> Path:
    path = tmp_path / "audit.db"
    source = sqlite3.connect(template)
    target = sqlite3.connect(path)
    source.backup(target)
    source.close()
    target.close()
    return path


def _tamper(path: Path, *statements: str) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"):
        conn.execute(f"DROP TRIGGER {name}")
    for statement in statements:
        conn.execute(statement)
    conn.close()


def _both(path: Path, expected: tuple[ChainHead, ...] = ()) -> tuple[VerifyReport, VerifyReport]:
    single = SqliteAuditStore(f"sqlite:///{path}", rows_per_worker=10**9)
    parallel = SqliteAuditStore(f"sqlite:///{path}", rows_per_worker=PER_WORKER)
    try:
        return single.verify(expected), parallel.verify(expected)
    finally:
        single.close()
        parallel.close()


def _breaks(report: VerifyReport) -> list[tuple[str, int, str]]:
    return [(b.table.value, b.seq, b.code) for b in report.breaks]


def test_ranges_cover_every_seq_once() -> None:
    for last in (1, 2, 7, 1000, 1001):
        for workers in (1, 2, 3, 4):
            ranges = split(last, workers)
            covered = [seq for lo, hi in ranges for seq in range(lo, hi + 1)]
            assert covered == list(range(1, last + 1))


def test_worker_processes_verify_their_ranges(db: Path) -> None:
    last = {AuditTable.POLICY_DECISION: ROWS}
    results = verify_tables(str(db), last, {}, rows_per_worker=ROWS // 2)
    result = results[AuditTable.POLICY_DECISION]
    assert result.first_break is None and result.rows_checked == ROWS
    assert result.head is not None and result.head.seq == ROWS


def test_an_intact_chain_reports_the_same_rows_and_heads_in_parallel(db: Path) -> None:
    single, parallel = _both(db)
    assert parallel.ok and single.ok
    assert parallel.rows_checked == single.rows_checked == ROWS
    assert parallel.heads == single.heads


@pytest.mark.parametrize(
    "statements",
    [
        # a value changed in the second half
        (
            "UPDATE policy_decision_audit SET canonical_json = "
            "replace(canonical_json, '\"n\":900', '\"n\":901') WHERE seq = 901",
        ),
        # the row that anchors a range removed (ranges start at 401, 601 or 801)
        ("DELETE FROM policy_decision_audit WHERE seq IN (400, 600, 800)",),
        # the first range ends early and a later range is changed too: the first break wins
        (
            "DELETE FROM policy_decision_audit WHERE seq = 350",
            "UPDATE policy_decision_audit SET prev_hash = row_hash WHERE seq = 1000",
        ),
        # a row appended out of place
        (
            "INSERT INTO policy_decision_audit (seq, prev_hash, row_hash, canonical_json) "
            "SELECT 5000, row_hash, row_hash, canonical_json FROM policy_decision_audit "
            "WHERE seq = 1200",
        ),
    ],
)
def test_the_first_broken_seq_is_the_same_as_a_single_pass(
    db: Path, statements: tuple[str, ...]
) -> None:
    _tamper(db, *statements)
    single, parallel = _both(db)
    assert not single.ok
    assert _breaks(parallel) == _breaks(single)
    assert parallel.rows_checked == single.rows_checked
    assert parallel.heads == single.heads


def test_checkpointed_heads_in_every_range_are_compared(db: Path) -> None:
    store = SqliteAuditStore(f"sqlite:///{db}")
    heads = {row["seq"]: row["row_hash"] for row in store.rows(AuditTable.POLICY_DECISION)}
    store.close()
    table = AuditTable.POLICY_DECISION
    expected = (ChainHead(table, 300, heads[300]), ChainHead(table, 1100, heads[1100]))
    single, parallel = _both(db, expected)
    assert parallel.ok and single.ok
    _tamper(db, "DELETE FROM policy_decision_audit WHERE seq > 1050")
    single, parallel = _both(db, expected)
    assert _breaks(parallel) == _breaks(single) == [(table.value, 1100, "AUD-005")]
