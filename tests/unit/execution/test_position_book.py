"""The position book: signed positions, P&L, reservations, and the portfolio snapshot."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tradeguard.clock import FakeClock
from tradeguard.execution import PositionBook
from tradeguard.policy import IntentCheck, Side
from tradeguard.sources.risk import PortfolioSnapshot

D = Decimal


def test_fills_build_a_signed_position_with_average_entry_and_realised_pnl():
    book = PositionBook(FakeClock(), starting_equity=D(1000))
    book.apply_fill("BTC", Side.BUY, D(2), D(100))
    book.apply_fill("BTC", Side.BUY, D(2), D(200))
    assert book.positions()["BTC"].average_entry == D(150)
    book.apply_fill("BTC", Side.SELL, D(3), D(250))
    pos = book.positions()["BTC"]
    assert pos.quantity == D(1) and pos.realised_pnl_today == D(300)
    book.apply_fill("BTC", Side.SELL, D(3), D(100))  # flips to short 2 at 100
    pos = book.positions()["BTC"]
    assert pos.quantity == D(-2) and pos.average_entry == D(100)


def test_snapshot_values_the_portfolio_at_current_prices_and_tracks_the_peak():
    prices = {"BTC": D(100)}
    book = PositionBook(
        FakeClock(), starting_equity=D(1000), price_lookup=prices.__getitem__, open_orders=lambda: 3
    )
    book.apply_fill("BTC", Side.BUY, D(2), D(100))
    prices["BTC"] = D(150)
    up = book.snapshot()
    assert isinstance(up, PortfolioSnapshot)
    assert (up.equity, up.unrealised_pnl, up.gross_exposure, up.open_orders) == (
        D(1100),
        D(100),
        D(300),
        3,
    )
    prices["BTC"] = D(50)
    down = book.snapshot()
    assert down.equity == D(900) and down.peak_equity == D(1100)


def test_realised_pnl_today_resets_at_the_utc_day():
    clock = FakeClock()
    book = PositionBook(clock)
    book.apply_fill("BTC", Side.BUY, D(1), D(100))
    book.apply_fill("BTC", Side.SELL, D(1), D(90))
    assert book.snapshot().realised_pnl_today == D(-10)
    clock.advance(86400)
    assert book.snapshot().realised_pnl_today == D(0)


def test_an_exit_is_checked_against_the_position_left_by_exits_in_flight():
    book = PositionBook(FakeClock())
    book.apply_fill("BTC", Side.BUY, D(1), D(100))

    def fits(qty):
        return lambda pos: IntentCheck(D(0) < qty <= pos)

    first, held = book.check_and_reserve("BTC", Side.SELL, D(1), fits(D(1)))
    second, none = book.check_and_reserve("BTC", Side.SELL, D(1), fits(D(1)))
    assert first.permitted and not second.permitted and none is None
    book.apply_fill("BTC", Side.SELL, D(1), D(100), reservation=held)
    book.release(held)
    assert book.reserved("BTC") == (0, 0) and book.position("BTC") == 0


@settings(max_examples=100)
@given(
    st.lists(
        st.tuples(st.sampled_from([Side.BUY, Side.SELL]), st.integers(1, 50), st.integers(1, 500)),
        max_size=30,
    )
)
def test_position_is_always_the_signed_sum_of_fills(fills):
    book = PositionBook(FakeClock())
    for side, qty, price in fills:
        book.apply_fill("X", side, D(qty), D(price))
    expected = sum((D(q) if s is Side.BUY else -D(q)) for s, q, _ in fills)
    assert book.position("X") == expected


def test_a_fill_that_resolves_its_order_releases_the_rest_of_the_reservation_in_the_same_step():
    book = PositionBook(FakeClock())
    _, partly = book.check_and_reserve("BTC", Side.BUY, D(5), lambda _p: IntentCheck(True))
    book.apply_fill("BTC", Side.BUY, D(2), D(100), reservation=partly, release=True)
    assert book.position("BTC") == D(2)
    assert book.reserved("BTC") == (D(0), D(0))
    _, resting = book.check_and_reserve("BTC", Side.BUY, D(1), lambda _p: IntentCheck(True))
    book.apply_fill("BTC", Side.BUY, D(0), None, reservation=resting, release=True)
    assert book.reserved("BTC") == (D(0), D(0))  # nothing filled: released all the same
    _, kept = book.check_and_reserve("BTC", Side.BUY, D(3), lambda _p: IntentCheck(True))
    book.apply_fill("BTC", Side.BUY, D(1), D(100), reservation=kept)
    assert book.reserved("BTC") == (D(2), D(0))  # still being reconciled: the rest is held
