"""The rate limits and the duplicate rule count the orders of every instance on one database.

Two ``SharedPositionBook`` instances on one real PostgreSQL schema, each with its own order
controls, as two worker processes have. They read one wall clock (a shared ``FakeClock``) but
monotonic clocks far apart, as two processes do: the shared memory of admitted orders must be
timed on the wall clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal

import psycopg
import pytest

from tradeguard.audit.postgres import PostgresAuditStore
from tradeguard.clock import FakeClock
from tradeguard.codes import ErrorCode
from tradeguard.execution.order_controls import OrderControls, OrderLimits
from tradeguard.execution.shared_book import SharedPositionBook
from tradeguard.policy import Side
from tradeguard.policy.orders import INTENT_OK, IntentCheck

D = Decimal
LIMITS = OrderLimits(
    max_orders_per_symbol=3,
    max_orders_per_account=4,
    rate_window_seconds=1.0,
    duplicate_window_seconds=5.0,
)


def _ok(_position: Decimal) -> IntentCheck:
    return INTENT_OK


class OtherProcessClock:
    """The same wall clock as ``wall``, and a monotonic clock of another process."""

    def __init__(self, wall: FakeClock, offset: float) -> None:
        self.wall, self.offset = wall, offset

    def now(self) -> datetime:
        return self.wall.now()

    def monotonic(self) -> float:
        return self.wall.monotonic() + self.offset


@pytest.fixture
def books(postgres_url: str) -> Iterator[tuple[FakeClock, SharedPositionBook, SharedPositionBook]]:
    PostgresAuditStore(postgres_url).close()  # migrates the schema
    clock = FakeClock()
    pair = [
        SharedPositionBook(OtherProcessClock(clock, offset), postgres_url, account="acct")
        for offset in (0.0, 86_400.0)
    ]
    for book in pair:
        book.controls = OrderControls(None, LIMITS)
    try:
        yield clock, pair[0], pair[1]
    finally:
        for book in pair:
            book.close()


def _send(book: SharedPositionBook, symbol: str, quantity: str, signal_id: str) -> IntentCheck:
    check, reservation = book.check_and_reserve(
        symbol, Side.BUY, D(quantity), _ok, signal_id=signal_id
    )
    book.release(reservation)  # resolved at once: only the controls' memory is left
    return check


def test_a_duplicate_sent_to_a_then_b_within_the_window_is_refused_by_b(books):
    clock, a, b = books
    assert _send(a, "BTC", "0.5", "signal-1").permitted
    clock.advance(2.0)
    refused = _send(b, "BTC", "0.5", "signal-2")
    assert (refused.permitted, refused.code) == (False, ErrorCode.RISK_DUPLICATE_ORDER)
    assert _send(b, "BTC", "0.6", "signal-3").permitted  # another quantity is no duplicate
    clock.advance(3.0)  # 5 s after the first: it left the duplicate window
    assert _send(b, "BTC", "0.5", "signal-2").permitted


def test_the_rate_limits_count_the_orders_of_both_instances(books):
    clock, a, b = books
    assert _send(a, "BTC", "1", "s1").permitted
    assert _send(b, "BTC", "2", "s2").permitted
    assert _send(a, "BTC", "3", "s3").permitted
    for book in (a, b):  # three BTC orders within the window, from the two of them
        refused = _send(book, "BTC", "4", "s4")
        assert (refused.permitted, refused.code) == (False, ErrorCode.RISK_ORDER_RATE)
    assert _send(b, "ETH", "1", "s5").permitted  # the fourth of the account
    refused = _send(a, "SOL", "1", "s6")
    assert (refused.permitted, refused.code) == (False, ErrorCode.RISK_ORDER_RATE)
    clock.advance(1.0)
    assert _send(a, "BTC", "4", "s4").permitted  # the window moved on


def test_old_admitted_orders_are_swept_and_not_loaded(books, postgres_url):
    clock, a, b = books
    for number in range(3):
        assert _send(a, "BTC", str(number + 1), f"s{number}").permitted
    clock.advance(60.0)  # past the memory and the lease: the next renewal sweeps them
    b.renew()
    assert _send(b, "BTC", "1", "late").permitted
    with psycopg.connect(postgres_url) as conn:
        rows = conn.execute("SELECT signal_id FROM shared_admitted_orders").fetchall()
    assert rows == [("late",)]


def test_a_database_failure_refuses_the_order(books, postgres_url):
    _, a, _ = books
    with psycopg.connect(postgres_url, autocommit=True) as conn:  # this test's own schema
        conn.execute("DROP TABLE shared_admitted_orders")
    refused = _send(a, "BTC", "1", "s1")
    assert (refused.permitted, refused.code) == (False, ErrorCode.SHARED_STATE_UNAVAILABLE)
