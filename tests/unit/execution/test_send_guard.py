"""A kill switch engaged, or a HALT latched, after a decision was recorded stops its order.

The gate decides on a context built a moment earlier; an operator may engage the kill switch,
or another evaluation latch a HALT, between that decision's durable write and the order's
send. The executor asks its send guard (the kill switch and the latch, in the composition
root) right before each order leaves.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from tradeguard.audit import open_audit_store
from tradeguard.audit.records import AuditTable
from tradeguard.bootstrap import _send_guard
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
    w = wire(store, exchange=exchange, clock=clock, latch_store=store.latch_store())
    breaker = CircuitBreaker(store.kill_switch_store(), clock)
    w.executor.send_guard = _send_guard(breaker, store.latch_store())
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


class HaltOnSecondBuild:
    """A builder whose first context passes and whose later ones meet a budget HARD_STOP."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.builds = 0

    def build(self, correlation_id: str) -> Any:
        self.builds += 1
        if self.builds > 1:
            self.inner.budget = "HARD_STOP"
        return self.inner.build(correlation_id)


def test_an_order_decided_before_a_halt_latched_in_the_same_batch_does_not_leave(tmp_path: Path):
    w, _breaker, exchange = _wired_with_breaker(tmp_path)
    w.gate._decider._builder = HaltOnSecondBuild(w.builder)
    first, second = w.gate.submit_many([signal(quantity="1"), signal(quantity="1")])
    assert isinstance(first, SignalResult) and isinstance(second, SignalResult)
    assert first.decision == "ALLOW" and second.decision == "HALT"
    assert first.outcome is SignalOutcome.REFUSED
    assert first.refusal_code == PolicyReasonCode.HALT_LATCHED.value
    assert exchange.placed == 0


def test_a_latch_that_cannot_be_read_counts_as_latched(tmp_path: Path):
    class Unreadable:
        def load(self) -> Any:
            raise OSError("latch unreadable")

    w, breaker, exchange = _wired_with_breaker(tmp_path)
    w.executor.send_guard = _send_guard(breaker, Unreadable())  # type: ignore[arg-type]
    result = w.gate.submit(signal(quantity="1"))
    assert result.refusal_code == PolicyReasonCode.HALT_LATCHED.value
    assert exchange.placed == 0


def test_without_the_policy_layer_only_the_kill_switch_stops_orders(tmp_path: Path):
    w, breaker, exchange = _wired_with_breaker(tmp_path)
    w.executor.send_guard = _send_guard(breaker, None)
    assert w.gate.submit(signal(quantity="1")).executed and exchange.placed == 1
