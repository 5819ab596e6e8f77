"""Idempotency and the write-ahead order of rows on the real SQLite and PostgreSQL stores."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.unit.execution.factories import signal, wire
from tradeguard.audit import open_audit_store
from tradeguard.audit.records import AuditTable
from tradeguard.exchange.paper import RemainderPolicy
from tradeguard.execution import SignalOutcome
from tradeguard.signals import SignalReplayedError


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'audit.db'}"
    return request.getfixturevalue("postgres_url")


def test_a_repeated_signal_after_a_restart_gets_the_first_result_and_no_second_order(store_url):
    body = signal(signal_id="restart-1", quantity="2")
    store = open_audit_store(store_url)
    first = wire(store).gate.submit(body)
    store.close()

    reopened = open_audit_store(store_url)
    try:
        w = wire(reopened)  # a new process: fresh exchange, fresh position book
        again = w.gate.submit(body)
        assert again.duplicate
        assert again.correlation_id == first.correlation_id
        assert again.outcome is SignalOutcome.EXECUTED
        assert again.decision == "ALLOW" and again.reason_code == "ALLOW_ALL_GATES_PASSED"
        assert again.order.exchange_order_id == first.order.exchange_order_id
        assert again.order.filled_quantity == Decimal(2)
        assert w.exchange.open_orders() == [] and w.positions.position("BTCUSDT") == 0
        assert not w.exchange.knows_order(first.order.exchange_order_id)
        with pytest.raises(SignalReplayedError):
            w.gate.submit({**body, "quantity": "3"})
        submitted = [r for r in w.rows(AuditTable.ORDER) if r["event"] == "SUBMITTED"]
        assert len(submitted) == 1
        assert reopened.verify().ok
    finally:
        reopened.close()


def test_signal_and_decision_rows_precede_the_order_rows_in_the_trail(store_url):
    store = open_audit_store(store_url)
    try:
        w = wire(store)
        result = w.gate.submit(signal())
        cid = result.correlation_id
        signal_row = w.rows(AuditTable.SIGNAL, cid)[0]
        decision_row = w.rows(AuditTable.POLICY_DECISION, cid)[0]
        orders = w.rows(AuditTable.ORDER, cid)
        assert signal_row["policy_bypassed"] is False
        assert decision_row["policy_decision"] == "ALLOW"
        assert decision_row["timestamp_utc"] <= orders[0]["timestamp_utc"]
        assert orders[0]["details"]["decision_seq"] == decision_row["seq"]
    finally:
        store.close()


def test_partial_fill_reconciliation_is_recorded_in_the_durable_trail(tmp_path):
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    store = open_audit_store(url)
    w = wire(store, partial_fill_ratio=Decimal("0.5"), remainder=RemainderPolicy.FILL)
    result = w.gate.submit(signal(quantity="3"))
    assert w.stack.reconciler.wait_idle(5)
    store.close()
    reopened = open_audit_store(url)
    try:
        events = [
            r["event"]
            for r in reopened.rows(AuditTable.ORDER, correlation_id=result.correlation_id)
        ]
        assert events == ["SUBMITTED", "PARTIALLY_FILLED", "RECONCILED"]
        assert w.positions.position("BTCUSDT") == Decimal(3)
    finally:
        reopened.close()
