"""Start from the exchange's truth: adopt resting orders, reconcile with the audit trail.

Before the first signal is decided, the service reads the account (balances and open orders)
and hands them here:

- every order resting on the exchange joins the executor's resting orders and holds its
  unfilled quantity in the position book, so the open-orders and exposure caps count orders an
  earlier process left (``START_RESTING_ORDERS_ADOPTED``);
- the audit trail's last known state is compared with the exchange's: an order the trail
  last saw resting that the exchange no longer lists, an order resting on the exchange that the
  trail does not know, and a long position larger than the account's balance of its base
  currency are each a mismatch, recorded in ``order_audit`` as ``RECONCILED`` with code
  ``START_POSITION_MISMATCH`` and logged, the way reconciliation records its results.

Positions are not rebuilt from the trail here: the position book starts flat as it always has.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from ..audit.records import AuditTable, OrderEvent, OrderEventRecord
from ..codes import ErrorCode
from ..ids import new_correlation_id
from ..logging import get_logger
from ..policy import Clock, OrderIntent
from ..ports import AuditStore, Balance, OrderState
from .executor import Executor

_log = get_logger("tradeguard.execution.startup")
_ZERO: Final = Decimal(0)
_TERMINAL: Final = frozenset(
    {
        OrderEvent.FILLED.value,
        OrderEvent.CANCELLED.value,
        OrderEvent.REJECTED.value,
        OrderEvent.RECONCILED.value,
    }
)


@dataclass(frozen=True, slots=True)
class Mismatch:
    """One difference between the exchange and the audit trail at start."""

    kind: str
    symbol: str
    detail: str
    exchange_order_id: str | None = None


@dataclass(frozen=True, slots=True)
class StartReport:
    """What the start from the exchange's truth found."""

    resting_orders: int
    adopted: int
    positions: dict[str, Decimal] = field(default_factory=dict)
    mismatches: tuple[Mismatch, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready data."""
        return {
            "resting_orders": self.resting_orders,
            "adopted": self.adopted,
            "positions": {symbol: str(q) for symbol, q in sorted(self.positions.items())},
            "mismatches": [
                {
                    "kind": m.kind,
                    "symbol": m.symbol,
                    "detail": m.detail,
                    "exchange_order_id": m.exchange_order_id,
                }
                for m in self.mismatches
            ],
        }


@dataclass(slots=True)
class _TrailOrder:
    symbol: str
    side: str
    filled: Decimal
    last_event: str


def _decimal(value: object) -> Decimal:
    return Decimal(str(value)) if value is not None else _ZERO


def trail_orders(rows: Iterable[dict[str, Any]]) -> dict[str, _TrailOrder]:
    """Fold ``order_audit`` rows into each exchange order's last event and largest fill."""
    orders: dict[str, _TrailOrder] = {}
    for row in rows:
        order_id = row.get("exchange_order_id")
        if not order_id or (
            row.get("intent") == OrderIntent.CANCEL.value and order_id not in orders
        ):
            continue
        known = orders.get(str(order_id))
        filled = _decimal(row.get("filled_quantity"))
        if known is None:
            orders[str(order_id)] = _TrailOrder(
                str(row.get("symbol")), str(row.get("side")), filled, str(row.get("event"))
            )
            continue
        known.filled = max(known.filled, filled)
        known.last_event = str(row.get("event"))
    return orders


def trail_positions(orders: dict[str, _TrailOrder]) -> dict[str, Decimal]:
    """Return the signed position per symbol that the trail's fills add up to."""
    positions: dict[str, Decimal] = {}
    for order in orders.values():
        signed = order.filled if order.side == "BUY" else -order.filled
        positions[order.symbol] = positions.get(order.symbol, _ZERO) + signed
    return {symbol: q for symbol, q in positions.items() if q != _ZERO}


def _base_balance(symbol: str, balances: Sequence[Balance]) -> Decimal | None:
    matches = [
        b for b in balances if b.currency and symbol.startswith(b.currency) and b.currency != symbol
    ]
    return max(matches, key=lambda b: len(b.currency)).total if matches else None


def find_mismatches(
    trail: dict[str, _TrailOrder],
    open_orders: Sequence[OrderState],
    balances: Sequence[Balance],
) -> list[Mismatch]:
    """Return every difference between the trail's last known state and the exchange's."""
    open_ids = {order.order_id for order in open_orders}
    found = [
        Mismatch(
            "ORDER_NO_LONGER_RESTING",
            order.symbol,
            f"the trail last saw it {order.last_event}; the exchange no longer lists it open",
            order_id,
        )
        for order_id, order in trail.items()
        if order.last_event not in _TERMINAL and order_id not in open_ids
    ]
    found += [
        Mismatch(
            "ORDER_UNKNOWN_TO_TRAIL",
            order.symbol,
            f"resting {order.side.value} {order.requested_quantity} not in the audit trail",
            order.order_id,
        )
        for order in open_orders
        if order.order_id not in trail
    ]
    for symbol, quantity in sorted(trail_positions(trail).items()):
        base = _base_balance(symbol, balances)
        if quantity > _ZERO and base is not None and base < quantity:
            found.append(
                Mismatch(
                    "POSITION_ABOVE_BALANCE",
                    symbol,
                    f"the trail's position {quantity} is above the account's balance {base}",
                )
            )
    return found


def start_from_exchange(
    *,
    open_orders: Sequence[OrderState],
    balances: Sequence[Balance],
    executor: Executor,
    audit: AuditStore,
    clock: Clock,
    exchange_name: str,
) -> StartReport:
    """Adopt the exchange's resting orders and record how it differs from the audit trail.

    Raises:
        AuditUnavailableError: the trail cannot be read or a mismatch cannot be recorded.
    """
    adopted = executor.adopt_resting(open_orders)
    if open_orders:
        _log.warning(
            "resting_orders_adopted",
            code=ErrorCode.START_RESTING_ORDERS_ADOPTED.value,
            resting=len(open_orders),
            adopted=adopted,
        )
    trail = trail_orders(audit.rows(AuditTable.ORDER))
    mismatches = find_mismatches(trail, open_orders, balances)
    correlation_id = new_correlation_id()
    records = [_record(m, correlation_id, clock, exchange_name) for m in mismatches]
    if records:
        audit.record_many(list(records))
    for mismatch in mismatches:
        _log.warning(
            "start_position_mismatch",
            code=ErrorCode.START_POSITION_MISMATCH.value,
            correlation_id=correlation_id,
            kind=mismatch.kind,
            symbol=mismatch.symbol,
            order_id=mismatch.exchange_order_id,
            detail=mismatch.detail,
        )
    return StartReport(len(open_orders), adopted, trail_positions(trail), tuple(mismatches))


def _record(
    mismatch: Mismatch, correlation_id: str, clock: Clock, exchange_name: str
) -> OrderEventRecord:
    return OrderEventRecord(
        correlation_id=correlation_id,
        timestamp_utc=clock.now(),
        event=OrderEvent.RECONCILED,
        symbol=mismatch.symbol,
        side="",
        intent="START",
        requested_quantity=_ZERO,
        exchange=exchange_name,
        exchange_order_id=mismatch.exchange_order_id,
        code=ErrorCode.START_POSITION_MISMATCH.value,
        details={"kind": mismatch.kind, "detail": mismatch.detail},
    )


__all__ = [
    "Mismatch",
    "StartReport",
    "find_mismatches",
    "start_from_exchange",
    "trail_orders",
    "trail_positions",
]
