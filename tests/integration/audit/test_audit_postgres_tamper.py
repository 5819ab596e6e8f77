"""PostgreSQL: triggers refuse UPDATE/DELETE/TRUNCATE; a superuser's edits are caught."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from tests.audit_factories import decision, operator_action, signal
from tradeguard import open_audit_store
from tradeguard.audit.chain import tamper_error
from tradeguard.errors import AuditTamperError
from tradeguard.ports import AuditStore

pytestmark = pytest.mark.postgres


@pytest.fixture
def store(postgres_url: str) -> Iterator[AuditStore]:
    opened = open_audit_store(postgres_url)
    opened.record_many([decision(i, halt=i == 3) for i in range(6)])
    opened.record_signal(signal())
    opened.record_operator_action(operator_action())
    yield opened
    opened.close()


@pytest.mark.parametrize(
    ("statement", "code"),
    [
        ("UPDATE policy_decision_audit SET row_hash = prev_hash WHERE seq = 2", "AUD-001"),
        ("DELETE FROM policy_decision_audit WHERE seq = 6", "AUD-002"),
        ("TRUNCATE policy_decision_audit", "AUD-003"),
        ("TRUNCATE signal_audit, operator_audit", "AUD-003"),
    ],
)
def test_postgres_refuses_changes_with_their_codes(
    store: AuditStore, postgres_url: str, statement: str, code: str
) -> None:
    with (
        psycopg.connect(postgres_url, autocommit=True) as conn,
        pytest.raises(psycopg.Error) as caught,
    ):
        conn.execute(statement)
    error = tamper_error(caught.value)
    assert isinstance(error, AuditTamperError) and error.code == code


def test_row_changed_by_a_superuser_with_triggers_disabled_is_caught(
    store: AuditStore, postgres_url: str
) -> None:
    assert store.verify().ok
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE policy_decision_audit DISABLE TRIGGER ALL")
        conn.execute(
            "UPDATE policy_decision_audit SET canonical_json = "
            "replace(canonical_json, '\"HALT\"', '\"NEUTRAL\"') WHERE seq = 4"
        )
    report = store.verify()
    assert [(b.table.value, b.seq, b.code) for b in report.breaks] == [
        ("policy_decision_audit", 4, "AUD-004")
    ]


def test_rows_deleted_in_replica_mode_are_caught_against_a_checkpoint(
    store: AuditStore, postgres_url: str
) -> None:
    heads = store.heads()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute("DELETE FROM policy_decision_audit WHERE seq >= 5")
    from tradeguard.audit.export import verify_store

    report = verify_store(store, heads)
    assert [(b.seq, b.code) for b in report.breaks] == [(6, "AUD-005")]


def test_constraints_mirror_the_decision_rules(store: AuditStore, postgres_url: str) -> None:
    bad = '{"policy_decision":"ALLOW","blocking_gate":"RISK","precedence_rank":4,"seq":99}'
    with (
        psycopg.connect(postgres_url, autocommit=True) as conn,
        pytest.raises(psycopg.errors.CheckViolation),
    ):
        conn.execute(
            "INSERT INTO policy_decision_audit (seq, prev_hash, row_hash, canonical_json) "
            "VALUES (99, %s, %s, %s)",
            ("0" * 64, "0" * 64, bad),
        )
