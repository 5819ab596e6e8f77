"""The order engine shared by the paper exchange and the exchange simulator.

Fill rules (the same for both):

- A MARKET order, or a LIMIT order that is marketable at the current price (BUY limit at or
  above it, SELL limit at or below it), fills ``quantity * fill_ratio`` (rounded down to 8
  decimals) at the current price as soon as it is placed. A ratio of 1 fills it completely.
- The unfilled remainder of a partial fill waits for the order's next *report*: the first time
  the order's state is read after it was first reported to the client, the remainder is settled
  by the ``RemainderPolicy`` in force when the order was placed: ``FILL`` (default) fills it at
  the then-current price (status FILLED), ``CANCEL`` cancels it as an IOC order would (status
  CANCELLED with the partial quantity filled), ``REST`` leaves it open until it is cancelled or
  ``settle_all`` is called. So a reconciler that polls order status always reaches a terminal
  state with ``FILL`` and ``CANCEL``.
- A LIMIT order that is not marketable rests as NEW; when a later report finds it marketable it
  fills completely.
- Balances move on every fill (no fees, no reservation; balances may go negative, i.e. short).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum
from typing import Final

from ..codes import ErrorCode
from ..errors import ExchangeRejectedError, InvalidInputError
from ..ids import new_order_id
from ..policy import Clock, Side
from ..ports import OrderRequest, OrderState, OrderStatus, OrderType
from .market import split_symbol

QUANTITY_STEP: Final = Decimal("0.00000001")
_ZERO: Final = Decimal(0)
_ONE: Final = Decimal(1)


class RemainderPolicy(StrEnum):
    """What happens to the unfilled remainder of a partial fill at the next report."""

    FILL = "fill"
    CANCEL = "cancel"
    REST = "rest"


@dataclass(frozen=True, slots=True)
class BookOrder:
    """One order as the engine keeps it (a snapshot; the engine replaces it on change)."""

    order_id: str
    number: int
    client_order_id: str
    symbol: str
    side: Side
    order_type: OrderType
    quantity: Decimal
    price: Decimal | None
    status: OrderStatus
    filled: Decimal
    cost: Decimal
    created_at: datetime
    updated_at: datetime
    remainder: RemainderPolicy | None = None
    reports: int = 0
    intent: str | None = None

    @property
    def remaining(self) -> Decimal:
        """Quantity not filled yet."""
        return self.quantity - self.filled

    @property
    def average_price(self) -> Decimal | None:
        """Average fill price, or None before any fill."""
        return (self.cost / self.filled).quantize(QUANTITY_STEP) if self.filled else None

    def to_state(self) -> OrderState:
        """Return the port's view of this order."""
        return OrderState(
            order_id=self.order_id,
            client_order_id=self.client_order_id,
            symbol=self.symbol,
            side=self.side,
            status=self.status,
            requested_quantity=self.quantity,
            filled_quantity=self.filled,
            average_price=self.average_price,
            order_type=self.order_type,
            price=self.price,
        )


def _marketable(side: Side, limit: Decimal | None, price: Decimal) -> bool:
    if limit is None:
        return True
    return limit >= price if side is Side.BUY else limit <= price


def _not_found(order_id: str) -> ExchangeRejectedError:
    return ExchangeRejectedError(ErrorCode.EXCHANGE_ORDER_NOT_FOUND, f"unknown order {order_id}")


class MatchingEngine:
    """Keeps orders and balances and applies the fill rules above. Thread-safe."""

    def __init__(
        self,
        clock: Clock,
        price_of: Callable[[str], Decimal],
        balances: Mapping[str, Decimal] | None = None,
    ) -> None:
        self._clock = clock
        self._price_of = price_of
        self._orders: dict[str, BookOrder] = {}
        self._numbers: dict[int, str] = {}
        self._balances: dict[str, Decimal] = dict(balances or {})
        self._pairs: dict[str, tuple[str, str]] = {}
        self._lock = threading.RLock()

    # --- placing ---------------------------------------------------------------------------

    def place(
        self,
        request: OrderRequest,
        *,
        fill_ratio: Decimal = Decimal(1),
        remainder: RemainderPolicy = RemainderPolicy.FILL,
        reported: bool = True,
    ) -> BookOrder:
        """Accept ``request``, fill what the rules say and return the order.

        ``reported`` says whether the answer to the client carries the order's state (so the
        next read settles a partial fill's remainder).
        """
        if request.quantity <= 0:
            raise ExchangeRejectedError(ErrorCode.EXCHANGE_ORDER_REJECTED, "quantity must be > 0")
        if request.order_type is OrderType.LIMIT and (request.price is None or request.price <= 0):
            raise ExchangeRejectedError(
                ErrorCode.EXCHANGE_ORDER_REJECTED, "a LIMIT order needs a positive price"
            )
        pair = self._pair(request.symbol)
        limit = request.price if request.order_type is OrderType.LIMIT else None
        with self._lock:
            now = self._clock.now()
            price = self._price_of(request.symbol)
            filled = cost = _ZERO
            status = OrderStatus.NEW
            rest: RemainderPolicy | None = None
            if _marketable(request.side, limit, price):
                # The fill rules of _fill, computed before the order is built (placing is hot).
                ratio = min(max(fill_ratio, _ZERO), _ONE)
                amount = (request.quantity * ratio).quantize(QUANTITY_STEP, rounding=ROUND_DOWN)
                if amount > 0:
                    self._move_balances(pair, request.side, amount, price)
                    filled, cost = amount, amount * price
                    status = (
                        OrderStatus.FILLED
                        if filled >= request.quantity
                        else OrderStatus.PARTIALLY_FILLED
                    )
                if request.quantity - filled > 0:
                    rest = remainder
            order = BookOrder(
                order_id=new_order_id(),
                number=len(self._orders) + 1,
                client_order_id=request.client_order_id,
                symbol=request.symbol,
                side=request.side,
                order_type=request.order_type,
                quantity=request.quantity,
                price=limit,
                status=status,
                filled=filled,
                cost=cost,
                created_at=now,
                updated_at=now,
                remainder=rest,
                reports=1 if reported else 0,
                intent=request.intent,
            )
            self._store(order)
            return order

    def _pair(self, symbol: str) -> tuple[str, str]:
        pair = self._pairs.get(symbol)
        if pair is None:
            try:
                pair = split_symbol(symbol)
            except InvalidInputError as exc:
                raise ExchangeRejectedError(ErrorCode.EXCHANGE_ORDER_REJECTED, exc.message) from exc
            self._pairs[symbol] = pair
        return pair

    def _move_balances(
        self, pair: tuple[str, str], side: Side, amount: Decimal, price: Decimal
    ) -> None:
        base, quote = pair
        signed = amount if side is Side.BUY else -amount
        self._balances[base] = self._balances.get(base, _ZERO) + signed
        self._balances[quote] = self._balances.get(quote, _ZERO) - signed * price

    # --- reading and settling --------------------------------------------------------------

    def report(self, order_id: str) -> BookOrder:
        """Return the order's state as a status read sees it, settling what is due first."""
        with self._lock:
            order = self._get(order_id)
            if order.status.is_terminal:
                return order
            if order.remainder is not None and order.reports >= 1:
                order = self._settle(order, order.remainder)
            elif order.remainder is None and order.status is OrderStatus.NEW:
                price = self._price_of(order.symbol)
                if _marketable(order.side, order.price, price):
                    order = self._fill(order, order.remaining, price)
            order = replace(order, reports=order.reports + 1)
            self._store(order)
            return order

    def peek(self, order_id: str) -> BookOrder:
        """Return the order without counting a report."""
        with self._lock:
            return self._get(order_id)

    def settle_all(self) -> list[BookOrder]:
        """Fill every open order's remainder now (even ``REST`` ones); return those changed."""
        changed = []
        with self._lock:
            for order in list(self._orders.values()):
                if order.status.is_terminal:
                    continue
                price = self._price_of(order.symbol)
                if order.remainder is None and not _marketable(order.side, order.price, price):
                    continue
                settled = self._fill(order, order.remaining, price)
                self._store(settled)
                changed.append(settled)
        return changed

    def cancel(self, order_id: str) -> BookOrder:
        """Cancel an open order; a terminal one raises ``EXCHANGE_ORDER_NOT_FOUND``."""
        with self._lock:
            order = self._get(order_id)
            if order.status.is_terminal:
                raise _not_found(order_id)
            order = replace(
                order, status=OrderStatus.CANCELLED, remainder=None, updated_at=self._clock.now()
            )
            self._store(order)
            return order

    def open_orders(self, symbol: str | None = None) -> list[BookOrder]:
        """Return orders that are not terminal, oldest first."""
        with self._lock:
            return [
                o
                for o in self._orders.values()
                if not o.status.is_terminal and (symbol is None or o.symbol == symbol)
            ]

    def find(self, order_id: str) -> BookOrder | None:
        """Return the order with this id, or number, or client order id; None if unknown."""
        with self._lock:
            if order_id in self._orders:
                return self._orders[order_id]
            if order_id.isdigit() and int(order_id) in self._numbers:
                return self._orders[self._numbers[int(order_id)]]
            for order in self._orders.values():
                if order.client_order_id == order_id:
                    return order
            return None

    def balances(self) -> dict[str, Decimal]:
        """Return a copy of the balances."""
        with self._lock:
            return dict(self._balances)

    # --- internals -------------------------------------------------------------------------

    def _get(self, order_id: str) -> BookOrder:
        order = self.find(order_id)
        if order is None:
            raise _not_found(order_id)
        return order

    def _store(self, order: BookOrder) -> None:
        self._orders[order.order_id] = order
        self._numbers[order.number] = order.order_id

    def _settle(self, order: BookOrder, policy: RemainderPolicy) -> BookOrder:
        if policy is RemainderPolicy.REST:
            return order
        if policy is RemainderPolicy.CANCEL:
            return replace(
                order, status=OrderStatus.CANCELLED, remainder=None, updated_at=self._clock.now()
            )
        return self._fill(order, order.remaining, self._price_of(order.symbol))

    def _fill(self, order: BookOrder, amount: Decimal, price: Decimal) -> BookOrder:
        if amount <= 0:
            return order
        self._move_balances(self._pair(order.symbol), order.side, amount, price)
        filled = order.filled + amount
        status = OrderStatus.FILLED if filled >= order.quantity else OrderStatus.PARTIALLY_FILLED
        return replace(
            order,
            filled=filled,
            cost=order.cost + amount * price,
            status=status,
            remainder=None if status is OrderStatus.FILLED else order.remainder,
            updated_at=self._clock.now(),
        )


__all__ = ["QUANTITY_STEP", "BookOrder", "MatchingEngine", "RemainderPolicy"]
