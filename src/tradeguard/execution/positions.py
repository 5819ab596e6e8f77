"""The position book: signed positions, average entry, realised and unrealised P&L.

It is the portfolio the RiskGovernor reads (``snapshot()``), and the position the gate checks
exit intents against. Checks and reservations are atomic per book: an order in flight holds a
``Reservation`` of its quantity, and an exit is checked against the worst position the orders
in flight could leave, so two concurrent exits can never both pass against the same position.

With ``max_gross_exposure`` set, the same atomic step caps exposure before the order leaves:
an order is refused (``RISK_EXPOSURE``) when the worst gross exposure that the filled
positions and every order in flight, this one included, could leave is above the maximum and
above what it was without this order. The RiskGovernor reads the same limit from a sampled
snapshot of filled positions only; without this check a burst of orders decided together on
one snapshot could carry the portfolio past the maximum before any of them filled. Orders that
cannot increase that worst exposure (exits) are never refused by it. ``max_open_orders`` is
capped the same way: an order that adds risk is refused (``RISK_OPEN_ORDERS``) when it would
take the orders open (resting, or in flight) above the maximum.

With ``controls`` set, the pre-trade order controls of :mod:`.order_controls` (the symbol's
rules, price collar, size, rate and duplicates) are decided in the same atomic step, after the
caps: the quantity reserved (and the price of a LIMIT order) is the one fitted to the rules.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Final

from ..codes import ErrorCode
from ..logging import get_logger
from ..policy import Clock, IntentCheck, Side
from ..ports import OrderType, PortfolioSnapshot
from .order_controls import OrderControls, OrderTerms, RecentOrders, ShapedOrder

_log = get_logger(__name__)
ZERO: Final = Decimal(0)
EXPOSURE_REFUSED: Final = IntentCheck(False, ErrorCode.RISK_EXPOSURE)
OPEN_ORDERS_REFUSED: Final = IntentCheck(False, ErrorCode.RISK_OPEN_ORDERS)
RESTING_PREFIX: Final = "resting:"
"""The reservation id of a resting order held by the book is this prefix and its order id."""


@dataclass(frozen=True, slots=True)
class Position:
    """One symbol's position: positive long, negative short."""

    symbol: str
    quantity: Decimal
    average_entry: Decimal | None
    realised_pnl_today: Decimal


@dataclass(frozen=True, slots=True)
class Reservation:
    """The quantity of one order in flight, held until its fills are applied."""

    reservation_id: str
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal | None = None
    """The LIMIT price the order controls fitted to the tick (None: MARKET or no rules)."""


@dataclass(frozen=True, slots=True)
class CheckRequest:
    """One intent for :meth:`PositionBook.check_many`: the arguments of ``check_and_reserve``."""

    symbol: str
    side: Side
    quantity: Decimal
    check: Callable[[Decimal], IntentCheck]
    order_type: OrderType = OrderType.MARKET
    price: Decimal | None = None
    signal_id: str | None = None


CheckAnswer = tuple[IntentCheck, Reservation | None] | Exception
"""What ``check_and_reserve`` answers one request, or the exception it raises."""


@dataclass(frozen=True, slots=True)
class _Ready:
    # A request with what is read before the lock: prices, resting count, shaped terms.
    request: CheckRequest
    prices: dict[str, Decimal]
    resting: int | None
    terms: OrderTerms
    last: Decimal | None
    shaped: ShapedOrder | None
    controls: OrderControls | None


class _Book:
    # Mutable state of one symbol; only touched under PositionBook._lock.
    __slots__ = ("average_entry", "inflight_buy", "inflight_sell", "quantity", "realised_today")

    def __init__(self) -> None:
        self.quantity = ZERO
        self.average_entry: Decimal | None = None
        self.realised_today = ZERO
        self.inflight_buy = ZERO
        self.inflight_sell = ZERO

    def worst_size(self, extra_buy: Decimal = ZERO, extra_sell: Decimal = ZERO) -> Decimal:
        # The largest |position| any subset of the orders in flight (plus extra) could leave.
        return max(
            abs(self.quantity + self.inflight_buy + extra_buy),
            abs(self.quantity - self.inflight_sell - extra_sell),
        )


class BookState:
    """What the checks read and change: every symbol's book and every live reservation.

    It also holds the orders the order controls admitted recently (``admitted``, oldest first,
    for their rate and duplicate rules), so they are shared exactly as the reservations are.

    The in-memory book keeps one for the life of the process; a shared book (see
    :mod:`tradeguard.execution.shared_book`) loads one from the database inside a locked
    transaction and writes back what changed. The checks run over it the same way in both.
    """

    __slots__ = ("admitted", "books", "day", "realised_total", "reservations")

    def __init__(self, day: date) -> None:
        self.books: dict[str, _Book] = {}
        self.reservations: dict[str, tuple[str, Side, Decimal]] = {}
        self.admitted = RecentOrders()
        self.realised_total = ZERO
        self.day = day

    def book(self, symbol: str) -> _Book:
        """Return the book of ``symbol``, adding an empty one."""
        return self.books.setdefault(symbol, _Book())


def _signed(side: Side, quantity: Decimal) -> Decimal:
    return quantity if side is Side.BUY else -quantity


class PositionBook:
    """Signed positions per symbol; thread-safe; implements ``PortfolioProvider``.

    Args:
        clock: Tells which UTC day realised P&L belongs to.
        starting_equity: Equity before any fill (the account's quote balance).
        price_lookup: Current price of a symbol, for unrealised P&L and exposure.
        open_orders: Number of resting orders (the executor's count).
        max_gross_exposure: Refuse orders that could take gross exposure above this (quote
            currency); None disables the pre-trade cap. Needs ``price_lookup``: an order that
            cannot be valued is refused.
        max_open_orders: Refuse orders that add risk when the orders open (resting, or in
            flight: every live reservation) would go above this; None disables it.
        controls: The pre-trade order controls (see :mod:`.order_controls`); None: none.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        starting_equity: Decimal = ZERO,
        price_lookup: Callable[[str], Decimal] | None = None,
        open_orders: Callable[[], int] | None = None,
        max_gross_exposure: Decimal | None = None,
        max_open_orders: int | None = None,
        controls: OrderControls | None = None,
    ) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._state = BookState(clock.now().date())
        self._numbers = itertools.count(1)
        self._reservation_prefix = "r"
        self._starting_equity = starting_equity
        self._peak = starting_equity
        self.price_lookup = price_lookup
        self.open_orders = open_orders
        self.max_gross_exposure = max_gross_exposure
        self.max_open_orders = max_open_orders
        self.controls = controls

    @contextmanager
    def _transaction(self) -> Iterator[BookState]:
        # The one seam around every read and change of the state: here the process lock and
        # the process's state; a shared book overrides it with a locked database transaction.
        with self._lock:
            yield self._state

    def close(self) -> None:
        """Release what the book holds outside the process (nothing, in memory)."""

    def _admission_time(self) -> float:
        # Under the seam: the time the order controls remember an order at. One process,
        # one monotonic clock; a shared book answers with the wall clock every process reads.
        return self._clock.monotonic()

    def _reading(self) -> AbstractContextManager[BookState]:
        # Reads that change nothing go through here; a shared book serves them without
        # taking the account's write lock.
        return self._transaction()

    # --- reading ---------------------------------------------------------------------------

    def position(self, symbol: str) -> Decimal:
        """Return the signed position of ``symbol`` (0 when flat or unknown)."""
        with self._reading() as state:
            book = state.books.get(symbol)
            return ZERO if book is None else book.quantity

    def positions(self) -> dict[str, Position]:
        """Return every non-flat position."""
        with self._reading() as state:
            self._roll_day(state)
            return {
                symbol: Position(symbol, b.quantity, b.average_entry, b.realised_today)
                for symbol, b in state.books.items()
                if b.quantity != ZERO
            }

    def reserved(self, symbol: str) -> tuple[Decimal, Decimal]:
        """Return the (buy, sell) quantities of ``symbol`` in flight."""
        with self._reading() as state:
            book = state.books.get(symbol)
            return (ZERO, ZERO) if book is None else (book.inflight_buy, book.inflight_sell)

    # --- check and reserve -----------------------------------------------------------------

    def check_and_reserve(
        self,
        symbol: str,
        side: Side,
        quantity: Decimal,
        check: Callable[[Decimal], IntentCheck],
        *,
        order_type: OrderType = OrderType.MARKET,
        price: Decimal | None = None,
        signal_id: str | None = None,
    ) -> tuple[IntentCheck, Reservation | None]:
        """Run ``check`` against the worst position in-flight orders could leave; reserve.

        For a SELL the worst position is the current one minus every SELL in flight; for a
        BUY, plus every BUY in flight (in-flight orders on the other side may never fill).
        When ``check`` permits and the caps and order controls (see the module docstring) do
        too, the quantity is reserved atomically with every check. The reservation carries
        the quantity (and LIMIT ``price``) as the order controls fitted them to the rules.
        """
        request = CheckRequest(symbol, side, quantity, check, order_type, price, signal_id)
        ready = self._before_check(request)
        with self._transaction() as state:
            return self._check_locked(state, ready)

    def check_many(self, requests: Sequence[CheckRequest]) -> list[CheckAnswer]:
        """Check and reserve every request in turn, in one atomic step of the book.

        Each answer is what :meth:`check_and_reserve` gives that request when the requests
        are checked one after the other in this order (each sees the reservations of those
        before it), or the exception it would raise; the book's state is read and written
        once for all of them (one transaction for a shared book).
        """
        ready = self._ready_all(requests)
        with self._transaction() as state:
            return self._check_all(state, ready)

    def _ready_all(self, requests: Sequence[CheckRequest]) -> list[_Ready | Exception]:
        # What each request reads before the lock. The prices are read once for the batch,
        # for every symbol exposed now and every symbol of the batch: a request checked after
        # others of the batch needs the prices of what they reserve, as it would one by one
        # (extra prices change no answer: only an exposed symbol's price is ever read).
        prices: dict[str, Decimal] = {}
        if self.max_gross_exposure is not None:
            prices = self._prices_of({*self._exposed_symbols(), *(r.symbol for r in requests)})
        resting = self._resting_or_none() if self.max_open_orders is not None else 0
        answers: list[_Ready | Exception] = []
        for request in requests:
            try:
                answers.append(self._before_check(request, prices, resting))
            except Exception as exc:  # that request's answer; the others go on
                answers.append(exc)
        return answers

    def _check_all(self, state: BookState, ready: list[_Ready | Exception]) -> list[CheckAnswer]:
        # Under the seam. A check that raises changed nothing in ``state`` (it only reserves
        # at its very end): its exception is its answer and the next one goes on.
        answers: list[CheckAnswer] = []
        for item in ready:
            if isinstance(item, Exception):
                answers.append(item)
                continue
            try:
                answers.append(self._check_locked(state, item))
            except Exception as exc:
                answers.append(exc)
        return answers

    def _before_check(
        self,
        request: CheckRequest,
        prices: dict[str, Decimal] | None = None,
        resting: int | None = 0,
    ) -> _Ready:
        # Prices, the resting count and the symbol's rules are read before the lock: a lookup
        # may go to the exchange. A resting count that cannot be read is None: the
        # open-orders cap refuses. A batch hands in the prices and the count it read.
        symbol, side = request.symbol, request.side
        if prices is None:
            prices = self._prices(symbol) if self.max_gross_exposure is not None else {}
            resting = self._resting_or_none() if self.max_open_orders is not None else 0
        terms = OrderTerms(
            symbol, side, request.quantity, request.order_type, request.price, request.signal_id
        )
        controls = self.controls
        last = self._last_price(symbol, prices) if controls is not None else None
        shaped = controls.prepare(terms, last) if controls is not None else None
        return _Ready(request, prices, resting, terms, last, shaped, controls)

    def _check_locked(
        self, state: BookState, ready: _Ready
    ) -> tuple[IntentCheck, Reservation | None]:
        # Under the seam: the check, the caps, the order controls and the reservation.
        symbol, side = ready.request.symbol, ready.request.side
        quantity, price = ready.request.quantity, ready.request.price
        shaped, controls, limit = ready.shaped, ready.controls, self.max_gross_exposure
        if shaped is not None:
            quantity, price = shaped.quantity, shaped.price
        extra = (quantity, ZERO) if side is Side.BUY else (ZERO, quantity)
        book = state.books.setdefault(symbol, _Book())
        worst = (
            book.quantity - book.inflight_sell
            if side is Side.SELL
            else book.quantity + book.inflight_buy
        )
        result = ready.request.check(worst)
        if not result.permitted:
            return result, None
        adds_risk = book.worst_size(*extra) > book.worst_size()
        if (
            adds_risk
            and limit is not None
            and self._over_limit(state, symbol, extra, limit, ready.prices)
        ):
            return EXPOSURE_REFUSED, None
        if adds_risk and self._too_many_orders(state, ready.resting):
            return OPEN_ORDERS_REFUSED, None
        if controls is not None and shaped is not None:
            refusal = controls.decide(
                ready.terms,
                shaped,
                adds_risk=adds_risk,
                last_price=ready.last,
                now=self._admission_time(),
                admitted=state.admitted,
            )
            if refusal is not None:
                _log.info(
                    "order_control_refused",
                    code=refusal.code.value,
                    symbol=symbol,
                    detail=refusal.detail,
                )
                return IntentCheck(False, refusal.code), None
        reservation_id = f"{self._reservation_prefix}{next(self._numbers)}"
        reservation = Reservation(reservation_id, symbol, side, quantity, price)
        state.reservations[reservation_id] = (symbol, side, quantity)
        self._hold(book, side, quantity)
        return result, reservation

    def _prices(self, symbol: str) -> dict[str, Decimal]:
        # The price of every symbol that may carry exposure; a symbol whose lookup fails is
        # left out, and the check refuses any order that would need its price (fail closed).
        lookup = self.price_lookup
        if lookup is None:
            return {}
        return self._prices_of({*self._exposed_symbols(), symbol})

    def _prices_of(self, symbols: Iterable[str]) -> dict[str, Decimal]:
        lookup = self.price_lookup
        if lookup is None:
            return {}
        prices: dict[str, Decimal] = {}
        for name in symbols:
            try:
                price = lookup(name)
            except Exception as exc:  # unpriceable: the check refuses orders that need it
                _log.warning(
                    "exposure_price_unavailable",
                    code=ErrorCode.RISK_EXPOSURE.value,
                    symbol=name,
                    error=str(exc),
                )
                continue
            if isinstance(price, Decimal) and price.is_finite() and price >= ZERO:
                prices[name] = price
        return prices

    def _last_price(self, symbol: str, prices: dict[str, Decimal]) -> Decimal | None:
        # The last trade price for the order controls; None when unknown (they fail closed).
        if symbol in prices:
            return prices[symbol]
        return self._prices_of([symbol]).get(symbol)

    def _over_limit(
        self,
        state: BookState,
        symbol: str,
        extra: tuple[Decimal, Decimal],
        limit: Decimal,
        prices: dict[str, Decimal],
    ) -> bool:
        # Under the lock: the worst gross exposure with this order (``extra`` = the buy and
        # sell quantities it adds on ``symbol``) above the limit. Only called for an order
        # that adds risk, so "with" is above "without" and only the limit is left to check.
        after = ZERO
        for name, book in state.books.items():
            size = book.worst_size(*extra) if name == symbol else book.worst_size()
            if size == ZERO:
                continue
            price = prices.get(name)
            if price is None:
                return True
            after += size * price
        return after > limit

    def _exposed_symbols(self) -> list[str]:
        # The symbols whose exposure the check may need a price for.
        with self._reading() as state:
            return [s for s, b in state.books.items() if b.worst_size() != ZERO]

    def _resting(self) -> int:
        return self.open_orders() if self.open_orders is not None else 0

    def _resting_or_none(self) -> int | None:
        try:
            return self._resting()
        except Exception as exc:  # unknown: the open-orders cap refuses what adds risk
            _log.warning(
                "open_orders_unavailable", code=ErrorCode.RISK_OPEN_ORDERS.value, error=str(exc)
            )
            return None

    def _too_many_orders(self, state: BookState, resting: int | None) -> bool:
        # Under the lock. A resting order of this process keeps its reservation until it is
        # terminal, so the live reservations count it too: the larger count is the open one.
        cap = self.max_open_orders
        if cap is None:
            return False
        if resting is None:
            return True
        return max(resting, len(state.reservations)) + 1 > cap

    def hold_resting(self, order_id: str, symbol: str, side: Side, quantity: Decimal) -> None:
        """Count an order found resting on the exchange at start as an order in flight.

        Its unfilled ``quantity`` then counts in the worst exposure the cap checks, and the
        order in the open orders, until :meth:`release_resting` (idempotent per order).
        """
        if quantity <= ZERO:
            return
        key = f"{RESTING_PREFIX}{order_id}"
        # Through the state seam: a shared book keeps it in the database, so every process
        # that adopts the same resting order holds it once.
        with self._transaction() as state:
            if key in state.reservations:
                return
            state.reservations[key] = (symbol, side, quantity)
            self._hold(state.book(symbol), side, quantity)

    def release_resting(self, order_id: str) -> None:
        """Stop counting a resting order held by :meth:`hold_resting` (idempotent)."""
        self.release(Reservation(f"{RESTING_PREFIX}{order_id}", "", Side.BUY, ZERO))

    def rest(
        self,
        reservation: Reservation | None,
        order_id: str,
        symbol: str,
        side: Side,
        remaining: Decimal,
    ) -> None:
        """Tell the book that the order placed under ``reservation`` rests on the exchange.

        One step drops the reservation and holds the unfilled ``remaining`` as the resting
        order ``order_id`` (as :meth:`hold_resting` does for one found at start): a resting
        order may fill at any time, so it stays in the worst exposure the cap checks, and in
        the open orders, until it is cancelled through the executor (:meth:`release_resting`).
        Nothing polls a resting order in one process, so a fill or a cancel made on the
        exchange itself keeps it held until the next start reads the open orders: capacity
        held too long refuses more, never less. A shared book (:mod:`.shared_book`) holds it
        for every process and also drops it on the exchange's word (:meth:`settle_resting`).
        """
        key = f"{RESTING_PREFIX}{order_id}"
        with self._transaction() as state:
            if reservation is not None:
                held = state.reservations.pop(reservation.reservation_id, None)
                if held is not None:
                    self._hold(state.book(held[0]), held[1], -held[2])
            if remaining > ZERO and key not in state.reservations:
                state.reservations[key] = (symbol, side, remaining)
                self._hold(state.book(symbol), side, remaining)

    def settle_resting(self, open_order_ids: Collection[str], read_started: datetime) -> None:
        """Stop counting resting orders the exchange no longer lists as open.

        ``open_order_ids`` is what an account read that began at ``read_started`` (wall
        time, UTC) found open. In one process nothing is dropped here: the fill of an order
        that left the list is not known, and dropping its hold would forget exposure it may
        have taken (see :meth:`rest`). A shared book drops its resting orders here.
        """

    def release(self, reservation: Reservation | None) -> None:
        """Drop what remains of ``reservation`` (idempotent)."""
        if reservation is None:
            return
        with self._transaction() as state:
            held = state.reservations.pop(reservation.reservation_id, None)
            if held is not None:
                symbol, side, remaining = held
                self._hold(state.books.setdefault(symbol, _Book()), side, -remaining)

    @staticmethod
    def _hold(book: _Book, side: Side, quantity: Decimal) -> None:
        if side is Side.BUY:
            book.inflight_buy = max(ZERO, book.inflight_buy + quantity)
        else:
            book.inflight_sell = max(ZERO, book.inflight_sell + quantity)

    # --- fills -----------------------------------------------------------------------------

    def apply_fill(
        self,
        symbol: str,
        side: Side,
        quantity: Decimal,
        price: Decimal | None,
        *,
        reservation: Reservation | None = None,
        release: bool = False,
    ) -> None:
        """Apply a fill and take its quantity off ``reservation`` in the same step.

        With ``release``, what remains of ``reservation`` is dropped in that step too (the
        order is resolved): one step instead of a fill and a release.
        """
        if quantity <= ZERO:
            if release:
                self.release(reservation)
            return
        with self._transaction() as state:
            self._roll_day(state)
            book = state.books.setdefault(symbol, _Book())
            if reservation is not None:
                held = state.reservations.get(reservation.reservation_id)
                if held is not None:
                    used = min(held[2], quantity)
                    state.reservations[reservation.reservation_id] = (
                        held[0],
                        held[1],
                        held[2] - used,
                    )
                    self._hold(book, side, -used)
            fill_price = price if price is not None else (book.average_entry or ZERO)
            self._trade(state, book, _signed(side, quantity), fill_price)
            if release and reservation is not None:
                held = state.reservations.pop(reservation.reservation_id, None)
                if held is not None:
                    self._hold(state.book(held[0]), held[1], -held[2])

    def _trade(self, state: BookState, book: _Book, signed: Decimal, price: Decimal) -> None:
        current = book.quantity
        if current == ZERO or (current > ZERO) == (signed > ZERO):
            size = abs(current) + abs(signed)
            entry = book.average_entry if book.average_entry is not None else price
            book.average_entry = (abs(current) * entry + abs(signed) * price) / size
            book.quantity = current + signed
            return
        closed = min(abs(signed), abs(current))
        entry = book.average_entry if book.average_entry is not None else price
        pnl = closed * (price - entry) * (1 if current > ZERO else -1)
        book.realised_today += pnl
        state.realised_total += pnl
        book.quantity = current + signed
        if book.quantity == ZERO:
            book.average_entry = None
        elif (book.quantity > ZERO) != (current > ZERO):
            book.average_entry = price  # flipped: the rest opened at this price

    def _roll_day(self, state: BookState) -> None:
        today = self._clock.now().date()
        if today != state.day:
            state.day = today
            for book in state.books.values():
                book.realised_today = ZERO

    # --- PortfolioProvider -----------------------------------------------------------------

    def snapshot(self) -> PortfolioSnapshot:
        """Return equity, peak, P&L, exposure and open orders at current prices.

        Raises whatever ``price_lookup`` raises; the context builder turns that into
        CRITICAL risk (fail closed).
        """
        with self._reading() as state:
            self._roll_day(state)
            held = [(s, b.quantity, b.average_entry) for s, b in state.books.items()]
            realised_today = sum((b.realised_today for b in state.books.values()), ZERO)
            realised_total = state.realised_total
        unrealised = ZERO
        exposure = ZERO
        for symbol, quantity, entry in held:
            if quantity == ZERO:
                continue
            price = self._price(symbol, entry)
            unrealised += quantity * (price - (entry if entry is not None else price))
            exposure += abs(quantity) * price
        equity = self._starting_equity + realised_total + unrealised
        with self._lock:
            self._peak = max(self._peak, equity)
            peak = self._peak
        orders = self._resting()
        return PortfolioSnapshot(
            equity=max(equity, ZERO),
            peak_equity=max(peak, ZERO),
            realised_pnl_today=realised_today,
            unrealised_pnl=unrealised,
            gross_exposure=exposure,
            open_orders=orders,
        )

    def _price(self, symbol: str, entry: Decimal | None) -> Decimal:
        if self.price_lookup is not None:
            return self.price_lookup(symbol)
        return entry if entry is not None else ZERO


__all__ = [
    "RESTING_PREFIX",
    "BookState",
    "CheckAnswer",
    "CheckRequest",
    "Position",
    "PositionBook",
    "Reservation",
]
