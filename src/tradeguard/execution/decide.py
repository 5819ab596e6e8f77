"""The decide API's use case: decide an intent, hold what it permits until the bot reports.

A bot that keeps its own execution (a ccxt script, freqtrade) asks before each order. The
gate decides exactly as for a signal and records the signal and decision rows durably before
answering (``Gate.decide``); no order is sent. A permitted intent gets a permit: its
reservation in the position book stays held, so the exposure and open-orders caps count it as
in flight for signals and other decisions alike, until one of:

- the bot **reports** the order (``report``): recorded first as an ``order_audit`` row, then
  the fill goes to the position book like an executor fill, and a final status (FILLED,
  CANCELLED, REJECTED) frees what is left of the reservation. A report of NEW or
  PARTIALLY_FILLED keeps the rest held (the order may still fill) and stops the clock: later
  reports of the same order update it until a final one;
- the permit **expires**: not reported within the TTL (on the injected clock), its
  reservation is freed and an ``order_audit`` CANCELLED row with ``PERMIT_EXPIRED`` says so.
  If that row cannot be written the reservation stays held (fail closed) and expiry is
  retried.

A report for an unknown, expired or already finally reported permit, or one that contradicts
its permit, is refused with a code (``PERMIT_UNKNOWN``, ``PERMIT_EXPIRED``,
``PERMIT_ALREADY_REPORTED``, ``PERMIT_REPORT_INVALID``) and changes nothing. Permits live in
this process: after a restart (which also empties the position book) an old permit is
unknown. On PostgreSQL they live in the database instead, and any process on it takes the
report (:mod:`.shared_permits`). The ``permit_id`` is the decision's correlation_id, so every
row of one order shares it. A repeated ``signal_id`` is answered with the first answer and
never holds twice.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Final, Protocol

from ..audit.records import OrderEvent, OrderEventRecord
from ..codes import ErrorCode
from ..errors import AuditUnavailableError, InvalidInputError
from ..logging import get_logger
from ..policy import Clock, OrderIntent, parse_utc
from ..ports import AuditStore, OrderStatus
from ..signals import Signal, parse_signal
from .decisions import DecideAnswer, Decided, OrderReport, ReportAnswer, parse_report
from .positions import PositionBook, Reservation
from .results import SignalOutcome, SignalResult

_log = get_logger("tradeguard.decide")

DEFAULT_PERMIT_TTL_SECONDS: Final = 30.0
REPORTED_EXCHANGE: Final = "reported"
"""The ``exchange`` of the order rows a bot reported (the bot placed the order)."""
_REMEMBERED: Final = 65536
"""Closed permits remembered, to tell an expired or reported permit from an unknown one."""
_ZERO: Final = Decimal(0)
_EVENT_OF_STATUS: Final = {
    OrderStatus.NEW: OrderEvent.SUBMITTED,
    OrderStatus.PARTIALLY_FILLED: OrderEvent.PARTIALLY_FILLED,
    OrderStatus.FILLED: OrderEvent.FILLED,
    OrderStatus.CANCELLED: OrderEvent.CANCELLED,
    OrderStatus.REJECTED: OrderEvent.REJECTED,
}


class Decider(Protocol):
    """What the decide use case needs from the gate."""

    def decide(self, signal: Signal | Mapping[str, Any]) -> Decided:
        """Decide and record ``signal`` without executing it."""
        ...


class PermitRefusedError(InvalidInputError):
    """A report the decide API refuses; ``code`` says why, and nothing was changed."""


@dataclass(slots=True)
class _Held:
    # One permit whose order is not finally reported; only touched under DecideService._lock.
    permit_id: str
    signal: Signal
    reservation: Reservation | None
    deadline: float
    expires_at: datetime
    order_id: str | None = None
    filled: Decimal = _ZERO

    @property
    def reported(self) -> bool:
        return self.order_id is not None


class DecideService:
    """Decide intents for bots that place their own orders; hold them until reported.

    Args:
        gate: Decides and records (``Gate.decide``).
        audit: Where reports and expiries are recorded.
        positions: The position book the reservations live in (the gate's).
        clock: Times the permits (``monotonic`` for the TTL, ``now`` for ``expires_at``).
        ttl_seconds: How long a permit waits for its first report.
    """

    def __init__(
        self,
        gate: Decider,
        audit: AuditStore,
        positions: PositionBook,
        clock: Clock,
        *,
        ttl_seconds: float = DEFAULT_PERMIT_TTL_SECONDS,
    ) -> None:
        self._gate = gate
        self._audit = audit
        self._positions = positions
        self._clock = clock
        self._ttl = ttl_seconds
        self._lock = threading.RLock()
        self._held: dict[str, _Held] = {}
        self._closed: OrderedDict[str, tuple[ErrorCode, datetime]] = OrderedDict()

    @property
    def ttl_seconds(self) -> float:
        """Return how long a permit waits for its first report."""
        return self._ttl

    def close(self) -> None:
        """Release what the service holds outside the process (nothing, in process)."""

    def outstanding(self) -> int:
        """Return how many permits still hold their reservation."""
        with self._lock:
            return len(self._held)

    # --- decide ----------------------------------------------------------------------------

    def decide(self, signal: Signal | Mapping[str, Any]) -> DecideAnswer:
        """Decide ``signal`` and record it durably; hold a permitted intent; send nothing.

        Raises:
            InvalidSignalError: the signal is invalid (SIGNAL_INVALID).
            SignalReplayedError: the signal_id was used before with other content.
            AuditUnavailableError: the decision could not be recorded (nothing is permitted).
        """
        parsed = parse_signal(signal)
        self.expire_due()
        decided = self._gate.decide(parsed)
        result = decided.result
        permitted = result.outcome is not SignalOutcome.REFUSED and result.refusal_code is None
        if result.duplicate:
            return self._answer(
                result, permitted, self._first_expiry(result) if permitted else None
            )
        if not permitted:
            self._positions.release(decided.reservation)
            return self._answer(result, False, None)
        expires_at = self._clock.now() + timedelta(seconds=self._ttl)
        held = _Held(
            permit_id=result.correlation_id,
            signal=parsed,
            reservation=decided.reservation,
            deadline=self._clock.monotonic() + self._ttl,
            expires_at=expires_at,
        )
        self._keep(held)
        _log.info(
            "permit_issued",
            correlation_id=result.correlation_id,
            signal_id=result.signal_id,
            decision=result.decision,
            intent=parsed.intent.value,
            quantity=str(parsed.quantity),
        )
        return self._answer(result, True, expires_at)

    def _keep(self, held: _Held) -> None:
        # Hold the permit until its report or expiry (a shared store keeps it in the database).
        with self._lock:
            self._held[held.permit_id] = held

    def _answer(
        self, result: SignalResult, permitted: bool, expires_at: datetime | None
    ) -> DecideAnswer:
        codes = tuple(dict.fromkeys((result.reason_code, *result.codes)))
        refusal = None if permitted else (result.refusal_code or result.reason_code)
        return DecideAnswer(
            signal_id=result.signal_id,
            correlation_id=result.correlation_id,
            decision=result.decision,
            reason_code=result.reason_code,
            blocking_gate=result.blocking_gate,
            precedence_rank=result.precedence_rank,
            is_latched=result.is_latched,
            codes=codes,
            permitted=permitted,
            refusal_code=refusal,
            permit_id=result.correlation_id if permitted else None,
            expires_at=expires_at,
            duplicate=result.duplicate,
        )

    def _first_expiry(self, result: SignalResult) -> datetime:
        # The expiry the first answer gave: from memory, or its signal row's time plus the TTL.
        permit_id = result.correlation_id
        with self._lock:
            held = self._held.get(permit_id)
            if held is not None:
                return held.expires_at
            if permit_id in self._closed:
                return self._closed[permit_id][1]
        first = self._audit.find_signal(result.signal_id) or {}
        stamp = first.get("timestamp_utc")
        decided_at = parse_utc(stamp) if isinstance(stamp, str) else self._clock.now()
        return decided_at + timedelta(seconds=self._ttl)

    # --- report ----------------------------------------------------------------------------

    def report(self, permit_id: str, report: OrderReport | Mapping[str, Any]) -> ReportAnswer:
        """Record the bot's report of a permit's order and apply its fill.

        Raises:
            PermitRefusedError: unknown, expired or already reported permit, or a report that
                contradicts it; nothing was changed.
            InvalidInputError: the report is malformed (PERMIT_REPORT_INVALID).
            AuditUnavailableError: the report could not be recorded; nothing was changed.
        """
        parsed = parse_report(report)
        with self._lock:
            self.expire_due()
            held = self._held.get(permit_id)
            if held is None:
                raise self._missing(permit_id)
            self._check(held, parsed)
            applied = parsed.filled_quantity - held.filled
            self._write(self._report_record(held, parsed, applied))
            self._apply(held, parsed, applied)
        return self._reported(held, parsed, applied)

    @staticmethod
    def _reported(held: _Held, report: OrderReport, applied: Decimal) -> ReportAnswer:
        # Log the report taken and answer it (every kind of permit store).
        _log.info(
            "permit_reported",
            correlation_id=held.permit_id,
            status=report.status.value,
            filled_quantity=str(report.filled_quantity),
            applied_quantity=str(applied),
        )
        return ReportAnswer(
            permit_id=held.permit_id,
            correlation_id=held.permit_id,
            status=report.status.value,
            filled_quantity=report.filled_quantity,
            applied_quantity=applied,
            open=not report.status.is_terminal,
        )

    def _missing(self, permit_id: str) -> PermitRefusedError:
        closed = self._closed.get(permit_id)
        if closed is None:
            return PermitRefusedError(
                ErrorCode.PERMIT_UNKNOWN,
                "no such permit (never issued here, or issued before a restart)",
                field="permit_id",
                hint="report with the permit_id of the decide answer",
            )
        code = closed[0]
        message = (
            "the permit expired before its order was reported"
            if code is ErrorCode.PERMIT_EXPIRED
            else "the permit's order was already reported in a final state"
        )
        return PermitRefusedError(code, message, field="permit_id")

    @staticmethod
    def _check(held: _Held, report: OrderReport) -> None:
        def refuse(field: str, message: str) -> PermitRefusedError:
            return PermitRefusedError(
                ErrorCode.PERMIT_REPORT_INVALID, f"{field}: {message}", field=field
            )

        if report.filled_quantity > held.signal.quantity:
            raise refuse("filled_quantity", "above the permitted quantity")
        if report.filled_quantity < held.filled:
            raise refuse("filled_quantity", "smaller than an earlier report (it is cumulative)")
        if held.order_id is not None and report.exchange_order_id != held.order_id:
            raise refuse("exchange_order_id", "differs from the order reported before")

    def _apply(self, held: _Held, report: OrderReport, applied: Decimal) -> None:
        # Under the lock, after the report's row is durable.
        self._apply_to_book(held, report, applied)
        held.filled = report.filled_quantity
        held.order_id = report.exchange_order_id
        if report.status.is_terminal:
            self._close(held.permit_id, ErrorCode.PERMIT_ALREADY_REPORTED)

    def _apply_to_book(self, held: _Held, report: OrderReport, applied: Decimal) -> None:
        # The report's fill, and the release of what is left once the status is final.
        signal = held.signal
        if applied > _ZERO and signal.intent is not OrderIntent.CANCEL:
            price = report.average_price or signal.price or self._current_price(signal.symbol)
            self._positions.apply_fill(
                signal.symbol, signal.side, applied, price, reservation=held.reservation
            )
        if report.status.is_terminal:
            self._positions.release(held.reservation)

    def _current_price(self, symbol: str) -> Decimal | None:
        lookup = self._positions.price_lookup
        try:
            return None if lookup is None else lookup(symbol)
        except Exception as exc:  # the book falls back to the average entry
            _log.warning("report_price_unavailable", symbol=symbol, error=str(exc))
            return None

    def _report_record(
        self, held: _Held, report: OrderReport, applied: Decimal
    ) -> OrderEventRecord:
        signal = held.signal
        return OrderEventRecord(
            correlation_id=held.permit_id,
            timestamp_utc=self._clock.now(),
            event=_EVENT_OF_STATUS[report.status],
            symbol=signal.symbol,
            side=signal.side.value,
            intent=signal.intent.value,
            requested_quantity=signal.quantity,
            filled_quantity=report.filled_quantity,
            price=report.average_price if report.average_price is not None else signal.price,
            exchange=REPORTED_EXCHANGE,
            exchange_order_id=report.exchange_order_id,
            details={
                "permit_id": held.permit_id,
                "source": "decide_report",
                "status": report.status.value,
                "applied_quantity": str(applied),
            },
        )

    # --- expiry ----------------------------------------------------------------------------

    def expire_due(self) -> int:
        """Expire every permit past its TTL and not reported; return how many expired."""
        now = self._clock.monotonic()
        expired = 0
        with self._lock:
            due = [h for h in self._held.values() if not h.reported and now > h.deadline]
            for held in due:
                try:
                    self._write(self._expiry_record(held))
                except AuditUnavailableError:  # logged by _write; held (fail closed), retried
                    return expired
                self._positions.release(held.reservation)
                self._close(held.permit_id, ErrorCode.PERMIT_EXPIRED)
                expired += 1
                _log.warning(
                    "permit_expired",
                    code=ErrorCode.PERMIT_EXPIRED.value,
                    correlation_id=held.permit_id,
                    symbol=held.signal.symbol,
                    quantity=str(held.signal.quantity),
                )
        return expired

    def _expiry_record(self, held: _Held) -> OrderEventRecord:
        signal = held.signal
        return OrderEventRecord(
            correlation_id=held.permit_id,
            timestamp_utc=self._clock.now(),
            event=OrderEvent.CANCELLED,
            symbol=signal.symbol,
            side=signal.side.value,
            intent=signal.intent.value,
            requested_quantity=signal.quantity,
            price=signal.price,
            exchange=REPORTED_EXCHANGE,
            code=ErrorCode.PERMIT_EXPIRED.value,
            details={
                "permit_id": held.permit_id,
                "state": "PERMIT_EXPIRED",
                "expires_at": held.expires_at.isoformat(),
                "released_quantity": str(signal.quantity - held.filled),
            },
        )

    # --- shared ----------------------------------------------------------------------------

    def _close(self, permit_id: str, code: ErrorCode) -> None:
        held = self._held.pop(permit_id)
        self._closed[permit_id] = (code, held.expires_at)
        while len(self._closed) > _REMEMBERED:
            self._closed.popitem(last=False)

    def _write(self, record: OrderEventRecord) -> None:
        try:
            self._audit.record_many([record])
        except Exception as exc:  # any store failure: nothing changes, the caller is told
            _log.error(
                "audit_unavailable",
                code=ErrorCode.AUD_006.value,
                correlation_id=record.correlation_id,
                error=str(exc),
            )
            if isinstance(exc, AuditUnavailableError):
                raise
            raise AuditUnavailableError(ErrorCode.AUD_006, f"cannot record: {exc}") from exc


__all__ = [
    "DEFAULT_PERMIT_TTL_SECONDS",
    "DecideAnswer",
    "DecideService",
    "Decided",
    "Decider",
    "OrderReport",
    "PermitRefusedError",
    "ReportAnswer",
]
