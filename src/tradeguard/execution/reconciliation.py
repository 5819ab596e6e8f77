"""Reconciliation: make the position book equal what the exchange really filled (SPEC §5).

After every order the requested and filled quantities are compared. A difference logs
``PARTIAL_FILL_DISCREPANCY`` and starts a background job that polls the order until it is
terminal (backoff capped at ``max_interval_seconds``; after ``cancel_after_attempts`` polls
the unfilled remainder of a market order is cancelled through the executor), then applies the
missing fills to the position book and records ``RECONCILED`` with
``RECONCILIATION_COMPLETE`` in ``order_audit``. ``pending()`` is True until every job is done
(health shows ``RECONCILIATION_PENDING`` meanwhile).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..audit.records import OrderEvent, OrderEventRecord
from ..codes import ErrorCode
from ..errors import TradeGuardError
from ..logging import get_logger
from ..policy import Clock, Side
from ..ports import (
    Alert,
    AlertSeverity,
    AlertSink,
    AuditStore,
    ExchangeClient,
    OrderState,
    OrderStatus,
    OrderType,
    publish_alert,
)
from .positions import PositionBook, Reservation

_log = get_logger("tradeguard.reconciliation")

CancelRemainder = Callable[[str, str], OrderState]
"""``(symbol, order_id) -> state``: the executor's way of cancelling an unfilled remainder."""


@dataclass(frozen=True, slots=True)
class ReconciliationJob:
    """One order whose fill differs from its request."""

    correlation_id: str
    symbol: str
    side: Side
    intent: str
    order_id: str
    client_order_id: str | None
    requested_quantity: Decimal
    applied_quantity: Decimal
    reservation: Reservation | None = None


def needs_reconciliation(state: OrderState) -> bool:
    """Return True when ``state``'s fill differs from its request in a way to reconcile.

    A resting LIMIT order with nothing filled is not a discrepancy: it is an order waiting
    for its price. A rejected order filled nothing and changes no position.
    """
    if state.status is OrderStatus.REJECTED and state.filled_quantity == 0:
        return False
    if state.filled_quantity == state.requested_quantity:
        return False
    return not (
        state.order_type is OrderType.LIMIT
        and state.status is OrderStatus.NEW
        and state.filled_quantity == 0
    )


def _mismatch_alert(job: ReconciliationJob, state: OrderState) -> Alert:
    return Alert(
        event="reconciliation_mismatch",
        code=ErrorCode.PARTIAL_FILL_DISCREPANCY.value,
        severity=AlertSeverity.WARNING,
        summary=f"{job.symbol} order {job.order_id} filled {state.filled_quantity} of "
        f"{state.requested_quantity} ({state.status.value}); reconciling, gate NEUTRAL meanwhile",
        correlation_id=job.correlation_id,
        details={"symbol": job.symbol, "order_id": job.order_id, "status": state.status.value},
        condition=f"reconciliation_mismatch:{job.symbol}",
    )


class ReconciliationTracker:
    """Runs reconciliation jobs in background threads and reports whether any is pending."""

    def __init__(
        self,
        exchange: ExchangeClient,
        audit: AuditStore,
        positions: PositionBook,
        clock: Clock,
        *,
        poll_interval_seconds: float = 0.02,
        max_interval_seconds: float = 1.0,
        backoff: float = 2.0,
        cancel_after_attempts: int = 10,
    ) -> None:
        self._exchange = exchange
        self._audit = audit
        self._positions = positions
        self._clock = clock
        self._poll = poll_interval_seconds
        self._max_interval = max_interval_seconds
        self._backoff = backoff
        self._cancel_after = cancel_after_attempts
        self._lock = threading.Condition()
        self._jobs: dict[str, ReconciliationJob] = {}
        self._stop = threading.Event()
        self._listeners: list[Callable[[], None]] = []
        self.alerts: AlertSink | None = None
        """Told of every discrepancy once the order's events are recorded (composition root)."""

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` right after a reconciliation starts and after one completes.

        The composition root uses it to drop the health source's cached answer, so the very
        next decision sees ``RECONCILIATION_PENDING`` instead of a sample read before the
        partial fill (which could otherwise allow new risk for up to the sample's age).
        """
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in list(self._listeners):
            try:
                listener()
            except Exception as exc:  # a listener never stops reconciliation
                _log.error("reconciliation_listener_failed", error=repr(exc))

    def pending(self) -> bool:
        """Return True while any reconciliation has not completed."""
        with self._lock:
            return bool(self._jobs)

    def pending_jobs(self) -> list[ReconciliationJob]:
        """Return the jobs still running."""
        with self._lock:
            return list(self._jobs.values())

    def wait_idle(self, timeout: float) -> bool:
        """Block until no job is pending or ``timeout`` seconds pass; True when idle."""
        with self._lock:
            return self._lock.wait_for(lambda: not self._jobs, timeout=timeout)

    def close(self) -> None:
        """Stop polling (pending jobs stay pending)."""
        self._stop.set()

    def after_order(
        self, job: ReconciliationJob, state: OrderState, cancel: CancelRemainder | None
    ) -> bool:
        """Compare requested and filled; on a difference log it and start a job.

        Returns True when a job was started (the caller must then leave ``job.reservation``
        to the tracker, which releases it when the job completes).
        """
        if not needs_reconciliation(state):
            return False
        _log.warning(
            "partial_fill_discrepancy",
            code=ErrorCode.PARTIAL_FILL_DISCREPANCY.value,
            correlation_id=job.correlation_id,
            symbol=job.symbol,
            order_id=job.order_id,
            requested=str(state.requested_quantity),
            filled=str(state.filled_quantity),
            status=state.status.value,
        )
        publish_alert(self.alerts, _mismatch_alert(job, state))
        with self._lock:
            self._jobs[job.order_id] = job
        self._changed()
        thread = threading.Thread(
            target=self._run,
            args=(job, cancel),
            name=f"reconcile-{job.order_id}",
            daemon=True,
        )
        thread.start()
        return True

    # --- the job ---------------------------------------------------------------------------

    def _run(self, job: ReconciliationJob, cancel: CancelRemainder | None) -> None:
        interval = self._poll
        attempts = 0
        while not self._stop.is_set():
            attempts += 1
            state = self._read(job)
            if state is not None and state.status.is_terminal:
                self._finish(job, state, attempts)
                return
            if attempts == self._cancel_after:
                self._cancel_remainder(job, cancel)
            self._stop.wait(interval)
            interval = min(interval * self._backoff, self._max_interval)

    def _read(self, job: ReconciliationJob) -> OrderState | None:
        try:
            return self._exchange.order_status(job.symbol, job.order_id)
        except Exception as exc:  # any adapter failure: poll again later
            _log.warning(
                "reconciliation_poll_failed",
                code=getattr(exc, "code", ErrorCode.EXCHANGE_ERROR.value),
                correlation_id=job.correlation_id,
                order_id=job.order_id,
                error=str(exc),
            )
            return None

    def _cancel_remainder(self, job: ReconciliationJob, cancel: CancelRemainder | None) -> None:
        _log.warning(
            "reconciliation_cancelling_remainder",
            code=ErrorCode.RECONCILIATION_PENDING.value,
            correlation_id=job.correlation_id,
            order_id=job.order_id,
        )
        if cancel is None:
            return
        try:
            cancel(job.symbol, job.order_id)
        except Exception as exc:  # the next poll tells whether the order ended anyway
            _log.warning(
                "reconciliation_cancel_failed",
                code=getattr(exc, "code", ErrorCode.EXCHANGE_ERROR.value),
                correlation_id=job.correlation_id,
                order_id=job.order_id,
                error=str(exc),
            )

    def _finish(self, job: ReconciliationJob, state: OrderState, attempts: int) -> None:
        missing = state.filled_quantity - job.applied_quantity
        if missing > 0:
            self._positions.apply_fill(
                job.symbol, job.side, missing, state.average_price, reservation=job.reservation
            )
        self._positions.release(job.reservation)
        details: dict[str, Any] = {
            "final_status": state.status.value,
            "applied_at_ack": str(job.applied_quantity),
            "applied_now": str(max(missing, Decimal(0))),
            "attempts": attempts,
        }
        record = OrderEventRecord(
            correlation_id=job.correlation_id,
            timestamp_utc=self._clock.now(),
            event=OrderEvent.RECONCILED,
            symbol=job.symbol,
            side=job.side.value,
            intent=job.intent,
            requested_quantity=job.requested_quantity,
            filled_quantity=state.filled_quantity,
            price=state.average_price,
            exchange=self._exchange.name,
            exchange_order_id=job.order_id,
            client_order_id=job.client_order_id,
            code=ErrorCode.RECONCILIATION_COMPLETE.value,
            details=details,
        )
        try:
            self._audit.record_order_event(record)
        except TradeGuardError as exc:
            _log.error(
                "reconciliation_record_failed",
                code=exc.code,
                correlation_id=job.correlation_id,
                order_id=job.order_id,
            )
        _log.info(
            "reconciliation_complete",
            code=ErrorCode.RECONCILIATION_COMPLETE.value,
            correlation_id=job.correlation_id,
            order_id=job.order_id,
            filled=str(state.filled_quantity),
            requested=str(job.requested_quantity),
        )
        with self._lock:
            self._jobs.pop(job.order_id, None)
            self._lock.notify_all()
        self._changed()


__all__ = [
    "CancelRemainder",
    "ReconciliationJob",
    "ReconciliationTracker",
    "needs_reconciliation",
]
