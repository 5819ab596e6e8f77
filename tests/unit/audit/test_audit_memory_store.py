"""The in-memory twin behaves like the real stores: chains, reads, control state."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.audit_factories import BASE, decision, operator_action, order, repeat_of, signal
from tradeguard import open_audit_store
from tradeguard.audit.records import AuditTable
from tradeguard.codes import ErrorCode
from tradeguard.errors import AuditUnavailableError, ConfigurationError
from tradeguard.policy import GateName, LatchPhase, LatchState
from tradeguard.ports import KillSwitchState


def test_memory_store_appends_every_table_and_verifies() -> None:
    store = open_audit_store("memory://")
    assert store.record_decision(decision()) == 1
    assert store.record_signal(signal()) == 1
    assert store.record_order_event(order()) == 1
    assert store.record_operator_action(operator_action()) == 1
    assert store.record_many([decision(1), decision(2, halt=True)]) == [2, 3]
    report = store.verify()
    assert report.ok and report.rows_checked == 6
    assert {h.table: h.seq for h in store.heads()}[AuditTable.POLICY_DECISION] == 3


def test_rows_carry_chain_fields_and_filter_by_time_and_correlation() -> None:
    store = open_audit_store("memory://")
    records = [decision(i) for i in range(5)]
    store.record_many(records)
    rows = list(store.rows(AuditTable.POLICY_DECISION, since=BASE.replace(second=2), limit=2))
    assert [r["seq"] for r in rows] == [3, 4]
    assert {"prev_hash", "row_hash", "canonical_json"} <= rows[0].keys()
    newest = next(store.rows(AuditTable.POLICY_DECISION, newest_first=True))
    assert newest["seq"] == 5
    found = list(store.rows(AuditTable.POLICY_DECISION, correlation_id=records[1].correlation_id))
    assert [r["seq"] for r in found] == [2]


def test_find_signal_returns_the_first_row_of_a_signal_id() -> None:
    store = open_audit_store("memory://")
    store.record_signal(signal("a"))
    store.record_signal(repeat_of("a", 1))
    found = store.find_signal("a")
    assert found is not None and found["seq"] == 1 and found["signal_id"] == "a"
    assert store.find_signal("missing") is None


def test_kill_switch_set_records_the_operator_action_with_the_state() -> None:
    store = open_audit_store("memory://")
    switch = store.kill_switch_store()
    assert switch.load().active is False
    state = KillSwitchState(True, "alice", "drill", datetime(2026, 1, 1, tzinfo=UTC))
    switch.set(state, operator_action())
    assert switch.load() == state
    assert [r["action"] for r in store.rows(AuditTable.OPERATOR)] == [
        ErrorCode.KILL_SWITCH_ENGAGED.value
    ]


def test_latch_store_round_trips_a_held_latch() -> None:
    store = open_audit_store("memory://")
    latch = store.latch_store()
    held = LatchState(LatchPhase.LATCHED, GateName.BUDGET, latched_at=BASE)
    latch.save(held)
    assert latch.load() == held


def test_a_closed_store_refuses_appends_with_aud_006() -> None:
    store = open_audit_store("memory://")
    store.close()
    with pytest.raises(AuditUnavailableError) as caught:
        store.record_decision(decision())
    assert caught.value.code == "AUD-006"


def test_an_unknown_url_scheme_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        open_audit_store("mysql://nope")


def test_find_signal_looks_signals_up_by_id_among_many() -> None:
    store = open_audit_store("memory://")
    store.record_many([signal(f"s-{i}", i) for i in range(2000)])
    store.record_signal(repeat_of("s-1500", 5000))
    found = store.find_signal("s-1500")
    assert found is not None and found["seq"] == 1501
