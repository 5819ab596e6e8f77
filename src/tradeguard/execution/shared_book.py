"""The position book shared by every instance and worker on one PostgreSQL database.

:class:`SharedPositionBook` is a :class:`~.positions.PositionBook` whose state lives in the
``shared_*`` tables (migration 0003) instead of the process. Every read and change is one
transaction that takes the account row with ``SELECT ... FOR UPDATE``, loads the positions and
the live reservations into a :class:`~.positions.BookState`, runs the very same code as the
in-memory book over it, and writes back what changed before it commits. Two processes checking
orders for one account therefore take turns on the account row, and the second one sees the
first one's reservation: together they never pass the exposure or the open-orders cap. The
checks of a batch of signals (``check_many``) share one such transaction: the row is locked
once per batch, and each check sees the reservations of those before it.

Each book holds a lease (``shared_book_owners``) that it renews while it lives (every check
renews it, and a thread renews it when the book is idle). A check first deletes the
reservations of every owner whose lease has expired: a process killed with orders in flight
stops holding capacity after one lease time at most, and never holds it past the release or
the fill of its order while it lives.

The orders the order controls admitted recently (their rate limits and duplicate rule, see
:mod:`.order_controls`) are part of that state too (``shared_admitted_orders``, migration 0004):
a check loads those within the controls' memory in the same round trip, runs the same
:func:`~.order_controls.admit` over them and inserts the order it admits before it commits, so
two processes together never send more than the rate limits allow, and a duplicate sent to two
of them passes once. Those rows are timed on the injected clock's **wall** time (UTC), not the
monotonic clock, which no two processes share: the wall clocks of every instance on one
database must agree to well under the rate and duplicate windows. Workers on one host share
one clock; NTP-synchronised hosts agree to milliseconds, and the exchange time check refuses
trading on a clock more than ``TRADEGUARD_MAX_CLOCK_DRIFT_MS`` off: two processes whose clocks
differ by some offset see each other's orders that much older or younger, so the windows
between them shift by it. Rows older than the memory are deleted with the sweep of expired
leases.

Resting orders (migration 0005) are shared too, and outlive the process that placed them. An
order that rests on the exchange (a LIMIT waiting for its price, see :meth:`rest`, or one
found resting at start, :meth:`~.positions.PositionBook.hold_resting`) turns its reservation
into a ``resting:<order id>`` row held by the account's exchange owner (``<account>/exchange``,
whose lease never expires) instead of this process: it counts in the open-orders cap and its
unfilled quantity in the worst exposure for every process until it is cancelled through an
executor, or an account read shows the exchange no longer lists it (:meth:`settle_resting`:
filled, cancelled or expired there). A process that dies does not take its resting orders off
the exchange, so its rows stay held after its lease: they are only dropped on the exchange's
word. Any process that reads the account (the periodic ``exchange_account`` read, and the
start from the exchange's truth) settles them; a row written after the read began (its
``placed_at``, wall clock, less :data:`RESTING_SETTLE_GRACE` for the clocks and the exchange's
own lag) is kept, since the read may have missed it. While no account can be read nothing is
settled: the capacity stays held (fail closed). On a paper exchange (``resting_outlives_process``
False) the orders live in the process, so the rows are this process's and go with its lease,
and only this process settles them against its own exchange. On a shared book the open-orders
cap counts the shared rows only (every process's resting orders are among them), not the
executor's own resting set.

Anything that fails on the database fails closed: a check is refused with
``SHARED_STATE_UNAVAILABLE``; a release or a fill that could not be written is retried by the
renewal thread (until then the capacity stays held, which refuses more, never less); a
snapshot raises (the risk source turns that into CRITICAL).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

import psycopg

from ..codes import ErrorCode
from ..errors import DependencyUnavailableError
from ..logging import get_logger
from ..policy import Clock, IntentCheck, Side
from ..ports import OrderType
from .order_controls import AdmittedOrder
from .positions import (
    RESTING_PREFIX,
    BookState,
    CheckAnswer,
    CheckRequest,
    PositionBook,
    Reservation,
)

_log = get_logger(__name__)

SHARED_STATE_REFUSED: Final = IntentCheck(False, ErrorCode.SHARED_STATE_UNAVAILABLE)
SHARED_STATE_ANSWER: Final[tuple[IntentCheck, Reservation | None]] = (SHARED_STATE_REFUSED, None)
DEFAULT_LEASE_SECONDS: Final = 30.0
RESTING_SETTLE_GRACE: Final = timedelta(seconds=5)
"""How much older than an account read a resting row must be for that read to drop it."""

_ACCOUNT = "INSERT INTO shared_accounts (account, day) VALUES (%s, %s) ON CONFLICT DO NOTHING"
_EXCHANGE_OWNER = (
    "INSERT INTO shared_book_owners (owner_id, account, expires_at) "
    "VALUES (%s, %s, 'infinity') ON CONFLICT (owner_id) DO NOTHING"
)
_ADD_RESTING = (
    "INSERT INTO shared_reservations (reservation_id, account, owner_id, symbol, side, "
    "remaining, placed_at) VALUES (%s, %s, %s, %s, %s, %s, %s)"
)
_SETTLE_RESTING = (
    "DELETE FROM shared_reservations WHERE account = %s AND owner_id = %s "
    "AND reservation_id LIKE 'resting:%%' AND placed_at < %s "
    "AND reservation_id <> ALL(%s::text[]) RETURNING reservation_id"
)
_LOCK = "SELECT day, realised_total FROM shared_accounts WHERE account = %s FOR UPDATE"
_RENEW = (
    "INSERT INTO shared_book_owners (owner_id, account, expires_at) VALUES (%s, %s, %s) "
    "ON CONFLICT (owner_id) DO UPDATE SET expires_at = excluded.expires_at"
)
_SWEEP = (
    "DELETE FROM shared_reservations r WHERE r.account = %s AND NOT EXISTS ("
    "SELECT 1 FROM shared_book_owners o WHERE o.owner_id = r.owner_id AND o.expires_at >= %s)"
)
_SWEEP_OWNERS = "DELETE FROM shared_book_owners WHERE account = %s AND expires_at < %s"
_POSITIONS = (
    "SELECT symbol, quantity, average_entry, realised_today FROM shared_positions "
    "WHERE account = %s"
)
_RESERVATIONS = (
    "SELECT r.reservation_id, r.symbol, r.side, r.remaining FROM shared_reservations r "
    "JOIN shared_book_owners o ON o.owner_id = r.owner_id "
    "WHERE r.account = %s AND o.expires_at >= %s"
)
_ADMITTED = (
    "SELECT admitted_at, symbol, side, quantity, signal_id FROM shared_admitted_orders "
    "WHERE account = %s AND admitted_at > %s ORDER BY admitted_at, id"
)
_ADD_ADMITTED = (
    "INSERT INTO shared_admitted_orders (account, admitted_at, symbol, side, quantity, "
    "signal_id) VALUES (%s, %s, %s, %s, %s, %s)"
)
_SWEEP_ADMITTED = "DELETE FROM shared_admitted_orders WHERE account = %s AND admitted_at <= %s"
_READ_ACCOUNT = "SELECT day, realised_total FROM shared_accounts WHERE account = %s"
_READ_ONLY = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"
_UPSERT_POSITION = (
    "INSERT INTO shared_positions (account, symbol, quantity, average_entry, realised_today) "
    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (account, symbol) DO UPDATE SET "
    "quantity = excluded.quantity, average_entry = excluded.average_entry, "
    "realised_today = excluded.realised_today"
)
_ADD_RESERVATION = (
    "INSERT INTO shared_reservations (reservation_id, account, owner_id, symbol, side, "
    "remaining) VALUES (%s, %s, %s, %s, %s, %s)"
)
_SET_REMAINING = "UPDATE shared_reservations SET remaining = %s WHERE reservation_id = %s"
_DROP_RESERVATIONS = "DELETE FROM shared_reservations WHERE reservation_id = ANY(%s)"
_SET_ACCOUNT = "UPDATE shared_accounts SET day = %s, realised_total = %s WHERE account = %s"

_Filled = tuple[Decimal, Decimal | None, Decimal]
_Held = dict[str, tuple[str, Side, Decimal]]
_Image = tuple[dict[str, _Filled], _Held, Any, Decimal, tuple[AdmittedOrder, ...]]
_FLAT: Final[_Filled] = (Decimal(0), None, Decimal(0))


def _unavailable(exc: Exception) -> DependencyUnavailableError:
    return DependencyUnavailableError(
        ErrorCode.SHARED_STATE_UNAVAILABLE, f"shared account state on PostgreSQL failed: {exc}"
    )


class SharedPositionBook(PositionBook):
    """A position book whose state every process on one PostgreSQL database shares.

    Args:
        clock: As for :class:`PositionBook`; also times the leases and the orders the
            controls admitted, on its wall clock (every process on one database must read the
            same wall clock, to well under the rate and duplicate windows, as
            NTP-synchronised hosts do).
        url: The PostgreSQL URL (the schema is migrated by the audit store before).
        account: The account whose state this is; processes trading one account share it.
        lease_seconds: How long a silent owner's reservations outlive it.
        resting_outlives_process: True when the exchange keeps an order resting after this
            process dies (a real exchange): resting orders are then held by the account
            until the exchange says they are gone. False (paper): by this process's lease.
        **kwargs: The caps and callables of :class:`PositionBook`.
    """

    def __init__(
        self,
        clock: Clock,
        url: str,
        *,
        account: str,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        resting_outlives_process: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(clock, **kwargs)
        self.url = url
        self.account = account
        self.owner_id = f"{account}/{uuid.uuid4().hex[:16]}"
        self._reservation_prefix = f"{self.owner_id}/r"
        self._resting_owner = f"{account}/exchange" if resting_outlives_process else self.owner_id
        self._lease = timedelta(seconds=lease_seconds)
        self._conn: psycopg.Connection[Any] | None = None
        self._read_conn: psycopg.Connection[Any] | None = None
        self._read_lock = threading.Lock()
        self._seen: set[str] = set()
        self._retries: list[Callable[[], None]] = []
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self._renewed_at: datetime | None = None
        self._loaded_at = 0.0
        self._checking = threading.local()  # set while this thread runs a check
        try:
            with self._lock:
                conn = self._connection()
                conn.execute(_ACCOUNT, (account, clock.now().date()))
                conn.execute(_EXCHANGE_OWNER, (f"{account}/exchange", account))
        except psycopg.Error as exc:
            self._disconnect()
            raise _unavailable(exc) from exc
        with self._transaction():
            pass  # this owner's lease exists from now on

    # --- the transaction seam --------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[BookState]:
        with self._lock:
            try:
                conn = self._connection()
                with conn.pipeline(), conn.transaction():
                    state = self._load(conn)
                    before = _image(state)
                    yield state
                    self._store(conn, before, state)
            except psycopg.Error as exc:
                self._renewed_at = None
                self._disconnect()
                raise _unavailable(exc) from exc

    @contextmanager
    def _reading(self) -> Iterator[BookState]:
        # One consistent snapshot (REPEATABLE READ, read only) on a connection of its own,
        # without the account's row lock: reads never wait for the checks of other processes.
        with self._read_lock:
            try:
                if self._read_conn is None or self._read_conn.closed:
                    self._read_conn = psycopg.connect(self.url, autocommit=True, connect_timeout=5)
                conn = self._read_conn
                with conn.pipeline(), conn.transaction():
                    conn.execute(_READ_ONLY)
                    account = conn.execute(_READ_ACCOUNT, (self.account,))
                    positions = conn.execute(_POSITIONS, (self.account,))
                    reservations = conn.execute(_RESERVATIONS, (self.account, self._clock.now()))
                    yield self._state_of(account.fetchone(), positions, reservations)
            except psycopg.Error as exc:
                broken, self._read_conn = self._read_conn, None
                if broken is not None and not broken.closed:
                    broken.close()
                raise _unavailable(exc) from exc

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.url, autocommit=True, connect_timeout=5)
        return self._conn

    def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with suppress(psycopg.Error):  # already broken; a new one is opened next time
                conn.close()

    def _load(self, conn: psycopg.Connection[Any]) -> BookState:
        # One round trip (pipeline): lock the account row, renew the lease and sweep the
        # expired owners (and the admitted orders past every window) when a third of the lease
        # has passed, read positions, reservations and the orders admitted within the memory.
        now = self._clock.now()
        memory = timedelta(seconds=self._memory_seconds())
        locked = conn.execute(_LOCK, (self.account,))
        if self._renewed_at is None or now - self._renewed_at >= self._lease / 3:
            conn.execute(_RENEW, (self.owner_id, self.account, now + self._lease))
            conn.execute(_SWEEP, (self.account, now))
            conn.execute(_SWEEP_OWNERS, (self.account, now))
            # Kept for a lease at least: a process with a longer memory may share the account.
            conn.execute(_SWEEP_ADMITTED, (self.account, now - max(memory, self._lease)))
            self._renewed_at = now
        positions = conn.execute(_POSITIONS, (self.account,))
        reservations = conn.execute(_RESERVATIONS, (self.account, now))
        # Only a check reads them (releases, fills and renewals never do): no cost there.
        wanted = memory and getattr(self._checking, "on", False)
        admitted = conn.execute(_ADMITTED, (self.account, now - memory)) if wanted else None
        state = self._state_of(locked.fetchone(), positions, reservations)
        if admitted is not None:
            state.admitted.extend(
                AdmittedOrder(at.timestamp(), symbol, Side(side), Decimal(quantity), signal_id)
                for at, symbol, side, quantity, signal_id in admitted
            )
        self._loaded_at = now.timestamp()
        return state

    def _memory_seconds(self) -> float:
        # How far back the order controls look (0: no controls, nothing to load).
        controls = self.controls
        return 0.0 if controls is None else controls.limits.memory_seconds

    def _admission_time(self) -> float:
        # The wall time (POSIX seconds) of the transaction under way: the clock every process
        # on the database shares, and the one its admitted orders were loaded against.
        return self._loaded_at

    def _exposed_symbols(self) -> list[str]:
        # Every symbol this book has seen in the shared state: no extra read before a check.
        # A symbol another process opened since the last read is missing here; its price is
        # then missing under the lock and the check refuses (fail closed), and
        # check_and_reserve runs it again with the symbols that read added.
        return sorted(self._seen)

    def _state_of(self, row: Any, positions: Any, reservations: Any) -> BookState:
        if row is None:
            raise psycopg.DataError(f"account {self.account} has no row")
        state = BookState(row[0])
        state.realised_total = Decimal(row[1])
        for symbol, quantity, entry, realised in positions:
            book = state.book(symbol)
            book.quantity = Decimal(quantity)
            book.average_entry = None if entry is None else Decimal(entry)
            book.realised_today = Decimal(realised)
        for reservation_id, symbol, side, remaining in reservations:
            held = Side(side)
            state.reservations[reservation_id] = (symbol, held, Decimal(remaining))
            self._hold(state.book(symbol), held, Decimal(remaining))
        self._seen.update(state.books)
        return state

    def _store(self, conn: psycopg.Connection[Any], before: _Image, state: BookState) -> None:
        filled, held, day, realised, admitted = before
        loaded = {id(order) for order in admitted}  # alive: ``before`` holds them
        for symbol, book in state.books.items():
            now = (book.quantity, book.average_entry, book.realised_today)
            if filled.get(symbol, _FLAT) != now:
                conn.execute(_UPSERT_POSITION, (self.account, symbol, *now))
        gone = [r for r in held if r not in state.reservations]
        if gone:
            conn.execute(_DROP_RESERVATIONS, (gone,))
        for reservation_id, (symbol, side, remaining) in state.reservations.items():
            old = held.get(reservation_id)
            if old is None:
                self._add_reservation(conn, reservation_id, symbol, side, remaining)
            elif old[2] != remaining:
                conn.execute(_SET_REMAINING, (remaining, reservation_id))
        for order in state.admitted:
            if id(order) not in loaded:  # admitted in this transaction
                conn.execute(
                    _ADD_ADMITTED,
                    (
                        self.account,
                        datetime.fromtimestamp(order.at, UTC),
                        order.symbol,
                        order.side.value,
                        order.quantity,
                        order.signal_id,
                    ),
                )
        if (day, realised) != (state.day, state.realised_total):
            conn.execute(_SET_ACCOUNT, (state.day, state.realised_total, self.account))

    def _add_reservation(
        self,
        conn: psycopg.Connection[Any],
        reservation_id: str,
        symbol: str,
        side: Side,
        remaining: Decimal,
    ) -> None:
        if reservation_id.startswith(RESTING_PREFIX):  # held by the exchange owner, timed
            conn.execute(
                _ADD_RESTING,
                (
                    reservation_id,
                    self.account,
                    self._resting_owner,
                    symbol,
                    side.value,
                    remaining,
                    self._clock.now(),
                ),
            )
            return
        conn.execute(
            _ADD_RESERVATION,
            (reservation_id, self.account, self.owner_id, symbol, side.value, remaining),
        )

    # --- failing closed --------------------------------------------------------------------

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
        """As :meth:`PositionBook.check_and_reserve`; refused when the database fails.

        A check that met symbols this book had not seen (opened by another process) priced
        without them and may have refused for that alone: it runs once more, with them.
        """
        try:
            seen = len(self._seen)
            result = self._check_once(symbol, side, quantity, check, order_type, price, signal_id)
            if result[1] is None and len(self._seen) > seen:
                result = self._check_once(
                    symbol, side, quantity, check, order_type, price, signal_id
                )
            return result
        except DependencyUnavailableError as exc:
            _log.error("shared_state_unavailable", code=exc.code, symbol=symbol, error=exc.message)
            return SHARED_STATE_REFUSED, None

    def _check_once(
        self,
        symbol: str,
        side: Side,
        quantity: Decimal,
        check: Callable[[Decimal], IntentCheck],
        order_type: OrderType,
        price: Decimal | None,
        signal_id: str | None,
    ) -> tuple[IntentCheck, Reservation | None]:
        self._checking.on = True
        try:
            return super().check_and_reserve(
                symbol,
                side,
                quantity,
                check,
                order_type=order_type,
                price=price,
                signal_id=signal_id,
            )
        finally:
            self._checking.on = False

    def check_many(self, requests: Sequence[CheckRequest]) -> list[CheckAnswer]:
        """As :meth:`PositionBook.check_many`: one transaction, one row lock, for all of them.

        The account row is locked once for the whole batch instead of once per request. When
        the database fails, every request that would have been answered is refused with
        ``SHARED_STATE_UNAVAILABLE`` (none of their reservations was written). When the read
        under the lock meets symbols this book had not seen, nothing is checked: the prices
        are read again with them (outside the lock) and the batch runs once more, which gives
        each request the answer ``check_and_reserve``'s own second run would give it.
        """
        self._checking.on = True
        try:
            try:
                return self._check_batch(requests, restart_on_unseen=True)
            except _SeenMore:
                self._renewed_at = None  # a renewal in that read was rolled back with it
                return self._check_batch(requests, restart_on_unseen=False)
        finally:
            self._checking.on = False

    def _check_batch(
        self, requests: Sequence[CheckRequest], *, restart_on_unseen: bool
    ) -> list[CheckAnswer]:
        # Raises _SeenMore (nothing checked) when the read under the lock met unseen symbols.
        seen = set(self._seen)
        ready = self._ready_all(requests)
        try:
            with self._transaction() as state:
                if restart_on_unseen and not self._seen <= seen:
                    raise _SeenMore
                return self._check_all(state, ready)
        except DependencyUnavailableError as exc:
            _log.error("shared_state_unavailable", code=exc.code, error=exc.message)
            return [item if isinstance(item, Exception) else SHARED_STATE_ANSWER for item in ready]

    def release(self, reservation: Reservation | None) -> None:
        """As :meth:`PositionBook.release`; retried later when the database fails."""
        self._or_retry(lambda: PositionBook.release(self, reservation))

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
        """As :meth:`PositionBook.apply_fill`; retried later when the database fails."""
        self._or_retry(
            lambda: PositionBook.apply_fill(
                self, symbol, side, quantity, price, reservation=reservation, release=release
            )
        )

    # --- resting orders (see the module docstring) ------------------------------------------

    def rest(
        self,
        reservation: Reservation | None,
        order_id: str,
        symbol: str,
        side: Side,
        remaining: Decimal,
    ) -> None:
        """Turn ``reservation`` into the resting order ``order_id``, held for every process.

        One transaction drops the reservation and holds ``remaining`` as the resting order;
        retried later when the database fails (the reservation stays held meanwhile).
        """
        self._or_retry(
            lambda: PositionBook.rest(self, reservation, order_id, symbol, side, remaining)
        )

    def settle_resting(self, open_order_ids: Collection[str], read_started: datetime) -> None:
        """Drop the resting orders the exchange no longer lists (written before the read).

        A database failure is logged and nothing is dropped (the capacity stays held).
        """
        cutoff = read_started - RESTING_SETTLE_GRACE
        listed = [f"{RESTING_PREFIX}{order_id}" for order_id in open_order_ids]
        with self._lock:
            try:
                conn = self._connection()
                with conn.transaction():
                    conn.execute(_LOCK, (self.account,))
                    gone = conn.execute(
                        _SETTLE_RESTING, (self.account, self._resting_owner, cutoff, listed)
                    ).fetchall()
            except psycopg.Error as exc:
                self._disconnect()
                _log.error(
                    "shared_resting_settle_failed",
                    code=ErrorCode.SHARED_STATE_UNAVAILABLE.value,
                    error=str(exc),
                )
                return
        if gone:
            _log.info(
                "shared_resting_orders_settled",
                orders=sorted(row[0].removeprefix(RESTING_PREFIX) for row in gone),
            )

    def _resting_or_none(self) -> int | None:
        # Every process's resting orders are rows of the shared state, which the cap counts
        # under the lock; this process's own resting set adds nothing to them.
        return 0

    def _or_retry(self, change: Callable[[], None]) -> None:
        try:
            change()
        except DependencyUnavailableError as exc:
            _log.error("shared_state_write_deferred", code=exc.code, error=exc.message)
            with self._lock:
                self._retries.append(change)

    # --- the lease -------------------------------------------------------------------------

    def renew(self) -> None:
        """Renew this owner's lease and apply the changes that failed before (in order)."""
        self._renewed_at = None  # the next transaction renews
        with self._lock:
            pending, self._retries = self._retries, []
        for index, change in enumerate(pending):
            try:
                change()
            except DependencyUnavailableError:
                with self._lock:
                    self._retries[:0] = pending[index:]
                return
        with self._transaction():
            pass

    def start(self) -> None:
        """Start the thread that renews the lease while the book is idle."""
        if self._renewer is not None:
            return
        interval = self._lease.total_seconds() / 3
        self._renewer = threading.Thread(
            target=self._renew_loop, args=(interval,), name="tradeguard-shared-book", daemon=True
        )
        self._renewer.start()

    def _renew_loop(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.renew()
            except DependencyUnavailableError as exc:
                _log.error("shared_lease_renewal_failed", code=exc.code, error=exc.message)

    def close(self) -> None:
        """Stop renewing and close the connection (the lease then expires on its own)."""
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=5)
        with self._lock:
            self._disconnect()
        with self._read_lock:
            if self._read_conn is not None:
                self._read_conn.close()


class _SeenMore(Exception):
    """The state read under the lock holds symbols the prices were not read for."""


def _image(state: BookState) -> _Image:
    # What was loaded, to write back only what the step changed.
    filled = {
        symbol: (b.quantity, b.average_entry, b.realised_today) for symbol, b in state.books.items()
    }
    # The admitted orders loaded are told from new ones by identity (equal values may repeat).
    loaded = tuple(state.admitted)
    return filled, dict(state.reservations), state.day, state.realised_total, loaded


__all__ = [
    "DEFAULT_LEASE_SECONDS",
    "RESTING_SETTLE_GRACE",
    "SHARED_STATE_REFUSED",
    "SharedPositionBook",
]
