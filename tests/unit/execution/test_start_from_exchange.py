"""Start from the exchange's truth: resting orders count in the caps, mismatches are recorded."""

from __future__ import annotations

from decimal import Decimal

from tradeguard.audit.records import AuditTable
from tradeguard.clock import SystemClock
from tradeguard.codes import ErrorCode
from tradeguard.execution import SignalOutcome, SignalResult
from tradeguard.execution.startup import find_mismatches, start_from_exchange, trail_orders
from tradeguard.policy import Side
from tradeguard.ports import Balance, OrderRequest, OrderState, OrderStatus, OrderType

from .factories import signal, wire

D = Decimal


def _resting(order_id: str, side: Side = Side.BUY, quantity: str = "1") -> OrderState:
    return OrderState(
        order_id=order_id,
        client_order_id=f"tg-{order_id}",
        symbol="BTCUSDT",
        side=side,
        status=OrderStatus.NEW,
        requested_quantity=D(quantity),
        filled_quantity=D(0),
        order_type=OrderType.LIMIT,
        price=D(1000),
    )


def _start(w, orders, balances=()):  # type: ignore[no-untyped-def]
    return start_from_exchange(
        open_orders=orders,
        balances=list(balances),
        executor=w.executor,
        audit=w.audit,
        clock=SystemClock(),
        exchange_name="paper",
    )


def _one(w, **fields) -> SignalResult:  # type: ignore[no-untyped-def]
    [result] = w.gate.submit_many([signal(**fields)])
    assert isinstance(result, SignalResult)
    return result


def test_resting_orders_found_at_start_fill_the_open_orders_cap():
    w = wire(max_open_orders=2)
    report = _start(w, [_resting("a"), _resting("b")])
    assert report.adopted == 2 and w.executor.resting_count() == 2
    result = _one(w)
    assert result.outcome is SignalOutcome.REFUSED
    assert result.refusal_code == ErrorCode.RISK_OPEN_ORDERS.value


def test_resting_orders_found_at_start_count_in_the_exposure_cap():
    # Two resting BUYs of 1 BTC at 50,000 already carry 100,000 of worst-case exposure.
    w = wire(max_gross_exposure=D(120000))
    _start(w, [_resting("a"), _resting("b")])
    result = _one(w, quantity="1")
    assert result.outcome is SignalOutcome.REFUSED
    assert result.refusal_code == ErrorCode.RISK_EXPOSURE.value
    assert _one(w, quantity="0.1").outcome is SignalOutcome.EXECUTED


def test_adopting_twice_counts_each_order_once_and_terminal_ones_not_at_all():
    w = wire(max_open_orders=10)
    done = OrderState("z", "", "BTCUSDT", Side.BUY, OrderStatus.FILLED, D(1), D(1))
    assert w.executor.adopt_resting([_resting("a"), done]) == 1
    assert w.executor.adopt_resting([_resting("a")]) == 0
    assert w.executor.resting_count() == 1


def test_cancelling_an_adopted_order_releases_it_from_the_caps():
    w = wire(max_gross_exposure=D(60000))
    # An order "left by an earlier process" on the exchange.
    placed = w.exchange.place_order(
        OrderRequest("old", "BTCUSDT", Side.BUY, D(1), OrderType.LIMIT, D(1000))
    )
    _start(w, w.exchange.open_orders())
    assert _one(w, quantity="0.5").outcome is SignalOutcome.REFUSED
    cancelled = w.executor.cancel_all_resting()
    assert [state.order_id for state in cancelled] == [placed.order_id]
    assert w.executor.resting_count() == 0
    assert _one(w, quantity="0.5").outcome is SignalOutcome.EXECUTED


def test_an_order_the_trail_does_not_know_is_recorded_once_as_a_mismatch():
    w = wire()
    report = _start(w, [_resting("stranger")])
    assert [m.kind for m in report.mismatches] == ["ORDER_UNKNOWN_TO_TRAIL"]
    rows = w.rows(AuditTable.ORDER)
    assert [(r["event"], r["code"], r["exchange_order_id"]) for r in rows] == [
        ("RECONCILED", ErrorCode.START_POSITION_MISMATCH.value, "stranger")
    ]
    # The next start knows it from the recorded row: nothing new to report.
    again = wire(w.audit)
    assert _start(again, [_resting("stranger")]).mismatches == ()


def test_an_order_the_trail_saw_resting_that_is_gone_is_a_mismatch():
    w = wire()
    resting = _one(w, order_type="LIMIT", price="1000")
    assert resting.outcome is SignalOutcome.RESTING
    restarted = wire(w.audit)
    report = _start(restarted, [])
    assert [m.kind for m in report.mismatches] == ["ORDER_NO_LONGER_RESTING"]


def test_a_long_position_above_the_base_balance_is_a_mismatch_and_a_covered_one_is_not():
    w = wire()
    assert _one(w, quantity="2").outcome is SignalOutcome.EXECUTED
    trail = trail_orders(w.audit.rows(AuditTable.ORDER))
    short = [Balance("BTC", D(1), D(1)), Balance("USDT", D(5), D(5))]
    kinds = [m.kind for m in find_mismatches(trail, [], short)]
    assert kinds == ["POSITION_ABOVE_BALANCE"]
    covered = [Balance("BTC", D(3), D(3))]
    assert find_mismatches(trail, [], covered) == []
