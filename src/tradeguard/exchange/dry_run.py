"""DRY_RUN isolation: a real adapter for reading, a paper exchange for every order.

``DryRunExchange`` holds the real adapter only to *read* from it (server time, ticker,
balances, symbol rules, and the status of orders it did not place itself). ``place_order`` and
``cancel_order`` never reach it: they go to an internal :class:`PaperExchange` that fills at the
real ticker's price. ``open_orders`` lists the paper orders, since those are the only orders a
DRY_RUN process can have placed and can cancel.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from ..policy import Clock
from ..ports import Balance, ExchangeClient, OrderRequest, OrderState, SymbolRules, Ticker
from .matching import RemainderPolicy
from .paper import PaperExchange


class DryRunExchange:
    """Reads from ``real``; places and cancels on paper priced from ``real``'s ticker.

    Args:
        real: The configured (non-paper) adapter, used read-only.
        clock: The clock of the paper exchange.
        partial_fill_ratio: Paper fill ratio.
        latency_ms: Paper latency.
        quote_balance: Paper starting quote balances.
        partial_fill_remainder: What a status read does with a partial fill's remainder.
    """

    def __init__(
        self,
        real: ExchangeClient,
        clock: Clock,
        *,
        partial_fill_ratio: Decimal = Decimal(1),
        latency_ms: int = 0,
        quote_balance: Decimal = Decimal(100000),
        partial_fill_remainder: RemainderPolicy = RemainderPolicy.FILL,
    ) -> None:
        self._real = real
        self.name = f"dry-run:{real.name}"
        self.paper = PaperExchange(
            clock,
            price_source=lambda symbol: real.ticker(symbol).price,
            partial_fill_ratio=partial_fill_ratio,
            latency_ms=latency_ms,
            quote_balance=quote_balance,
            name=self.name,
            partial_fill_remainder=partial_fill_remainder,
        )

    def server_time(self) -> datetime:
        """Read the real exchange's clock."""
        return self._real.server_time()

    def ticker(self, symbol: str) -> Ticker:
        """Read the real exchange's ticker."""
        return self._real.ticker(symbol)

    def place_order(self, request: OrderRequest) -> OrderState:
        """Fill on paper at the real price; the real exchange never sees the order."""
        return self.paper.place_order(request)

    def cancel_order(self, symbol: str, order_id: str) -> OrderState:
        """Cancel on paper; the real exchange never sees the cancel."""
        return self.paper.cancel_order(symbol, order_id)

    def order_status(self, symbol: str, order_id: str) -> OrderState:
        """Read a paper order's state, or (read-only) the real exchange's for other ids."""
        if self.paper.knows_order(order_id):
            return self.paper.order_status(symbol, order_id)
        return self._real.order_status(symbol, order_id)

    def open_orders(self, symbol: str | None = None) -> list[OrderState]:
        """List the paper orders that are still open."""
        return self.paper.open_orders(symbol)

    def balances(self) -> list[Balance]:
        """Read the real account's balances."""
        return self._real.balances()

    def symbol_rules(self, symbol: str) -> SymbolRules:
        """Read the real exchange's rules: DRY_RUN refuses what LIVE would."""
        return self._real.symbol_rules(symbol)

    def close(self) -> None:
        """Close the real adapter."""
        self._real.close()


__all__ = ["DryRunExchange"]
