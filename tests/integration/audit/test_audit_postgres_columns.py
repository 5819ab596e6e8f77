"""PostgreSQL: the query columns come from the hashed canonical JSON, whatever a client sends."""

from __future__ import annotations

import psycopg
import pytest

from tests.audit_factories import decision, order, signal
from tradeguard import open_audit_store
from tradeguard.audit.records import AuditTable

pytestmark = pytest.mark.postgres


def test_query_columns_are_filled_from_the_canonical_json(postgres_url: str) -> None:
    store = open_audit_store(postgres_url)
    record = decision(1, halt=True)
    store.record_decision(record)
    store.record_signal(signal("sig-columns"))
    store.record_order_event(order(3))
    store.close()
    with psycopg.connect(postgres_url) as conn:
        row = conn.execute(
            "SELECT correlation_id, policy_decision, blocking_gate, precedence_rank, "
            "ai_confidence::text, is_latched FROM policy_decision_audit"
        ).fetchone()
        signal_id = conn.execute("SELECT signal_id FROM signal_audit").fetchone()
        event = conn.execute("SELECT event, correlation_id FROM order_audit").fetchone()
    assert row == (record.correlation_id, "HALT", "KILL_SWITCH", 1, "42.5", False)
    assert signal_id == ("sig-columns",)
    assert event is not None and event[0] == order(3).event.value


def test_column_values_sent_by_a_client_are_overwritten_from_the_json(postgres_url: str) -> None:
    store = open_audit_store(postgres_url)
    store.record_decision(decision(1))
    raw = next(iter(store.raw_rows(AuditTable.POLICY_DECISION)))
    store.close()
    seq, _prev, digest, canonical = raw
    forged = canonical.replace(f'"seq":{seq}', f'"seq":{seq + 1}')
    with psycopg.connect(postgres_url) as conn:
        conn.execute(
            "INSERT INTO policy_decision_audit (seq, prev_hash, row_hash, canonical_json, "
            "correlation_id, policy_decision) VALUES (%s, %s, %s, %s, 'forged', 'HALT')",
            (seq + 1, digest, digest, forged),
        )
        row = conn.execute(
            "SELECT correlation_id, policy_decision FROM policy_decision_audit WHERE seq = %s",
            (seq + 1,),
        ).fetchone()
    assert row is not None and row[0] != "forged" and row[1] == "ALLOW"


def test_a_row_whose_json_breaks_a_rule_is_refused(postgres_url: str) -> None:
    store = open_audit_store(postgres_url)
    store.close()
    bad = (
        '{"correlation_id":"c","policy_decision":"MAYBE","reason_code":"X",'
        '"seq":1,"timestamp_utc":"t"}'
    )
    with (
        psycopg.connect(postgres_url) as conn,
        pytest.raises(psycopg.errors.CheckViolation),
    ):
        conn.execute(
            "INSERT INTO policy_decision_audit (seq, prev_hash, row_hash, canonical_json) "
            "VALUES (1, %s, %s, %s)",
            ("0" * 64, "1" * 64, bad),
        )
