"""The executor: the only code that places or cancels orders on an exchange.

It takes a ``Permit`` minted by the gate after the durable decision record, redeems it with
the shared ``PermitAuthority`` (a forged, altered, reused or expired permit raises
``PermitError`` and nothing is sent), places the order the permit describes, records the
order's events in ``order_audit``, updates the position book and hands a fill that differs
from the request to reconciliation. Exchange failures are recorded (``REJECTED`` with
``EXCHANGE_ORDER_REJECTED`` or ``EXCHANGE_ERROR``) and returned as outcomes; no foreign
exception leaves this module. A contract test checks that no other module of ``src/`` calls
``place_order`` or ``cancel_order``.

A ``send_guard`` is asked once more right before each order leaves: the kill switch engaged
(or a HALT latched) between the durable decision and the send stops the order there
(``REFUSED`` with the guard's code; a guard that fails counts as engaged), so that nothing new
leaves once trading is halted.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from ..audit.records import AuditRecord, OrderEvent, OrderEventRecord
from ..codes import ErrorCode
from ..errors import ExchangeRejectedError, PermitError, TradeGuardError
from ..logging import get_logger
from ..policy import Clock, OrderIntent
from ..ports import AuditStore, ExchangeClient, OrderRequest, OrderState, OrderStatus
from .permits import Permit, PermitAuthority
from .positions import PositionBook, Reservation
from .reconciliation import ReconciliationJob, ReconciliationTracker, needs_reconciliation
from .results import ExecutionReport, OrderSummary, SignalOutcome
from .steps import WriteSteps, drive

_log = get_logger("tradeguard.executor")

SendGuard = Callable[[], str | None]
"""Answers the code that stops every new order now (kill switch, HALT latch), or None."""

_EVENT_OF_STATUS = {
    OrderStatus.FILLED: OrderEvent.FILLED,
    OrderStatus.PARTIALLY_FILLED: OrderEvent.PARTIALLY_FILLED,
    OrderStatus.REJECTED: OrderEvent.REJECTED,
    OrderStatus.CANCELLED: OrderEvent.CANCELLED,
}


def _outcome_of(state: OrderState) -> SignalOutcome:
    if state.status is OrderStatus.REJECTED:
        return SignalOutcome.REJECTED
    if state.filled_quantity >= state.requested_quantity:
        return SignalOutcome.EXECUTED
    if state.filled_quantity > 0:
        return SignalOutcome.PARTIALLY_FILLED
    if state.status is OrderStatus.CANCELLED:
        return SignalOutcome.CANCELLED
    return SignalOutcome.RESTING


@dataclass(frozen=True, slots=True)
class _Sent:
    # An order placed (state) or failed (report), with its events not yet recorded.
    permit: Permit
    reservation: Reservation | None
    state: OrderState | None
    records: list[OrderEventRecord]
    report: ExecutionReport | None


def _invalid_answer() -> PermitError:
    return PermitError(ErrorCode.PERMIT_INVALID, "no answer for this permit")


class Executor:
    """Places the orders the gate permitted, and cancels resting ones.

    Args:
        exchange: The exchange adapter (paper in DRY_RUN).
        authority: The permit authority shared with the gate.
        audit: Where order events are recorded.
        positions: The position book updated from fills.
        reconciler: Reconciles fills that differ from the request.
        clock: Timestamps of the order events.
        send_guard: Asked right before each order leaves (see the module docstring).
    """

    def __init__(
        self,
        exchange: ExchangeClient,
        authority: PermitAuthority,
        audit: AuditStore,
        positions: PositionBook,
        reconciler: ReconciliationTracker,
        clock: Clock,
        send_guard: SendGuard | None = None,
    ) -> None:
        self._exchange = exchange
        self._authority = authority
        self._audit = audit
        self._positions = positions
        self._reconciler = reconciler
        self._clock = clock
        self.send_guard = send_guard
        self._lock = threading.Lock()
        self._resting: dict[str, tuple[str, str]] = {}  # order_id -> (symbol, correlation_id)

    @property
    def places_in_process(self) -> bool:
        """True when placing an order is an in-process call (paper without latency).

        Orders are then worth batching; with a remote exchange each order should go out on
        its own, concurrently with the others.
        """
        return bool(getattr(self._exchange, "in_process", False))

    @property
    def exchange_name(self) -> str:
        """Return the adapter's name."""
        return self._exchange.name

    def resting_count(self) -> int:
        """Return how many orders this executor knows to be resting."""
        with self._lock:
            return len(self._resting)

    def adopt_resting(self, orders: Sequence[OrderState]) -> int:
        """Count orders already resting on the exchange (left by an earlier process).

        Each non-terminal order joins this executor's resting orders (the open-orders cap,
        the kill switch's cancel) and its unfilled quantity is held in the position book (the
        exposure cap) until this executor cancels it. Returns how many were new here.
        """
        adopted = 0
        for order in orders:
            if order.status.is_terminal:
                continue
            with self._lock:
                if order.order_id in self._resting:
                    continue
                self._resting[order.order_id] = (order.symbol, order.client_order_id)
            remaining = order.requested_quantity - order.filled_quantity
            self._positions.hold_resting(order.order_id, order.symbol, order.side, remaining)
            adopted += 1
        return adopted

    def settle_resting(self, open_orders: Sequence[OrderState], read_started: datetime) -> None:
        """Tell the book which orders an account read that began at ``read_started`` found open.

        A shared book stops counting the resting orders (of any process) that the exchange no
        longer lists; in one process the book holds nothing for them and this does nothing.
        """
        open_ids = {order.order_id for order in open_orders if not order.status.is_terminal}
        self._positions.settle_resting(open_ids, read_started)

    # --- orders ----------------------------------------------------------------------------

    def execute(self, permit: Permit, reservation: Reservation | None = None) -> ExecutionReport:
        """Redeem ``permit`` and carry out its order; return what happened.

        Raises:
            PermitError: the permit is not valid (PERMIT_INVALID); nothing was sent.
        """
        return self._execute_redeemed(self._redeem(permit, reservation), reservation)

    def execute_many(
        self, items: Sequence[tuple[Permit, Reservation | None]]
    ) -> list[ExecutionReport | PermitError]:
        """Carry out several permitted orders with one durable write of their order events.

        Each order is placed as by :meth:`execute` (one after the other); their events are
        then recorded in one transaction, and only after that are fills applied and
        reconciliation started, as for a single order. CANCEL and STOP_UPDATE permits are
        carried out on their own. An invalid permit's entry is its ``PermitError``.
        """
        return drive(self.execute_many_steps(items), self._audit.record_many)

    def execute_many_steps(
        self, items: Sequence[tuple[Permit, Reservation | None]]
    ) -> WriteSteps[list[ExecutionReport | PermitError]]:
        """:meth:`execute_many` as steps: it yields the order events for its caller to write.

        The caller writes them durably (``drive`` or ``adrive``) and sends back their seqs or
        throws the failure in; a failure is logged (the orders already left), never raised.
        """
        answers: list[ExecutionReport | PermitError | None] = [None] * len(items)
        sent: list[tuple[int, _Sent]] = []
        for index, (given, reservation) in enumerate(items):
            try:
                permit = self._redeem(given, reservation)
            except PermitError as exc:
                answers[index] = exc
                continue
            if permit.intent in (OrderIntent.CANCEL, OrderIntent.STOP_UPDATE):
                answers[index] = self._execute_redeemed(permit, reservation)
            else:
                sent.append((index, self._send(permit, reservation)))
        records: list[AuditRecord] = [record for _, item in sent for record in item.records]
        if records:
            try:
                yield records
            except Exception as exc:  # the orders already left: logged, the health turns RED
                self._record_failed(records, exc)
        for index, item in sent:
            answers[index] = self._after(item)
        return [answer if answer is not None else _invalid_answer() for answer in answers]

    def _redeem(self, permit: Permit, reservation: Reservation | None) -> Permit:
        try:
            return self._authority.redeem(permit)
        except PermitError as exc:
            self._positions.release(reservation)
            _log.error("permit_invalid", code=exc.code, error=exc.message)
            raise

    def _execute_redeemed(self, permit: Permit, reservation: Reservation | None) -> ExecutionReport:
        if permit.intent is OrderIntent.CANCEL:
            self._positions.release(reservation)
            return self._cancel_symbol(permit)
        if permit.intent is OrderIntent.STOP_UPDATE:
            # The new protective order replaces the resting one on the same side.
            self._cancel_resting(permit.correlation_id, permit.symbol, str(permit.side))
        return self._place(permit, reservation)

    def _place(self, permit: Permit, reservation: Reservation | None) -> ExecutionReport:
        sent = self._send(permit, reservation)
        self._record(sent.records)
        return self._after(sent)

    def _send(self, permit: Permit, reservation: Reservation | None) -> _Sent:
        # Place the order; return it with the events to record (nothing recorded yet).
        request = OrderRequest(
            client_order_id=f"tg-{permit.correlation_id}",
            symbol=permit.symbol,
            side=permit.side,
            quantity=permit.quantity,
            order_type=permit.order_type,
            price=permit.price,
            intent=str(permit.intent),
        )
        stop = self._stopped_by_guard()
        if stop is not None:
            self._positions.release(reservation)
            record, report = self._withheld(permit, request, stop)
            return _Sent(permit, reservation, None, [record], report)
        try:
            state = self._exchange.place_order(request)
        except Exception as exc:  # every adapter failure becomes a recorded outcome
            self._positions.release(reservation)
            record, report = self._failed(permit, request, exc)
            return _Sent(permit, reservation, None, [record], report)
        records = [self._event(permit, OrderEvent.SUBMITTED, state)]
        if state.status in _EVENT_OF_STATUS:
            records.append(self._event(permit, _EVENT_OF_STATUS[state.status], state))
        return _Sent(permit, reservation, state, records, None)

    def _after(self, sent: _Sent) -> ExecutionReport:
        # Once the order's events are recorded: positions, resting orders, reconciliation.
        permit, reservation, state = sent.permit, sent.reservation, sent.state
        if state is None:
            return sent.report or ExecutionReport(permit.correlation_id, SignalOutcome.ERROR)
        # An order with nothing left to reconcile is resolved: its fill and the release of
        # its reservation are one step (one transaction on a shared book).
        resolved = not needs_reconciliation(state)
        # A resolved order still open rests on the exchange (a LIMIT waiting for its price):
        # the book is told so after its fill, and decides what of it stays held.
        rests = resolved and not state.status.is_terminal
        self._positions.apply_fill(
            permit.symbol,
            permit.side,
            state.filled_quantity,
            state.average_price,
            reservation=reservation,
            release=resolved and not rests,
        )
        if not state.status.is_terminal:
            with self._lock:
                self._resting[state.order_id] = (permit.symbol, permit.correlation_id)
        if rests:
            remaining = max(state.requested_quantity - state.filled_quantity, Decimal(0))
            self._positions.rest(reservation, state.order_id, permit.symbol, permit.side, remaining)
        if not resolved and not self._reconcile(permit, state, reservation):
            self._positions.release(reservation)
        return ExecutionReport(
            permit.correlation_id, _outcome_of(state), OrderSummary.from_state(state)
        )

    def _reconcile(
        self, permit: Permit, state: OrderState, reservation: Reservation | None
    ) -> bool:
        # True when a reconciliation job took over ``reservation``.
        if not needs_reconciliation(state):
            return False
        job = ReconciliationJob(
            correlation_id=permit.correlation_id,
            symbol=permit.symbol,
            side=permit.side,
            intent=str(permit.intent),
            order_id=state.order_id,
            client_order_id=state.client_order_id,
            requested_quantity=permit.quantity,
            applied_quantity=state.filled_quantity,
            reservation=reservation,
        )
        return self._reconciler.after_order(job, state, self._cancel_remainder)

    def _stopped_by_guard(self) -> str | None:
        guard = self.send_guard
        if guard is None:
            return None
        try:
            return guard()
        except Exception as exc:  # an unreadable kill switch counts as engaged
            _log.error("send_guard_failed", code=ErrorCode.TPP_002.value, error=str(exc))
            return ErrorCode.TPP_002.value

    def _withheld(
        self, permit: Permit, request: OrderRequest, code: str
    ) -> tuple[OrderEventRecord, ExecutionReport]:
        # The decision was recorded, then the guard stopped the order: it never left.
        _log.warning(
            "order_withheld", code=code, correlation_id=permit.correlation_id, symbol=permit.symbol
        )
        details = {"state": "NOT_SENT", "decision_seq": permit.decision_seq}
        record = self._unplaced(permit, request, OrderEvent.REFUSED, code, details)
        return record, ExecutionReport(permit.correlation_id, SignalOutcome.REFUSED, None, (code,))

    def _failed(
        self, permit: Permit, request: OrderRequest, exc: Exception
    ) -> tuple[OrderEventRecord, ExecutionReport]:
        rejected = isinstance(exc, ExchangeRejectedError)
        if rejected:
            code = ErrorCode.EXCHANGE_ORDER_REJECTED.value
        elif isinstance(exc, TradeGuardError):
            code = exc.code
        else:
            code = ErrorCode.EXCHANGE_ERROR.value
        _log.warning(
            "order_failed",
            code=code,
            correlation_id=permit.correlation_id,
            symbol=permit.symbol,
            error=str(exc),
        )
        details = {
            "error": str(exc)[:500],
            "state": "REJECTED" if rejected else "UNKNOWN",
            "decision_seq": permit.decision_seq,
        }
        record = self._unplaced(permit, request, OrderEvent.REJECTED, code, details)
        outcome = SignalOutcome.REJECTED if rejected else SignalOutcome.ERROR
        return record, ExecutionReport(permit.correlation_id, outcome, None, (code,))

    def _unplaced(
        self,
        permit: Permit,
        request: OrderRequest,
        event: OrderEvent,
        code: str,
        details: dict[str, Any],
    ) -> OrderEventRecord:
        # The event of an order that did not reach the exchange's book.
        return OrderEventRecord(
            correlation_id=permit.correlation_id,
            timestamp_utc=self._clock.now(),
            event=event,
            symbol=permit.symbol,
            side=str(permit.side),
            intent=str(permit.intent),
            requested_quantity=permit.quantity,
            price=permit.price,
            exchange=self._exchange.name,
            client_order_id=request.client_order_id,
            code=code,
            details=details,
        )

    def _event(self, permit: Permit, event: OrderEvent, state: OrderState) -> OrderEventRecord:
        return OrderEventRecord(
            correlation_id=permit.correlation_id,
            timestamp_utc=self._clock.now(),
            event=event,
            symbol=permit.symbol,
            side=str(permit.side),
            intent=str(permit.intent),
            requested_quantity=permit.quantity,
            filled_quantity=state.filled_quantity,
            price=state.average_price if state.average_price is not None else permit.price,
            exchange=self._exchange.name,
            exchange_order_id=state.order_id,
            client_order_id=state.client_order_id,
            details={"decision": permit.decision, "decision_seq": permit.decision_seq},
        )

    def _record(self, records: Sequence[OrderEventRecord]) -> None:
        # The order already left: a failed record cannot undo it, so it is logged loudly and
        # the health check of the audit store turns RED on its own.
        if not records:
            return
        try:
            self._audit.record_many(list(records))
        except Exception as exc:
            self._record_failed(records, exc)

    @staticmethod
    def _record_failed(records: Sequence[AuditRecord], exc: Exception) -> None:
        _log.error(
            "order_audit_failed",
            code=ErrorCode.AUD_006.value,
            correlation_id=records[0].correlation_id if records else None,
            error=str(exc),
        )

    # --- cancels ---------------------------------------------------------------------------

    def _cancel_symbol(self, permit: Permit) -> ExecutionReport:
        cancelled = self._cancel_resting(permit.correlation_id, permit.symbol, None)
        summary = OrderSummary.from_state(cancelled[-1]) if cancelled else None
        return ExecutionReport(permit.correlation_id, SignalOutcome.CANCELLED, summary)

    def cancel_all_resting(self, correlation_id: str | None = None) -> list[OrderState]:
        """Cancel every resting order (HALT, kill switch); send nothing new.

        Returns the states of the orders cancelled. Failures are logged, never raised.
        """
        return self._cancel_resting(correlation_id, None, None)

    def _cancel_remainder(self, symbol: str, order_id: str) -> OrderState:
        # Reconciliation ends a market order's unfilled remainder through here.
        state = self._exchange.cancel_order(symbol, order_id)
        with self._lock:
            self._resting.pop(order_id, None)
        self._positions.release_resting(order_id)
        return state

    def _resting_orders(self, symbol: str | None) -> list[tuple[str, str, str | None]]:
        try:
            return [
                (o.symbol, o.order_id, o.side.value) for o in self._exchange.open_orders(symbol)
            ]
        except Exception as exc:  # fall back to the orders this executor placed
            _log.warning("open_orders_failed", code=ErrorCode.EXCHANGE_ERROR.value, error=str(exc))
            with self._lock:
                return [
                    (s, oid, None)
                    for oid, (s, _) in self._resting.items()
                    if symbol is None or s == symbol
                ]

    def _cancel_resting(
        self, correlation_id: str | None, symbol: str | None, side: str | None
    ) -> list[OrderState]:
        cancelled: list[OrderState] = []
        for order_symbol, order_id, order_side in self._resting_orders(symbol):
            if side is not None and order_side is not None and order_side != side:
                continue
            try:
                state = self._exchange.cancel_order(order_symbol, order_id)
            except Exception as exc:  # already gone, or the exchange is down: log, go on
                _log.warning(
                    "cancel_failed",
                    code=getattr(exc, "code", ErrorCode.EXCHANGE_ERROR.value),
                    correlation_id=correlation_id,
                    order_id=order_id,
                    error=str(exc),
                )
                continue
            with self._lock:
                origin = self._resting.pop(order_id, None)
            self._positions.release_resting(order_id)
            cancelled.append(state)
            self._record([self._cancel_event(state, correlation_id, origin)])
        if cancelled:
            _log.info(
                "resting_orders_cancelled",
                correlation_id=correlation_id,
                count=len(cancelled),
            )
        return cancelled

    def _cancel_event(
        self, state: OrderState, correlation_id: str | None, origin: tuple[str, str] | None
    ) -> OrderEventRecord:
        details: dict[str, Any] = {"order_correlation_id": None if origin is None else origin[1]}
        return OrderEventRecord(
            correlation_id=correlation_id or (origin[1] if origin else state.client_order_id),
            timestamp_utc=self._clock.now(),
            event=OrderEvent.CANCELLED,
            symbol=state.symbol,
            side=state.side.value,
            intent=OrderIntent.CANCEL.value,
            requested_quantity=state.requested_quantity,
            filled_quantity=state.filled_quantity,
            price=state.average_price,
            exchange=self._exchange.name,
            exchange_order_id=state.order_id,
            client_order_id=state.client_order_id,
            details=details,
        )


__all__ = ["Executor"]
