"""Decide permits shared by every instance and worker on one PostgreSQL database.

:class:`SharedDecideService` is the :class:`~.decide.DecideService` of a process whose position
book is shared (:mod:`.shared_book`). It decides exactly as the in-process one; what differs is
where a permit lives until its report or expiry: a row of ``shared_permits`` (migration 0006),
so ``POST /v1/decide/{permit_id}/report`` may land on any worker or instance of the account.
The answers are the same: ``PERMIT_UNKNOWN`` (404), ``PERMIT_EXPIRED`` and
``PERMIT_ALREADY_REPORTED`` (409), ``PERMIT_REPORT_INVALID`` (422), each with nothing changed.

- **Report**: one transaction takes the permit's row (``SELECT ... FOR UPDATE``), checks it as
  the in-process service does, updates it and writes the report's ``order_audit`` row (through
  the audit store) before it commits; the fill and the release then go to the shared book,
  which holds the reservation whichever process minted it. Two reports of one permit at once
  take turns on the row: after a final one, the other is refused with
  ``PERMIT_ALREADY_REPORTED``. A report that finds its permit past its TTL and never reported
  expires it there, under the same lock, and is refused with ``PERMIT_EXPIRED``.
- **Expiry**: due permits (never reported, past ``expires_at``, on the injected clock's wall
  time, which every process on the database shares) are taken one per transaction with
  ``FOR UPDATE SKIP LOCKED``: whichever process sweeps (the leader's ``permits`` task, or any
  decide call) writes the one CANCELLED / ``PERMIT_EXPIRED`` row, marks the permit expired and
  commits, then frees the reservation. If the row cannot be written the transaction rolls back
  and the permit stays held (fail closed); it is retried at the next sweep.
- **Failures**: a database failure answers ``SHARED_STATE_UNAVAILABLE`` (503) and changes
  nothing: a permit that cannot be stored is not granted (its reservation is freed), a report
  that cannot be checked is not applied. If the audit row of a report was written and the
  commit that follows failed, the permit is unchanged and the bot's retry writes the row again:
  the one window where a row may repeat; the book changes once.

The reservation of a permit is the minting process's (its lease, see :mod:`.shared_book`): if
that process dies, its reservation stops holding capacity after one lease, as an in-process
permit's did on a restart; the permit itself stays reportable, and a report then applies its
fill to the positions with no reservation to draw from. Closed permits are remembered a day.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Final

import psycopg

from ..codes import ErrorCode
from ..errors import AuditUnavailableError
from ..logging import get_logger
from ..policy import Clock
from ..ports import AuditStore
from ..signals import Signal
from .decide import DEFAULT_PERMIT_TTL_SECONDS, Decider, DecideService, PermitRefusedError, _Held
from .decisions import OrderReport, ReportAnswer, parse_report
from .positions import PositionBook, Reservation
from .results import SignalResult

_log = get_logger("tradeguard.decide")

HELD: Final = "HELD"
EXPIRED: Final = "EXPIRED"
REPORTED: Final = "REPORTED"
REMEMBER_CLOSED: Final = timedelta(days=1)
"""How long a closed permit is told from an unknown one."""
_FORGET_EVERY_SECONDS: Final = 60.0

_COLUMNS = (
    "permit_id, signal, reservation_id, reserved_quantity, reserved_price, expires_at, "
    "order_id, filled, state"
)
_INSERT = (
    "INSERT INTO shared_permits (permit_id, account, signal, reservation_id, "
    "reserved_quantity, reserved_price, expires_at, state) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, 'HELD')"
)
_LOCK = f"SELECT {_COLUMNS} FROM shared_permits WHERE permit_id = %s AND account = %s FOR UPDATE"
_DUE = (
    f"SELECT {_COLUMNS} FROM shared_permits WHERE account = %s AND state = 'HELD' "
    "AND order_id IS NULL AND expires_at < %s ORDER BY expires_at LIMIT 1 "
    "FOR UPDATE SKIP LOCKED"
)
_REPORT = (
    "UPDATE shared_permits SET order_id = %s, filled = %s, state = %s, closed_at = %s "
    "WHERE permit_id = %s"
)
_EXPIRE = "UPDATE shared_permits SET state = 'EXPIRED', closed_at = %s WHERE permit_id = %s"
_FORGET = "DELETE FROM shared_permits WHERE account = %s AND state <> 'HELD' AND closed_at < %s"
_EXPIRY = "SELECT expires_at FROM shared_permits WHERE permit_id = %s AND account = %s"
_COUNT = "SELECT count(*) FROM shared_permits WHERE account = %s AND state = 'HELD'"


def _unavailable(exc: Exception) -> AuditUnavailableError:
    return AuditUnavailableError(
        ErrorCode.SHARED_STATE_UNAVAILABLE, f"shared permits on PostgreSQL failed: {exc}"
    )


def _closed_refusal(state: str) -> PermitRefusedError:
    if state == EXPIRED:
        return PermitRefusedError(
            ErrorCode.PERMIT_EXPIRED,
            "the permit expired before its order was reported",
            field="permit_id",
        )
    return PermitRefusedError(
        ErrorCode.PERMIT_ALREADY_REPORTED,
        "the permit's order was already reported in a final state",
        field="permit_id",
    )


def _unknown() -> PermitRefusedError:
    return PermitRefusedError(
        ErrorCode.PERMIT_UNKNOWN,
        "no such permit (never issued on this database)",
        field="permit_id",
        hint="report with the permit_id of the decide answer",
    )


class SharedDecideService(DecideService):
    """A decide service whose permits every process on one PostgreSQL database shares.

    Args:
        gate: Decides and records (``Gate.decide``).
        audit: Where reports and expiries are recorded.
        positions: The shared position book the reservations live in.
        clock: Times the permits on its wall clock (``now``), shared by every process.
        url: The PostgreSQL URL (migrated by the audit store before).
        account: The account whose permits these are (as the shared book's).
        ttl_seconds: How long a permit waits for its first report.
    """

    def __init__(
        self,
        gate: Decider,
        audit: AuditStore,
        positions: PositionBook,
        clock: Clock,
        *,
        url: str,
        account: str,
        ttl_seconds: float = DEFAULT_PERMIT_TTL_SECONDS,
    ) -> None:
        super().__init__(gate, audit, positions, clock, ttl_seconds=ttl_seconds)
        self.url = url
        self.account = account
        self._conn: psycopg.Connection[Any] | None = None
        self._db_lock = threading.Lock()
        self._forgotten_at: float | None = None

    # --- the connection --------------------------------------------------------------------

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.url, autocommit=True, connect_timeout=5)
        return self._conn

    def _broken(self, exc: psycopg.Error) -> AuditUnavailableError:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            conn.close()
        _log.error("shared_permits_failed", code=ErrorCode.SHARED_STATE_UNAVAILABLE.value)
        return _unavailable(exc)

    def close(self) -> None:
        """Close the connection."""
        with self._db_lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _held_of(self, row: Any) -> tuple[_Held, str]:
        permit_id, signal, reservation_id, quantity, price, expires_at, order_id, filled, state = (
            row
        )
        parsed = Signal.model_validate_json(signal)
        reservation = (
            None
            if reservation_id is None
            else Reservation(
                reservation_id,
                parsed.symbol,
                parsed.side,
                Decimal(quantity),
                None if price is None else Decimal(price),
            )
        )
        held = _Held(permit_id, parsed, reservation, 0.0, expires_at, order_id, Decimal(filled))
        return held, str(state)

    # --- decide ----------------------------------------------------------------------------

    def _keep(self, held: _Held) -> None:
        reservation = held.reservation
        values = (
            held.permit_id,
            self.account,
            held.signal.model_dump_json(),
            None if reservation is None else reservation.reservation_id,
            None if reservation is None else reservation.quantity,
            None if reservation is None else reservation.price,
            held.expires_at,
        )
        with self._db_lock:
            try:
                self._connection().execute(_INSERT, values)
            except psycopg.Error as exc:  # not stored: not granted, its capacity freed
                self._positions.release(reservation)
                raise self._broken(exc) from exc

    def _first_expiry(self, result: SignalResult) -> datetime:
        with self._db_lock:
            try:
                row = (
                    self._connection()
                    .execute(_EXPIRY, (result.correlation_id, self.account))
                    .fetchone()
                )
            except psycopg.Error as exc:
                raise self._broken(exc) from exc
        if row is not None:
            return row[0]  # type: ignore[no-any-return]
        return super()._first_expiry(result)

    def outstanding(self) -> int:
        """Return how many permits of the account still hold their reservation."""
        with self._db_lock:
            try:
                row = self._connection().execute(_COUNT, (self.account,)).fetchone()
            except psycopg.Error as exc:
                raise self._broken(exc) from exc
        return int(row[0]) if row is not None else 0

    # --- report ----------------------------------------------------------------------------

    def report(self, permit_id: str, report: OrderReport | Mapping[str, Any]) -> ReportAnswer:
        """Record the bot's report of a permit's order and apply its fill (any process).

        Raises:
            PermitRefusedError: unknown, expired or already reported permit, or a report that
                contradicts it; nothing was changed.
            InvalidInputError: the report is malformed (PERMIT_REPORT_INVALID).
            AuditUnavailableError: the report could not be recorded or the permit read
                (``SHARED_STATE_UNAVAILABLE``); nothing was changed.
        """
        parsed = parse_report(report)
        with self._db_lock:
            try:
                held, applied, expired = self._report_locked(permit_id, parsed)
            except psycopg.Error as exc:
                raise self._broken(exc) from exc
        if expired:
            self._expired(held)
            raise _closed_refusal(EXPIRED)
        self._apply_to_book(held, parsed, applied)
        return self._reported(held, parsed, applied)

    def _report_locked(self, permit_id: str, report: OrderReport) -> tuple[_Held, Decimal, bool]:
        # One transaction under the permit's row lock: (held, applied, expired here).
        conn = self._connection()
        now = self._clock.now()
        with conn.transaction():
            row = conn.execute(_LOCK, (permit_id, self.account)).fetchone()
            if row is None:
                raise _unknown()
            held, state = self._held_of(row)
            if state != HELD:
                raise _closed_refusal(state)
            if held.order_id is None and now > held.expires_at:
                conn.execute(_EXPIRE, (now, permit_id))
                self._write(self._expiry_record(held))
                return held, Decimal(0), True
            self._check(held, report)
            applied = report.filled_quantity - held.filled
            final = report.status.is_terminal
            conn.execute(
                _REPORT,
                (
                    report.exchange_order_id,
                    report.filled_quantity,
                    REPORTED if final else HELD,
                    now if final else None,
                    permit_id,
                ),
            )
            self._write(self._report_record(held, report, applied))
        return held, applied, False

    # --- expiry ----------------------------------------------------------------------------

    def expire_due(self) -> int:
        """Expire every due permit of the account (any process's); return how many here."""
        expired = 0
        while True:
            try:
                held = self._expire_one()
            except (psycopg.Error, AuditUnavailableError) as exc:  # held; retried next sweep
                _log.error(
                    "permit_expiry_failed",
                    code=getattr(exc, "code", ErrorCode.SHARED_STATE_UNAVAILABLE.value),
                    error=str(exc),
                )
                return expired
            if held is None:
                break
            self._expired(held)
            expired += 1
        self._forget_closed()
        return expired

    def _expire_one(self) -> _Held | None:
        with self._db_lock:
            try:
                conn = self._connection()
                now = self._clock.now()
                with conn.transaction():
                    row = conn.execute(_DUE, (self.account, now)).fetchone()
                    if row is None:
                        return None
                    held, _ = self._held_of(row)
                    conn.execute(_EXPIRE, (now, held.permit_id))
                    self._write(self._expiry_record(held))
                return held
            except psycopg.Error as exc:
                raise self._broken(exc) from exc

    def _expired(self, held: _Held) -> None:
        # After the expiry's row is committed: free the reservation (any process may).
        self._positions.release(held.reservation)
        _log.warning(
            "permit_expired",
            code=ErrorCode.PERMIT_EXPIRED.value,
            correlation_id=held.permit_id,
            symbol=held.signal.symbol,
            quantity=str(held.signal.quantity),
        )

    def _forget_closed(self) -> None:
        now = self._clock.monotonic()
        if self._forgotten_at is not None and now - self._forgotten_at < _FORGET_EVERY_SECONDS:
            return
        self._forgotten_at = now
        with self._db_lock:
            try:
                cutoff = self._clock.now() - REMEMBER_CLOSED
                self._connection().execute(_FORGET, (self.account, cutoff))
            except psycopg.Error as exc:  # kept a while longer: only memory
                self._broken(exc)


__all__ = ["REMEMBER_CLOSED", "SharedDecideService"]
