"""Through the gate, for any bursts of signals (batched or from threads): every order the paper
exchange receives keeps every order control, and no reducing exit is refused by them.

Signals are long-only OPEN buys (always new risk) and CLOSE sells of part of the position
(always reducing), of any quantity and LIMIT price. All of a burst is decided in the same
instant of a fake clock; between bursts time moves on.
"""

from __future__ import annotations

import threading
from collections import Counter
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.execution.factories import PRICES, FaultyPaperExchange, signal, wire
from tradeguard.audit.records import AuditTable
from tradeguard.clock import FakeClock
from tradeguard.codes import ErrorCode
from tradeguard.execution import OrderLimits, SignalResult
from tradeguard.ports import SymbolRules

D = Decimal
RULES = {
    "BTCUSDT": SymbolRules("BTCUSDT", D("0.001"), D("0.002"), D(50), D("0.5")),
    "ETHUSDT": SymbolRules("ETHUSDT", D("0.01"), D("0.01"), D(10), D("0.05")),
}
LIMITS = OrderLimits(
    price_collar_pct=D(5),
    max_order_notional=D(60000),
    max_orders_per_symbol=4,
    max_orders_per_account=6,
    rate_window_seconds=1.0,
    duplicate_window_seconds=0.5,
)
RISK_CODES = {
    ErrorCode.RISK_PRICE_COLLAR.value,
    ErrorCode.RISK_ORDER_RATE.value,
    ErrorCode.RISK_DUPLICATE_ORDER.value,
    ErrorCode.RISK_ORDER_NOTIONAL.value,
}

orders = st.fixed_dictionaries(
    {
        "symbol": st.sampled_from(sorted(PRICES)),
        "close": st.booleans(),
        "quantity": st.one_of(
            st.sampled_from([D("0.01"), D("0.5")]),
            st.decimals(min_value=D("0.0001"), max_value=D(2), places=5),
        ),
        "limit_offset_pct": st.one_of(
            st.none(), st.decimals(min_value=D(-9), max_value=D(9), places=3)
        ),
    }
)
bursts = st.lists(
    st.tuples(st.sampled_from([0.0, 0.3, 0.6, 1.2]), st.lists(orders, min_size=1, max_size=10)),
    min_size=1,
    max_size=3,
)


def _body(w: Any, order: dict[str, Any]) -> dict[str, Any]:
    symbol = order["symbol"]
    held = w.positions.position(symbol)
    closing = order["close"] and held > 0
    quantity = (held * D("0.6")).quantize(D("0.00001")) if closing else order["quantity"]
    body = signal(
        symbol=symbol,
        side="SELL" if closing else "BUY",
        intent="CLOSE" if closing else "OPEN",
        quantity=str(quantity),
    )
    if order["limit_offset_pct"] is not None:
        price = PRICES[symbol] * (1 + order["limit_offset_pct"] / 100)
        body.update(order_type="LIMIT", price=str(price.quantize(D("0.001"))))
    return body


def _threads(dispatcher: Any, bodies: list[dict[str, Any]]) -> list[Any]:
    results: list[Any] = [None] * len(bodies)

    def produce(start: int) -> None:
        for index in range(start, len(bodies), 3):
            results[index] = dispatcher.dispatch(bodies[index])

    workers = [threading.Thread(target=produce, args=(start,)) for start in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return results


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=bursts, threaded=st.booleans())
def test_every_order_that_leaves_keeps_every_control_and_exits_are_never_refused_by_them(
    plan: list[tuple[float, list[dict[str, Any]]]], threaded: bool
) -> None:
    clock = FakeClock()
    exchange = FaultyPaperExchange(clock, price_source=PRICES.__getitem__, symbol_rules=RULES)
    w = wire(exchange=exchange, clock=clock, symbol_rules=True, order_limits=LIMITS)
    for advance, burst in plan:
        clock.advance(advance)
        bodies = [_body(w, order) for order in burst]
        results = _threads(w.dispatcher, bodies) if threaded else w.gate.submit_many(bodies)
        opened: Counter[Any] = Counter()
        for body, result in zip(bodies, results, strict=True):
            assert isinstance(result, SignalResult)
            if body["intent"] == "CLOSE":
                assert result.refusal_code not in RISK_CODES, result
                continue
            if result.order is None:
                continue
            rules, last = RULES[body["symbol"]], PRICES[body["symbol"]]
            # What the exchange holds is what left.
            state = w.exchange.order_status(body["symbol"], result.order.exchange_order_id)
            quantity, price = state.requested_quantity, state.price
            assert quantity % rules.quantity_step == 0 and quantity >= rules.min_quantity
            assert quantity <= D(body["quantity"]) < quantity + rules.quantity_step
            if body.get("order_type") == "LIMIT":
                assert price is not None and price % rules.price_tick == 0
                assert price <= D(body["price"])  # a BUY never leaves at a worse price
                assert abs(price - last) * 100 <= 5 * last
            assert quantity * max(last, price or last) <= D(60000)
            opened[body["symbol"]] += 1
            opened[(body["symbol"], quantity)] += 1
        # All of a burst is one instant: the rate caps and the duplicate rule bound it.
        for symbol in PRICES:
            assert opened[symbol] <= 4
        assert all(n == 1 for key, n in opened.items() if isinstance(key, tuple))
    sent = [r for r in w.rows(AuditTable.ORDER) if r["event"] == "SUBMITTED"]
    assert all(D(r["requested_quantity"]) > 0 for r in sent)
