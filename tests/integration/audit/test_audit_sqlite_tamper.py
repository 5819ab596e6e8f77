"""SQLite: the database refuses changes, and verify catches changes made around the triggers."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.audit_factories import decision, operator_action, signal
from tradeguard import open_audit_store
from tradeguard.audit.chain import tamper_error
from tradeguard.audit.checkpoint import make_checkpoint
from tradeguard.audit.export import verify_store
from tradeguard.audit.records import AuditTable
from tradeguard.errors import AuditTamperError


@pytest.fixture
def filled(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    store = open_audit_store(url)
    store.record_many([decision(i, halt=i % 2 == 1) for i in range(6)])
    store.record_signal(signal())
    store.record_operator_action(operator_action())
    store.close()
    return url


def _raw(url: str) -> sqlite3.Connection:
    return sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)


@pytest.mark.parametrize(
    ("statement", "code"),
    [
        ("UPDATE policy_decision_audit SET row_hash = prev_hash WHERE seq = 2", "AUD-001"),
        ("DELETE FROM policy_decision_audit WHERE seq = 6", "AUD-002"),
        ("DELETE FROM signal_audit", "AUD-002"),
        ("DELETE FROM control_state", "AUD-002"),
    ],
)
def test_sqlite_refuses_update_and_delete_with_their_codes(
    filled: str, statement: str, code: str
) -> None:
    conn = _raw(filled)
    conn.execute("INSERT OR IGNORE INTO control_state VALUES ('x', '{}', 1, 'now')")
    with pytest.raises(sqlite3.IntegrityError) as caught:
        conn.execute(statement)
    error = tamper_error(caught.value)
    assert isinstance(error, AuditTamperError) and error.code == code


def _drop_triggers(conn: sqlite3.Connection) -> None:
    names = conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall()
    for (name,) in names:
        conn.execute(f"DROP TRIGGER {name}")


def _first_break(url: str, expected: tuple = ()) -> tuple[str, int, str] | None:
    store = open_audit_store(url)
    try:
        report = verify_store(store, expected)
    finally:
        store.close()
    if report.ok:
        return None
    first = report.breaks[0]
    return first.table.value, first.seq, first.code


def test_verify_passes_on_an_untouched_database(filled: str) -> None:
    assert _first_break(filled) is None


def test_value_changed_with_triggers_dropped_is_caught_at_its_seq(filled: str) -> None:
    conn = _raw(filled)
    _drop_triggers(conn)
    conn.execute(
        "UPDATE policy_decision_audit SET canonical_json = "
        "replace(canonical_json, '\"is_latched\":false', '\"is_latched\":true') WHERE seq = 3"
    )
    assert _first_break(filled) == ("policy_decision_audit", 3, "AUD-004")


def test_middle_row_deleted_with_triggers_dropped_is_caught(filled: str) -> None:
    conn = _raw(filled)
    _drop_triggers(conn)
    conn.execute("DELETE FROM policy_decision_audit WHERE seq = 4")
    assert _first_break(filled) == ("policy_decision_audit", 5, "AUD-004")


def test_tail_rows_deleted_are_caught_through_a_checkpoint(filled: str) -> None:
    store = open_audit_store(filled)
    checkpoint = make_checkpoint(store.heads(), decision().timestamp_utc)
    store.close()
    conn = _raw(filled)
    _drop_triggers(conn)
    conn.execute("DELETE FROM policy_decision_audit WHERE seq >= 5")
    assert _first_break(filled) is None  # a shorter chain is still a valid chain ...
    found = _first_break(filled, checkpoint.heads)
    assert found == ("policy_decision_audit", 6, "AUD-005")  # ... but not the checkpointed one


def test_a_full_rewrite_is_caught_through_a_checkpoint(filled: str) -> None:
    store = open_audit_store(filled)
    heads = store.heads()
    store.close()
    conn = _raw(filled)
    _drop_triggers(conn)
    conn.execute("DELETE FROM operator_audit")
    rewritten = open_audit_store(filled)
    rewritten.record_operator_action(operator_action(i=9))
    rewritten.close()
    assert _first_break(filled) is None
    assert _first_break(filled, heads) == ("operator_audit", 1, "AUD-005")


def test_seq_column_renumbered_is_caught(filled: str) -> None:
    conn = _raw(filled)
    _drop_triggers(conn)
    conn.execute("DELETE FROM signal_audit")
    store = open_audit_store(filled)
    store.record_many([signal("a"), signal("b")])
    store.close()
    conn.execute("UPDATE signal_audit SET seq = seq + 10")
    found = _first_break(filled)
    assert found is not None and found[:2] == (AuditTable.SIGNAL.value, 11)
