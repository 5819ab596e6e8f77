"""For any orders remembered, in any order of time, and any order and limits, the indexed
:class:`RecentOrders` gives :func:`admit` exactly the answer of the plain pass over the orders.

Times are drawn from a small set (ties), in any order (the shared book's processes may disagree
on the clock), and include orders from "the future" (negative ages); quantities include equal
Decimals written differently (0.1 and 0.10), and signal ids repeat, so every branch of the
duplicate rule is reached. Orders are also forgotten from the left, as the book does.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tradeguard.execution.order_controls import (
    AdmittedOrder,
    OrderLimits,
    OrderTerms,
    RecentOrders,
    ShapedOrder,
    admit,
)
from tradeguard.policy import Side

D = Decimal
times = st.sampled_from([0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99, 1.0, 1.0000001, 1.5, 2.0, 2.5])
symbols = st.sampled_from(["BTCUSDT", "ETHUSDT", "SOLUSDT"])
sides = st.sampled_from([Side.BUY, Side.SELL])
quantities = st.sampled_from([D("0.1"), D("0.10"), D("0.2"), D("1"), D("1.000")])
signal_ids = st.sampled_from([None, "a", "b", "c"])
orders = st.builds(AdmittedOrder, times, symbols, sides, quantities, signal_ids)
windows = st.sampled_from([0.0, 0.2, 0.5, 1.0, 2.0])
limits = st.builds(
    OrderLimits,
    max_orders_per_symbol=st.one_of(st.none(), st.integers(0, 6)),
    max_orders_per_account=st.one_of(st.none(), st.integers(0, 10)),
    rate_window_seconds=windows,
    duplicate_window_seconds=windows,
)


@settings(max_examples=400, deadline=None)
@given(
    remembered=st.lists(orders, max_size=25),
    forgotten=st.integers(0, 25),
    symbol=symbols,
    side=sides,
    quantity=quantities,
    signal_id=signal_ids,
    now=times,
    limit=limits,
)
def test_the_index_answers_as_the_plain_pass(
    remembered: list[AdmittedOrder],
    forgotten: int,
    symbol: str,
    side: Side,
    quantity: Decimal,
    signal_id: str | None,
    now: float,
    limit: OrderLimits,
) -> None:
    recent = RecentOrders(remembered)
    for _ in range(min(forgotten, len(remembered))):
        recent.popleft()
    plain = remembered[min(forgotten, len(remembered)) :]
    assert list(recent) == plain
    order = OrderTerms(symbol, side, quantity, signal_id=signal_id)
    shaped = ShapedOrder(quantity, None)

    def answer(over: object) -> object:
        return admit(
            order,
            shaped,
            adds_risk=True,
            last_price=D(100),
            recent=over,  # type: ignore[arg-type]
            now=now,
            limits=limit,
        )

    assert answer(recent) == answer(plain)
    assert answer(recent) == answer(iter(plain))  # any iterable takes the plain pass
