"""A batch checked in one step gets the answers of checking it one request after another.

For any book state (fills and orders in flight) and any batch of intents (symbols, sides,
quantities, checks that permit, refuse by position or raise, signal_ids that may repeat), under
the exposure cap, the open-orders cap and the order controls' rate and duplicate rules:
``check_many`` on a ``SharedPositionBook`` (one transaction on real PostgreSQL) answers every
request as ``check_and_reserve`` does when they are sent one after the other to a twin book
of another account in the same state, leaves the same state behind, and so does the in-memory
book. A database failure refuses every request of the batch and reserves nothing.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tradeguard.audit.postgres import PostgresAuditStore
from tradeguard.clock import FakeClock
from tradeguard.codes import ErrorCode
from tradeguard.execution import PositionBook
from tradeguard.execution.order_controls import OrderControls, OrderLimits
from tradeguard.execution.positions import CheckAnswer, CheckRequest
from tradeguard.execution.shared_book import SharedPositionBook
from tradeguard.policy import Side
from tradeguard.policy.orders import INTENT_OK, IntentCheck

D = Decimal
PRICES = {"AAA": D(10), "BBB": D(20)}
LIMITS = OrderLimits(
    max_orders_per_symbol=3,
    max_orders_per_account=5,
    rate_window_seconds=1.0,
    duplicate_window_seconds=5.0,
)
QUANTITIES = st.sampled_from([D("0.5"), D(1), D("2.5"), D(4)])
SYMBOLS = st.sampled_from(sorted(PRICES))


class CheckFailed(Exception):
    """What the raising check raises."""


def _check(kind: str) -> Any:
    def check(position: Decimal) -> IntentCheck:
        if kind == "raises":
            raise CheckFailed(kind)
        if kind == "not_short" and position < 0:
            return IntentCheck(False, ErrorCode.ORDER_WOULD_INCREASE_RISK)
        return INTENT_OK

    return check


REQUESTS = st.builds(
    lambda symbol, side, quantity, kind, signal: CheckRequest(
        symbol, side, quantity, _check(kind), signal_id=signal
    ),
    SYMBOLS,
    st.sampled_from(Side),
    QUANTITIES,
    st.sampled_from(["ok", "ok", "not_short", "raises"]),
    st.sampled_from(["s1", "s2", "s3", "s4", "s5", "s6"]),
)
FILLS = st.lists(st.tuples(SYMBOLS, st.sampled_from(Side), QUANTITIES), max_size=3)
CAPS = st.fixed_dictionaries(
    {
        "max_gross_exposure": st.sampled_from([D(60), D(120), D(400)]),
        "max_open_orders": st.sampled_from([2, 4, 8]),
    }
)


def _book(clock: FakeClock, url: str | None, caps: dict[str, Any]) -> PositionBook:
    options = {"price_lookup": PRICES.__getitem__, **caps}
    book = (
        PositionBook(clock, **options)
        if url is None
        else SharedPositionBook(clock, url, account=f"acct-{uuid.uuid4().hex[:10]}", **options)
    )
    book.controls = OrderControls(None, LIMITS)
    return book


def _one(book: PositionBook, request: CheckRequest) -> CheckAnswer:
    try:
        return book.check_and_reserve(
            request.symbol,
            request.side,
            request.quantity,
            request.check,
            order_type=request.order_type,
            price=request.price,
            signal_id=request.signal_id,
        )
    except Exception as exc:
        return exc


def _answer(answer: CheckAnswer) -> tuple[Any, ...]:
    # Reservation ids differ between books (each owner has its own prefix): the contents.
    if isinstance(answer, Exception):
        return (type(answer), str(answer))
    check, reservation = answer
    if reservation is None:
        return (check, None)
    return (check, reservation.symbol, reservation.side, reservation.quantity, reservation.price)


def _state(book: PositionBook) -> tuple[Any, ...]:
    shared = isinstance(book, SharedPositionBook)
    if shared:
        book._checking.on = True  # a shared book loads the admitted orders for checks only
    try:
        return _loaded(book)
    finally:
        if shared:
            book._checking.on = False


def _loaded(book: PositionBook) -> tuple[Any, ...]:
    with book._transaction() as state:  # the seam every book has; read-only here
        books = {
            symbol: (b.quantity, b.average_entry, b.inflight_buy, b.inflight_sell)
            for symbol, b in state.books.items()
            if (b.quantity, b.inflight_buy, b.inflight_sell) != (0, 0, 0)
        }
        held = sorted((s, side.value, q) for s, side, q in state.reservations.values())
        admitted = [(a.symbol, a.side.value, a.quantity, a.signal_id) for a in state.admitted]
        return books, held, admitted


def _same_start(
    books: list[PositionBook], fills: list[tuple[str, Side, Decimal]], before: list[CheckRequest]
) -> None:
    for book in books:
        for symbol, side, quantity in fills:
            book.apply_fill(symbol, side, quantity, PRICES[symbol])
        for request in before:
            _one(book, request)


@pytest.fixture
def migrated(postgres_url: str) -> str:
    PostgresAuditStore(postgres_url).close()  # migrates the schema
    return postgres_url


# One schema for every example (each example's books trade accounts of their own).
@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    caps=CAPS,
    fills=FILLS,
    before=st.lists(REQUESTS, max_size=3),
    batch=st.lists(REQUESTS, max_size=12),
)
def test_a_batch_gets_the_answers_of_one_by_one(
    migrated: str,
    caps: dict[str, Any],
    fills: list[tuple[str, Side, Decimal]],
    before: list[CheckRequest],
    batch: list[CheckRequest],
) -> None:
    clock = FakeClock()
    books = [_book(clock, migrated, caps), _book(clock, migrated, caps)]
    memory = [_book(clock, None, caps), _book(clock, None, caps)]
    try:
        _same_start([*books, *memory], fills, before)
        one_by_one = [_answer(_one(books[1], request)) for request in batch]
        assert [_answer(a) for a in books[0].check_many(batch)] == one_by_one
        assert [_answer(a) for a in memory[0].check_many(batch)] == one_by_one
        assert [_answer(_one(memory[1], request)) for request in batch] == one_by_one
        assert _state(books[0]) == _state(books[1]) == _state(memory[0]) == _state(memory[1])
    finally:
        for book in books:
            book.close()


def test_a_database_failure_refuses_the_whole_batch(migrated: str) -> None:
    clock = FakeClock()
    book = _book(clock, migrated, {"max_gross_exposure": D(1000), "max_open_orders": 10})
    try:
        batch = [
            CheckRequest("AAA", Side.BUY, D(1), _check("ok"), signal_id="a"),
            CheckRequest("BBB", Side.SELL, D(1), _check("raises"), signal_id="b"),
            CheckRequest("AAA", Side.BUY, D(2), _check("ok"), signal_id="c"),
        ]
        good_url = book.url
        book.url = "postgresql://postgres@127.0.0.1:1/test"  # nothing listens there
        book._disconnect()  # the next transaction has to connect again, and cannot
        answers = book.check_many(batch)
        # The raising check never ran (checks run under the lock), as one by one: refused.
        refused = (IntentCheck(False, ErrorCode.SHARED_STATE_UNAVAILABLE), None)
        assert answers == [refused, refused, refused]
        book.url = good_url
        assert _state(book) == ({}, [], [])  # nothing was reserved or admitted
    finally:
        book.close()


def test_a_symbol_another_process_opened_is_priced_before_the_batch_is_checked(
    migrated: str,
) -> None:
    # A has never seen BBB; B holds an order on it. A's batch needs BBB's price for the cap:
    # without it A would refuse (fail closed); it reads it and checks the batch again.
    clock = FakeClock()
    caps = {"max_gross_exposure": D(100), "max_open_orders": 10}
    account = f"acct-{uuid.uuid4().hex[:10]}"
    a, b = (
        SharedPositionBook(
            clock, migrated, account=account, price_lookup=PRICES.__getitem__, **caps
        )
        for _ in range(2)
    )
    try:
        assert b.check_and_reserve("BBB", Side.BUY, D(2), _check("ok"))[1] is not None  # 40
        answers = a.check_many(
            [
                CheckRequest("AAA", Side.BUY, D(5), _check("ok")),  # 40 + 50: under the cap
                CheckRequest("AAA", Side.BUY, D(2), _check("ok")),  # 40 + 70: over it
            ]
        )
        assert [_answer(x)[0] for x in answers] == [
            INTENT_OK,
            IntentCheck(False, ErrorCode.RISK_EXPOSURE),
        ]
        assert _state(a)[1] == [("AAA", "BUY", D(5)), ("BBB", "BUY", D(2))]
    finally:
        a.close()
        b.close()
