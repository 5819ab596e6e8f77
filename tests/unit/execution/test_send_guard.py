"""The kill switch engaged after a decision was recorded still stops the order from leaving.

The gate decides on a context built a moment earlier; an operator may engage the kill switch
between that decision's durable write and the order's send. The executor asks its send guard
(the kill switch, in the composition root) right before each order leaves.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from tradeguard.audit import open_audit_store
from tradeguard.audit.records import AuditTable
from tradeguard.bootstrap import _kill_switch_guard
from tradeguard.clock import SystemClock
from tradeguard.codes import ErrorCode, PolicyReasonCode
from tradeguard.execution import SignalOutcome, SignalResult
from tradeguard.sources.circuit_breaker import CircuitBreaker

from .factories import PRICES, FaultyPaperExchange, signal, wire


class CountingExchange(FaultyPaperExchange):
    """The paper exchange, counting the orders that reached it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.placed = 0

    def place_order(self, request: Any) -> Any:
        self.placed += 1
        return super().place_order(request)


def _wired_with_breaker(tmp_path: Path) -> tuple[Any, CircuitBreaker, CountingExchange]:
    clock = SystemClock()
    store = open_audit_store(f"sqlite:///{tmp_path / 'audit.db'}")
    exchange = CountingExchange(clock, price_source=PRICES.__getitem__)
    w = wire(store, exchange=exchange, clock=clock)
    breaker = CircuitBreaker(store.kill_switch_store(), clock)
    w.executor.send_guard = _kill_switch_guard(breaker)
    return w, breaker, exchange


def test_an_allowed_order_does_not_leave_once_the_kill_switch_is_engaged(tmp_path: Path):
    w, breaker, exchange = _wired_with_breaker(tmp_path)
    assert w.gate.submit(signal(quantity="1")).executed and exchange.placed == 1
    # The operator engages the kill switch after the context of the next signal was built:
    # the builder still answers ALLOW, the gate records ALLOW, the order must not leave.
    breaker.engage("alice", "drill", str(uuid.uuid4()))
    result = w.gate.submit(signal(quantity="1"))
    assert result.decision == "ALLOW"
    assert result.outcome is SignalOutcome.REFUSED
    assert result.refusal_code == PolicyReasonCode.HALT_KILL_SWITCH.value
    assert exchange.placed == 1
    rows = w.rows(AuditTable.ORDER, result.correlation_id)
    assert [(r["event"], r["code"], r["details"]["state"]) for r in rows] == [
        ("REFUSED", "HALT_KILL_SWITCH", "NOT_SENT")
    ]
    assert w.positions.reserved("BTCUSDT") == (Decimal(0), Decimal(0))
    assert w.audit.verify().ok
    breaker.release("alice", "drill over", str(uuid.uuid4()))
    assert w.gate.submit(signal(quantity="1")).executed and exchange.placed == 2


def test_a_batch_stops_every_order_once_the_kill_switch_is_engaged(tmp_path: Path):
    w, breaker, exchange = _wired_with_breaker(tmp_path)
    breaker.engage("alice", "drill", str(uuid.uuid4()))
    results = w.gate.submit_many([signal(quantity="1") for _ in range(4)])
    assert all(isinstance(r, SignalResult) for r in results)
    assert {r.outcome for r in results if isinstance(r, SignalResult)} == {SignalOutcome.REFUSED}
    assert exchange.placed == 0
    assert w.positions.position("BTCUSDT") == Decimal(0)


def test_a_guard_that_fails_counts_as_engaged():
    w = wire()

    def unreadable() -> str | None:
        raise OSError("kill switch state unreadable")

    w.executor.send_guard = unreadable
    result = w.gate.submit(signal(quantity="1"))
    assert result.outcome is SignalOutcome.REFUSED
    assert result.refusal_code == ErrorCode.TPP_002.value
    assert w.positions.position("BTCUSDT") == Decimal(0)
