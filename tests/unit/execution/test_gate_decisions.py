"""The gate: decisions recorded before orders, exit-only NEUTRAL, HALT cancels, fail closed."""

from __future__ import annotations

from decimal import Decimal

import pytest
from structlog.testing import capture_logs

from tradeguard.audit.records import AuditTable
from tradeguard.errors import AuditUnavailableError
from tradeguard.exchange.paper import RemainderPolicy
from tradeguard.execution import SignalOutcome

from .factories import signal, wire


def test_allow_executes_the_order_and_records_signal_decision_and_order_rows():
    w = wire()
    result = w.gate.submit(signal(quantity="2"))
    assert result.decision == "ALLOW"
    assert result.outcome is SignalOutcome.EXECUTED
    assert result.order is not None and result.order.filled_quantity == Decimal(2)
    assert w.positions.position("BTCUSDT") == Decimal(2)
    cid = result.correlation_id
    assert [r["outcome"] for r in w.rows(AuditTable.SIGNAL, cid)] == ["ACCEPTED"]
    assert [r["policy_decision"] for r in w.rows(AuditTable.POLICY_DECISION, cid)] == ["ALLOW"]
    assert [r["event"] for r in w.rows(AuditTable.ORDER, cid)] == ["SUBMITTED", "FILLED"]


def test_signal_received_is_logged_with_its_ai_confidence():
    w = wire()
    with capture_logs() as logs:
        result = w.gate.submit(signal(ai_confidence="42.5"))
    received = [e for e in logs if e["event"] == "signal_received"]
    assert received[0]["ai_confidence"] == "42.5"
    assert received[0]["correlation_id"] == result.correlation_id


def test_neutral_refuses_open_with_the_health_reason_and_sends_nothing():
    w = wire()
    w.builder.health = "YELLOW"
    result = w.gate.submit(signal())
    assert result.decision == "NEUTRAL"
    assert result.outcome is SignalOutcome.REFUSED
    assert result.refusal_code == "NEUTRAL_HEALTH_YELLOW"
    assert w.exchange.open_orders() == []
    assert w.positions.position("BTCUSDT") == 0
    order_rows = w.rows(AuditTable.ORDER, result.correlation_id)
    assert [(r["event"], r["code"]) for r in order_rows] == [("REFUSED", "NEUTRAL_HEALTH_YELLOW")]
    signal_row = w.rows(AuditTable.SIGNAL, result.correlation_id)[0]
    assert (signal_row["outcome"], signal_row["reason_code"]) == (
        "REFUSED",
        "NEUTRAL_HEALTH_YELLOW",
    )


def test_neutral_allows_a_close_no_larger_than_the_position():
    w = wire()
    w.gate.submit(signal(quantity="3"))
    w.builder.health = "RED"
    result = w.gate.submit(signal(side="SELL", intent="CLOSE", quantity="3"))
    assert result.decision == "NEUTRAL"
    assert result.outcome is SignalOutcome.EXECUTED
    assert w.positions.position("BTCUSDT") == 0


def test_neutral_refuses_a_close_larger_than_the_position():
    w = wire()
    w.gate.submit(signal(quantity="1"))
    w.builder.health = "YELLOW"
    result = w.gate.submit(signal(side="SELL", intent="CLOSE", quantity="1.5"))
    assert result.outcome is SignalOutcome.REFUSED
    assert result.refusal_code == "ORDER_WOULD_INCREASE_RISK"
    assert w.positions.position("BTCUSDT") == 1


def test_reduce_on_the_wrong_side_is_refused_even_under_allow():
    w = wire()
    w.gate.submit(signal(quantity="1"))
    result = w.gate.submit(signal(side="BUY", intent="REDUCE", quantity="0.5"))
    assert result.decision == "ALLOW"
    assert result.refusal_code == "ORDER_WOULD_INCREASE_RISK"


def test_two_exits_cannot_both_pass_against_the_same_position():
    w = wire()
    w.gate.submit(signal(quantity="1"))
    permits = w.positions.check_and_reserve
    # The first exit holds its reservation while the second is checked.
    from tradeguard.policy import IntentCheck

    first, reservation = permits(
        "BTCUSDT",
        __import__("tradeguard").policy.Side.SELL,
        Decimal(1),
        lambda pos: IntentCheck(pos >= 1),
    )
    assert first.permitted
    result = w.gate.submit(signal(side="SELL", intent="CLOSE", quantity="1"))
    assert result.refusal_code == "ORDER_WOULD_INCREASE_RISK"
    w.positions.release(reservation)
    assert w.gate.submit(signal(side="SELL", intent="CLOSE", quantity="1")).executed


def test_halt_cancels_resting_orders_and_sends_nothing_new():
    w = wire()
    resting = w.gate.submit(
        signal(order_type="LIMIT", price="40000", quantity="1")  # below market: rests
    )
    assert resting.outcome is SignalOutcome.RESTING
    assert len(w.exchange.open_orders()) == 1
    w.builder.kill = True
    result = w.gate.submit(signal(quantity="1"))
    assert result.decision == "HALT"
    assert result.reason_code == "HALT_KILL_SWITCH"
    assert result.outcome is SignalOutcome.REFUSED
    assert w.exchange.open_orders() == []
    cancelled = [r for r in w.rows(AuditTable.ORDER) if r["event"] == "CANCELLED"]
    assert len(cancelled) == 1
    assert w.positions.position("BTCUSDT") == 0


def test_cancel_intent_passes_halt():
    w = wire()
    w.gate.submit(signal(order_type="LIMIT", price="40000", quantity="1"))
    w.builder.budget = "HARD_STOP"
    w.executor.cancel_all_resting()  # nothing special: also callable by the kill switch
    w.gate.submit(signal(order_type="LIMIT", price="40000", quantity="1"))
    result = w.gate.submit(signal(intent="CANCEL"))
    assert result.decision == "HALT"
    assert result.outcome is SignalOutcome.CANCELLED


def test_confidence_100_meeting_halt_records_override_blocked():
    w = wire()
    w.builder.kill = True
    with capture_logs() as logs:
        result = w.gate.submit(signal(ai_confidence=100))
    assert result.outcome is SignalOutcome.REFUSED
    assert "AI_CONFIDENCE_OVERRIDE_BLOCKED" in result.codes
    rows = w.rows(AuditTable.ORDER, result.correlation_id)
    assert [(r["event"], r["code"]) for r in rows] == [
        ("REFUSED", "AI_CONFIDENCE_OVERRIDE_BLOCKED")
    ]
    decision = w.rows(AuditTable.POLICY_DECISION, result.correlation_id)[0]
    assert decision["ai_confidence"] == "100"
    assert any(e.get("code") == "AI_CONFIDENCE_OVERRIDE_BLOCKED" for e in logs)


def test_confidence_99_meeting_halt_is_refused_without_the_override_code():
    w = wire()
    w.builder.kill = True
    result = w.gate.submit(signal(ai_confidence="99"))
    assert result.outcome is SignalOutcome.REFUSED
    assert "AI_CONFIDENCE_OVERRIDE_BLOCKED" not in result.codes


def test_a_context_that_cannot_be_built_halts_with_context_incomplete():
    w = wire()
    w.builder.fail = True
    result = w.gate.submit(signal())
    assert result.decision == "HALT"
    assert result.reason_code == "HALT_CONTEXT_INCOMPLETE"
    assert "TPP-001" in result.codes
    assert w.rows(AuditTable.POLICY_DECISION, result.correlation_id)[0]["reason_code"] == (
        "HALT_CONTEXT_INCOMPLETE"
    )
    assert w.exchange.open_orders() == [] and w.positions.position("BTCUSDT") == 0


class BrokenStore:
    """An audit store that cannot write (reads work)."""

    def __init__(self, inner):
        self.inner = inner

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def record_many(self, records):
        raise AuditUnavailableError("AUD-006", "disk full")


def test_when_the_store_cannot_record_nothing_is_sent():
    from tradeguard.audit import open_audit_store

    w = wire(BrokenStore(open_audit_store("memory://")))
    with pytest.raises(AuditUnavailableError):
        w.gate.submit(signal())
    assert w.positions.position("BTCUSDT") == 0
    assert w.positions.reserved("BTCUSDT") == (0, 0)
    assert not w.exchange.knows_order("anything")
    assert w.exchange.open_orders() == []


def test_exchange_outage_is_recorded_and_never_raises_a_foreign_exception():
    w = wire()
    for fault, outcome, code in (
        ("down", SignalOutcome.ERROR, "EXCHANGE_ERROR"),
        ("reject", SignalOutcome.REJECTED, "EXCHANGE_ORDER_REJECTED"),
        ("foreign", SignalOutcome.ERROR, "EXCHANGE_ERROR"),
    ):
        w.exchange.fault = fault
        result = w.gate.submit(signal())
        assert result.outcome is outcome
        assert code in result.codes
        rows = w.rows(AuditTable.ORDER, result.correlation_id)
        assert [(r["event"], r["code"]) for r in rows] == [("REJECTED", code)]
    assert w.positions.position("BTCUSDT") == 0
    assert w.positions.reserved("BTCUSDT") == (0, 0)


def test_partial_fill_is_reconciled_until_the_book_equals_the_exchange():
    w = wire(partial_fill_ratio=Decimal("0.4"), remainder=RemainderPolicy.FILL)
    with capture_logs() as logs:
        result = w.gate.submit(signal(quantity="5"))
        assert result.outcome is SignalOutcome.PARTIALLY_FILLED
        assert w.stack.reconciler.wait_idle(5)
    assert not w.stack.reconciler.pending()
    assert any(e.get("code") == "PARTIAL_FILL_DISCREPANCY" for e in logs)
    order = w.exchange.order_status("BTCUSDT", result.order.exchange_order_id)
    assert w.positions.position("BTCUSDT") == order.filled_quantity == Decimal(5)
    rows = w.rows(AuditTable.ORDER, result.correlation_id)
    assert rows[-1]["event"] == "RECONCILED"
    assert rows[-1]["code"] == "RECONCILIATION_COMPLETE"
    assert w.positions.reserved("BTCUSDT") == (0, 0)


def test_partial_fill_with_cancelled_remainder_books_only_what_filled():
    w = wire(partial_fill_ratio=Decimal("0.25"), remainder=RemainderPolicy.CANCEL)
    result = w.gate.submit(signal(quantity="4"))
    assert w.stack.reconciler.wait_idle(5)
    assert w.positions.position("BTCUSDT") == Decimal(1)
    assert w.rows(AuditTable.ORDER, result.correlation_id)[-1]["filled_quantity"] == "1.00000000"


def test_a_resting_remainder_is_cancelled_by_reconciliation_and_the_book_matches():
    w = wire(partial_fill_ratio=Decimal("0.5"), remainder=RemainderPolicy.REST)
    w.stack.reconciler._cancel_after = 2
    w.gate.submit(signal(quantity="2"))
    assert w.stack.reconciler.pending() or w.positions.position("BTCUSDT") == 1
    assert w.stack.reconciler.wait_idle(5)
    assert w.positions.position("BTCUSDT") == Decimal(1)
    assert w.exchange.open_orders() == []
