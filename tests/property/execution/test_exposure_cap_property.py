"""For any interleaving of reservations, fills and releases, exposure stays under the cap.

The invariants the pre-trade caps give: starting flat, neither the filled gross exposure nor
the worst exposure the orders in flight could leave is ever above ``max_gross_exposure``
(at fixed prices), and the orders in flight that added risk never number more than
``max_open_orders``, however orders are reserved, partly filled and released.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tradeguard.clock import FakeClock
from tradeguard.execution import PositionBook, Reservation
from tradeguard.policy import Side
from tradeguard.policy.orders import INTENT_OK

PRICES = {"BTC": Decimal(50000), "ETH": Decimal(3000)}
SYMBOLS = st.sampled_from(sorted(PRICES))
QUANTITY = st.decimals(min_value=Decimal("0.001"), max_value=Decimal(5), places=3)
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("reserve"), SYMBOLS, st.sampled_from(list(Side)), QUANTITY),
        st.tuples(st.just("fill"), st.integers(0, 20), st.sampled_from([0.25, 0.5, 1.0])),
        st.tuples(st.just("release"), st.integers(0, 20)),
    ),
    max_size=40,
)


def _worst_size(book: PositionBook, symbol: str) -> Decimal:
    quantity = book.position(symbol)
    buy, sell = book.reserved(symbol)
    return max(abs(quantity + buy), abs(quantity - sell))


def _worst_exposure(book: PositionBook) -> Decimal:
    return sum((_worst_size(book, symbol) * price for symbol, price in PRICES.items()), Decimal(0))


@settings(max_examples=200, deadline=None)
@given(
    cap=st.decimals(min_value=0, max_value=500000, places=2),
    max_orders=st.integers(min_value=0, max_value=6),
    operations=OPERATIONS,
)
def test_exposure_and_open_orders_never_exceed_their_caps(
    cap: Decimal, max_orders: int, operations: list[Any]
) -> None:
    book = PositionBook(
        FakeClock(),
        price_lookup=PRICES.__getitem__,
        max_gross_exposure=cap,
        max_open_orders=max_orders,
    )
    live: list[list[Any]] = []  # [reservation, quantity not yet filled, added risk]
    for operation in operations:
        if operation[0] == "reserve":
            _, symbol, side, quantity = operation
            before = _worst_size(book, symbol)
            check, reservation = book.check_and_reserve(
                symbol, side, quantity, lambda _p: INTENT_OK
            )
            assert check.permitted == (reservation is not None)
            if reservation is not None:
                live.append([reservation, quantity, _worst_size(book, symbol) > before])
        elif live and operation[0] == "fill":
            entry = live[operation[1] % len(live)]
            reservation, remaining, _ = entry
            assert isinstance(reservation, Reservation)
            filled = (remaining * Decimal(str(operation[2]))).quantize(Decimal("0.001"))
            if filled > 0:
                book.apply_fill(
                    reservation.symbol,
                    reservation.side,
                    filled,
                    PRICES[reservation.symbol],
                    reservation=reservation,
                )
                entry[1] = remaining - filled
        elif live and operation[0] == "release":
            book.release(live.pop(operation[1] % len(live))[0])
        assert book.snapshot().gross_exposure <= cap
        assert _worst_exposure(book) <= cap
        assert sum(1 for entry in live if entry[2]) <= max_orders
