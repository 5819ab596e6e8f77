"""The simulator's state shared by both API dialects: market, orders, balances, faults."""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from ...errors import ExchangeRejectedError
from ...policy import Clock, format_utc
from ...ports import OrderRequest
from ..market import SimulatedMarket
from ..matching import BookOrder, MatchingEngine
from .faults import SimulatorFaults

KNOWN_SYMBOLS: Final[tuple[str, ...]] = ("BTCUSDT", "ETHUSDT", "BTCZAR", "ETHZAR", "BTCUSDC")
DEFAULT_BALANCES: Final[dict[str, Decimal]] = {
    "BTC": Decimal(10),
    "ETH": Decimal(100),
    "USDT": Decimal(1000000),
    "USDC": Decimal(1000000),
    "ZAR": Decimal(10000000),
}


@dataclass(frozen=True, slots=True)
class AcceptedOrder:
    """An order the simulator accepted, with the (true, unskewed) UTC time it arrived."""

    arrived_at: datetime
    dialect: str
    order_id: str
    client_order_id: str
    symbol: str
    side: str
    order_type: str
    quantity: Decimal
    price: Decimal | None
    intent: str | None

    def to_json(self) -> dict[str, Any]:
        """Return the JSON shape ``GET /_sim/orders`` lists."""
        return {
            "arrived_at": format_utc(self.arrived_at),
            "dialect": self.dialect,
            "order_id": self.order_id,
            "client_order_id": self.client_order_id,
            "symbol": self.symbol,
            "side": self.side,
            "order_type": self.order_type,
            "quantity": str(self.quantity),
            "price": None if self.price is None else str(self.price),
            "intent": self.intent,
        }


class OrderRefusedError(Exception):
    """The simulator refuses an order (the dialect renders it as its own error answer)."""


class SimulatorState:
    """Market, order engine, balances, faults and the accepted-order log; thread-safe."""

    def __init__(self, clock: Clock, *, seed: int = 0) -> None:
        self.clock = clock
        self.market = SimulatedMarket(seed=seed)
        self.engine = MatchingEngine(clock, self.market.last_price, DEFAULT_BALANCES)
        self._faults = SimulatorFaults()
        self._faults_set_at = clock.now()
        self._frozen_prices: dict[str, Decimal] = {}
        self._accepted: list[AcceptedOrder] = []
        self._lock = threading.Lock()

    # --- faults ----------------------------------------------------------------------------

    @property
    def faults(self) -> SimulatorFaults:
        """The faults in force."""
        with self._lock:
            return self._faults

    def set_faults(self, faults: SimulatorFaults) -> None:
        """Replace every fault with ``faults``."""
        with self._lock:
            self._faults = faults
            self._faults_set_at = self.clock.now()
            self._frozen_prices = {}

    # --- clock and market ------------------------------------------------------------------

    def exchange_now(self) -> datetime:
        """Return the exchange's (possibly skewed) clock."""
        return self.clock.now() + timedelta(milliseconds=self.faults.clock_skew_ms)

    def ticker(self, symbol: str) -> tuple[Decimal, datetime]:
        """Return the price and the exchange's timestamp of ``symbol``'s ticker."""
        with self._lock:
            frozen = self._faults.ticker_frozen_seconds
            skew = timedelta(milliseconds=self._faults.clock_skew_ms)
            if frozen is not None:
                stamp = self._faults_set_at + skew - timedelta(seconds=frozen)
                price = self._frozen_prices.setdefault(symbol, self.market.last_price(symbol))
                return price, stamp
        return self.market.next_price(symbol), self.clock.now() + skew

    # --- orders ----------------------------------------------------------------------------

    def place(self, request: OrderRequest, *, dialect: str, reported: bool) -> BookOrder:
        """Accept ``request`` unless faults or checks refuse it; log it as accepted.

        Raises:
            OrderRefusedError: when ``reject_orders`` is set or the order is invalid.
        """
        faults = self.faults
        if faults.reject_orders:
            raise OrderRefusedError("order rejected by the simulator (reject_orders fault)")
        arrived = self.clock.now()
        try:
            order = self.engine.place(
                request,
                fill_ratio=faults.partial_fill_ratio or Decimal(1),
                remainder=faults.partial_fill_remainder,
                reported=reported,
            )
        except ExchangeRejectedError as exc:
            raise OrderRefusedError(exc.message) from exc
        accepted = AcceptedOrder(
            arrived_at=arrived,
            dialect=dialect,
            order_id=order.order_id if dialect == "valr" else str(order.number),
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side.value,
            order_type=order.order_type.value,
            quantity=order.quantity,
            price=order.price,
            intent=request.intent,
        )
        with self._lock:
            self._accepted.append(accepted)
        return order

    def accepted_orders(self) -> list[AcceptedOrder]:
        """Return every order accepted so far, oldest first."""
        with self._lock:
            return list(self._accepted)

    def clear_accepted(self) -> None:
        """Forget the accepted-order log (orders and balances stay)."""
        with self._lock:
            self._accepted.clear()

    def exchange_time_of(self, order: BookOrder) -> BookOrder:
        """Return ``order`` with its timestamps on the exchange's (skewed) clock."""
        skew = timedelta(milliseconds=self.faults.clock_skew_ms)
        return replace(
            order, created_at=order.created_at + skew, updated_at=order.updated_at + skew
        )


__all__ = [
    "DEFAULT_BALANCES",
    "KNOWN_SYMBOLS",
    "AcceptedOrder",
    "OrderRefusedError",
    "SimulatorState",
]
