"""For any interleaving of reservations, fills and releases, exposure stays under the cap.

The invariant the pre-trade cap gives: starting flat, neither the filled gross exposure nor
the worst exposure the orders in flight could leave is ever above ``max_gross_exposure``
(at fixed prices), however orders are reserved, partly filled and released.
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


def _worst_exposure(book: PositionBook) -> Decimal:
    total = Decimal(0)
    for symbol, price in PRICES.items():
        quantity = book.position(symbol)
        buy, sell = book.reserved(symbol)
        total += max(abs(quantity + buy), abs(quantity - sell)) * price
    return total


@settings(max_examples=200, deadline=None)
@given(cap=st.decimals(min_value=0, max_value=500000, places=2), operations=OPERATIONS)
def test_exposure_never_exceeds_the_cap(cap: Decimal, operations: list[Any]) -> None:
    book = PositionBook(FakeClock(), price_lookup=PRICES.__getitem__, max_gross_exposure=cap)
    live: list[list[Any]] = []  # [reservation, quantity not yet filled]
    for operation in operations:
        if operation[0] == "reserve":
            _, symbol, side, quantity = operation
            check, reservation = book.check_and_reserve(
                symbol, side, quantity, lambda _p: INTENT_OK
            )
            assert check.permitted == (reservation is not None)
            if reservation is not None:
                live.append([reservation, quantity])
        elif live and operation[0] == "fill":
            entry = live[operation[1] % len(live)]
            reservation, remaining = entry
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
