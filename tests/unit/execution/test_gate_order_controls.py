"""The order controls through the gate on the paper exchange: refusals are order_audit REFUSED
rows with their code and nothing is sent; what is sent is fitted to the symbol's rules."""

from __future__ import annotations

from decimal import Decimal

from tradeguard.audit.records import AuditTable
from tradeguard.clock import FakeClock
from tradeguard.codes import ErrorCode
from tradeguard.execution import OrderLimits, SignalOutcome
from tradeguard.ports import SymbolRules

from .factories import PRICES, FaultyPaperExchange, signal, wire

D = Decimal
RULES = {
    "BTCUSDT": SymbolRules("BTCUSDT", D("0.001"), D("0.002"), D(10), D("0.5")),
    "ETHUSDT": SymbolRules("ETHUSDT", D("0.01"), D("0.01"), D(10), D("0.01")),
}


def wired(clock=None, **limits):
    clock = clock or FakeClock()
    exchange = FaultyPaperExchange(clock, price_source=PRICES.__getitem__, symbol_rules=RULES)
    return wire(
        exchange=exchange,
        clock=clock,
        symbol_rules=True,
        order_limits=OrderLimits(**limits) if limits else None,
    )


def _events(w, correlation_id: str) -> list[dict]:
    return w.rows(AuditTable.ORDER, correlation_id)


def assert_refused(w, result, code: ErrorCode) -> None:
    assert result.outcome is SignalOutcome.REFUSED, result
    assert result.refusal_code == code.value
    assert result.decision == "ALLOW"  # the policy allowed; the order control refused
    [row] = _events(w, result.correlation_id)  # no SUBMITTED row: the order never left
    assert (row["event"], row["code"]) == ("REFUSED", code.value)
    assert result.order is None


def test_an_order_off_the_step_leaves_rounded_down_and_is_recorded_so():
    w = wired()
    result = w.gate.submit(signal(quantity="0.0129"))
    assert result.outcome is SignalOutcome.EXECUTED
    submitted = [r for r in _events(w, result.correlation_id) if r["event"] == "SUBMITTED"]
    assert [r["requested_quantity"] for r in submitted] == ["0.012"]
    assert result.order.requested_quantity == D("0.012")
    assert w.positions.position("BTCUSDT") == D("0.012")


def test_a_limit_price_off_the_tick_leaves_on_the_tick_never_worse():
    w = wired()
    # Both rest (the market is at 50,000): the price the exchange holds is the one sent.
    buy = w.gate.submit(signal(quantity="0.01", order_type="LIMIT", price="49999.9"))
    sell = w.gate.submit(signal(quantity="0.01", side="SELL", order_type="LIMIT", price="50000.1"))
    assert (buy.outcome, sell.outcome) == (SignalOutcome.RESTING, SignalOutcome.RESTING)
    resting = {o.side.value: o.price for o in w.exchange.open_orders("BTCUSDT")}
    assert resting == {"BUY": D("49999.5"), "SELL": D("50000.5")}


def test_below_the_minimum_after_rounding_is_refused_and_nothing_is_sent():
    w = wired()
    assert_refused(w, w.gate.submit(signal(quantity="0.0019")), ErrorCode.ORDER_BELOW_MINIMUM)


def test_a_limit_outside_the_collar_is_refused_but_an_exit_there_passes():
    w = wired(price_collar_pct=D(5))
    assert w.gate.submit(signal(quantity="0.01")).executed
    far = w.gate.submit(signal(quantity="0.01", order_type="LIMIT", price="56000"))
    assert_refused(w, far, ErrorCode.RISK_PRICE_COLLAR)
    exit_ = w.gate.submit(
        signal(intent="CLOSE", side="SELL", quantity="0.01", order_type="LIMIT", price="40000")
    )
    assert exit_.outcome is not SignalOutcome.REFUSED, exit_


def test_an_order_above_the_maximum_notional_is_refused():
    w = wired(max_order_notional=D(10000))
    assert_refused(w, w.gate.submit(signal(quantity="0.3")), ErrorCode.RISK_ORDER_NOTIONAL)
    assert w.gate.submit(signal(quantity="0.2")).executed


def test_a_burst_is_throttled_per_symbol_and_exits_still_pass():
    w = wired(max_orders_per_symbol=3, rate_window_seconds=1.0)
    results = w.gate.submit_many([signal(quantity=f"0.0{i + 1}") for i in range(5)])
    outcomes = [r.outcome for r in results]
    assert outcomes == [SignalOutcome.EXECUTED] * 3 + [SignalOutcome.REFUSED] * 2
    for result in results[3:]:
        assert_refused(w, result, ErrorCode.RISK_ORDER_RATE)
    assert w.gate.submit(signal(intent="REDUCE", side="SELL", quantity="0.01")).executed


def test_the_throttle_window_moves_with_the_injected_monotonic_clock():
    clock = FakeClock()
    w = wired(clock, max_orders_per_account=2, rate_window_seconds=1.0)
    assert all(
        r.executed
        for r in w.gate.submit_many(
            [signal(quantity="0.01"), signal(symbol="ETHUSDT", quantity="1")]
        )
    )
    assert_refused(w, w.gate.submit(signal(quantity="0.02")), ErrorCode.RISK_ORDER_RATE)
    clock.advance(1.0)
    assert w.gate.submit(signal(quantity="0.02")).executed


def test_the_same_order_from_another_signal_is_a_duplicate_inside_the_window():
    clock = FakeClock()
    w = wired(clock, duplicate_window_seconds=2.0)
    assert w.gate.submit(signal(quantity="0.01")).executed
    assert_refused(w, w.gate.submit(signal(quantity="0.01")), ErrorCode.RISK_DUPLICATE_ORDER)
    assert w.gate.submit(signal(side="SELL", intent="REDUCE", quantity="0.005")).executed
    assert w.gate.submit(signal(side="SELL", intent="REDUCE", quantity="0.005")).executed
    clock.advance(2.0)
    assert w.gate.submit(signal(quantity="0.01")).executed


def test_rules_that_cannot_be_read_refuse_new_risk_and_let_exits_go():
    w = wired()
    assert w.gate.submit(signal(quantity="0.01")).executed
    w.stack.positions.controls.rules = lambda symbol: None  # the exchange stopped answering
    assert_refused(w, w.gate.submit(signal(quantity="0.01")), ErrorCode.SYMBOL_RULES_UNAVAILABLE)
    assert w.gate.submit(signal(intent="CLOSE", side="SELL", quantity="0.01")).executed
