"""The pre-trade exposure cap: orders in flight count, a burst stops at the maximum, exits pass.

The RiskGovernor sees exposure only in a sampled snapshot of filled positions, so a burst of
signals decided on one context would all be ALLOWED. The position book's cap, checked with
each order's reservation, is what keeps such a burst under ``max_gross_exposure``.
"""

from __future__ import annotations

from decimal import Decimal

from tradeguard.audit.records import AuditTable
from tradeguard.clock import FakeClock
from tradeguard.codes import ErrorCode
from tradeguard.execution import PositionBook, SignalOutcome, SignalResult
from tradeguard.policy import Side
from tradeguard.policy.orders import INTENT_OK

from .factories import signal, wire

D = Decimal
CAP = D(200000)  # four BTCUSDT at 50,000


def _ok(_position: Decimal) -> object:
    return INTENT_OK


def test_a_burst_decided_on_one_context_stops_at_the_exposure_cap():
    w = wire(max_gross_exposure=CAP)
    results = w.gate.submit_many([signal(quantity="1") for _ in range(10)])
    assert all(isinstance(r, SignalResult) for r in results)
    outcomes = [r.outcome for r in results if isinstance(r, SignalResult)]
    assert outcomes == [SignalOutcome.EXECUTED] * 4 + [SignalOutcome.REFUSED] * 6
    refused = [r for r in results if isinstance(r, SignalResult) and not r.executed]
    assert {r.refusal_code for r in refused} == {ErrorCode.RISK_EXPOSURE.value}
    assert all(r.decision == "ALLOW" for r in refused)  # the policy allowed; the cap refused
    for result in refused:
        events = [row["event"] for row in w.rows(AuditTable.ORDER, result.correlation_id)]
        assert events == ["REFUSED"]
    assert w.positions.position("BTCUSDT") == D(4)
    assert w.positions.snapshot().gross_exposure == CAP
    assert len([r for r in w.rows(AuditTable.ORDER) if r["event"] == "SUBMITTED"]) == 4


def test_without_the_cap_the_same_burst_goes_past_the_maximum():
    # What the cap prevents: the context said HEALTHY for every signal of the batch.
    w = wire()
    results = w.gate.submit_many([signal(quantity="1") for _ in range(10)])
    assert all(isinstance(r, SignalResult) and r.executed for r in results)
    assert w.positions.snapshot().gross_exposure == D(500000)


def test_exits_pass_over_the_cap_and_new_risk_does_not():
    prices = {"BTCUSDT": D(50000)}
    w = wire(max_gross_exposure=CAP, prices=prices.__getitem__)
    w.gate.submit_many([signal(quantity="1") for _ in range(4)])
    prices["BTCUSDT"] = D(60000)  # the market carried exposure to 240,000 > the cap
    opened = w.gate.submit(signal(quantity="0.1"))
    assert opened.outcome is SignalOutcome.REFUSED
    assert opened.refusal_code == ErrorCode.RISK_EXPOSURE.value
    closed = w.gate.submit(signal(intent="CLOSE", side="SELL", quantity="1"))
    assert closed.executed
    assert w.positions.position("BTCUSDT") == D(3)


def test_an_order_that_cannot_be_valued_is_refused():
    def no_price(symbol: str) -> Decimal:
        raise LookupError(symbol)

    w = wire(max_gross_exposure=CAP, prices=no_price)
    result = w.gate.submit(signal(quantity="0.001"))
    assert result.outcome is SignalOutcome.REFUSED
    assert result.refusal_code == ErrorCode.RISK_EXPOSURE.value
    assert not [r for r in w.rows(AuditTable.ORDER) if r["event"] == "SUBMITTED"]


def test_orders_in_flight_count_until_they_fill_or_are_released():
    prices = {"BTC": D(100), "ETH": D(10)}
    book = PositionBook(FakeClock(), price_lookup=prices.__getitem__, max_gross_exposure=D(500))
    check, first = book.check_and_reserve("BTC", Side.BUY, D(3), _ok)
    assert check.permitted and first is not None
    # 300 in flight on BTC: 25 ETH (250) would make 550 > 500.
    check, second = book.check_and_reserve("ETH", Side.SELL, D(25), _ok)
    assert not check.permitted and check.code is ErrorCode.RISK_EXPOSURE and second is None
    assert book.reserved("ETH") == (D(0), D(0))  # a refused order holds nothing
    book.apply_fill("BTC", Side.BUY, D(1), D(100), reservation=first)
    check, _ = book.check_and_reserve("ETH", Side.SELL, D(25), _ok)
    assert not check.permitted  # still 100 filled + 200 in flight on BTC
    book.release(first)  # the other 2 will never fill
    check, second = book.check_and_reserve("ETH", Side.SELL, D(25), _ok)
    assert check.permitted and second is not None


def test_an_order_on_the_other_side_of_a_position_is_not_new_risk():
    prices = {"BTC": D(100)}
    book = PositionBook(FakeClock(), price_lookup=prices.__getitem__, max_gross_exposure=D(500))
    book.apply_fill("BTC", Side.BUY, D(5), D(100))
    prices["BTC"] = D(200)  # 1,000 > the cap
    check, _ = book.check_and_reserve("BTC", Side.SELL, D(5), _ok)
    assert check.permitted  # flattens: the worst it can leave is what exists now
    check, _ = book.check_and_reserve("BTC", Side.SELL, D(6), _ok)
    assert not check.permitted  # 5 in flight + 6 could leave the book short 6 (1,200)


def test_orders_open_or_in_flight_are_capped_for_new_risk_only():
    book = PositionBook(FakeClock(), max_open_orders=2)
    book.apply_fill("BTC", Side.BUY, D(5), D(100))
    _, first = book.check_and_reserve("BTC", Side.BUY, D(1), _ok)
    _, second = book.check_and_reserve("ETH", Side.SELL, D(1), _ok)
    assert first is not None and second is not None
    check, third = book.check_and_reserve("BTC", Side.BUY, D(1), _ok)
    assert not check.permitted and check.code is ErrorCode.RISK_OPEN_ORDERS and third is None
    check, exit_ = book.check_and_reserve("BTC", Side.SELL, D(2), _ok)
    assert check.permitted and exit_ is not None  # an exit adds no risk: never capped
    book.release(first)
    book.release(exit_)
    check, third = book.check_and_reserve("BTC", Side.BUY, D(1), _ok)
    assert check.permitted and third is not None


def test_resting_orders_reported_by_the_executor_count_as_open():
    resting = [3]
    book = PositionBook(FakeClock(), max_open_orders=3, open_orders=lambda: resting[0])
    check, _ = book.check_and_reserve("BTC", Side.BUY, D(1), _ok)
    assert not check.permitted and check.code is ErrorCode.RISK_OPEN_ORDERS
    resting[0] = 2
    check, _ = book.check_and_reserve("BTC", Side.BUY, D(1), _ok)
    assert check.permitted


def test_a_burst_in_one_batch_stops_at_the_open_orders_cap():
    w = wire(max_open_orders=3)
    results = w.gate.submit_many([signal(quantity="0.01") for _ in range(5)])
    outcomes = [r.outcome for r in results if isinstance(r, SignalResult)]
    assert outcomes == [SignalOutcome.EXECUTED] * 3 + [SignalOutcome.REFUSED] * 2
    refused = [r for r in results if isinstance(r, SignalResult) and not r.executed]
    assert {r.refusal_code for r in refused} == {ErrorCode.RISK_OPEN_ORDERS.value}
    # Once those three have filled, nothing is open: the next one passes.
    assert w.gate.submit(signal(quantity="0.01")).executed


def test_an_unreadable_resting_count_refuses_new_risk_but_not_exits():
    def broken() -> int:
        raise RuntimeError("executor gone")

    book = PositionBook(FakeClock(), max_open_orders=10, open_orders=broken)
    book.apply_fill("BTC", Side.BUY, D(2), D(100))
    check, _ = book.check_and_reserve("BTC", Side.BUY, D(1), _ok)
    assert not check.permitted and check.code is ErrorCode.RISK_OPEN_ORDERS
    check, _ = book.check_and_reserve("BTC", Side.SELL, D(1), _ok)
    assert check.permitted


def test_a_resting_order_keeps_its_unfilled_quantity_held_until_it_is_cancelled():
    # A LIMIT that rests may fill at any time: releasing its hold would let the next orders
    # take the exposure it can still add (two resting BUYs under the cap, both filled: over).
    prices = {"BTC": D(100)}
    book = PositionBook(FakeClock(), price_lookup=prices.__getitem__, max_gross_exposure=D(500))
    check, first = book.check_and_reserve("BTC", Side.BUY, D(4), _ok)
    assert check.permitted and first is not None
    book.apply_fill("BTC", Side.BUY, D(1), D(100), reservation=first)  # partly filled, rests
    book.rest(first, "order-1", "BTC", Side.BUY, D(3))
    assert book.reserved("BTC") == (D(3), D(0))
    check, _ = book.check_and_reserve("BTC", Side.BUY, D(2), _ok)
    assert not check.permitted and check.code is ErrorCode.RISK_EXPOSURE  # 100 + 300 + 200
    book.rest(first, "order-1", "BTC", Side.BUY, D(3))  # told twice: held once
    assert book.reserved("BTC") == (D(3), D(0))
    book.release_resting("order-1")  # cancelled through the executor
    assert book.reserved("BTC") == (D(0), D(0))
    check, second = book.check_and_reserve("BTC", Side.BUY, D(2), _ok)
    assert check.permitted and second is not None
