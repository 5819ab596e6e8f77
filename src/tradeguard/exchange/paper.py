"""The paper exchange: the DRY_RUN default. Simulated fills at the current price, no network.

Fill rules are the shared ones of :mod:`tradeguard.exchange.matching`: a partial fill's
remainder settles on the order's next ``order_status`` read (``partial_fill_remainder``:
fill, cancel or rest), or at once when :meth:`PaperExchange.advance_fills` is called.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal

from ..codes import ErrorCode
from ..errors import ExchangeUnavailableError
from ..policy import Clock
from ..ports import Balance, OrderRequest, OrderState, SymbolRules, Ticker
from .market import QUOTE_CURRENCIES, SimulatedMarket
from .matching import MatchingEngine, RemainderPolicy

PAPER_QUANTITY_STEP = Decimal("0.00000001")


def paper_rules(symbol: str) -> SymbolRules:
    """Return the paper exchange's default rules: fine steps, a minimum order of 1 quote unit.

    Quantity step and minimum 0.00000001 (8 decimals, as most crypto venues), minimum notional
    1 (quote currency) and price tick 0.01 (the built-in market's prices are in cents).
    """
    return SymbolRules(
        symbol=symbol,
        quantity_step=PAPER_QUANTITY_STEP,
        min_quantity=PAPER_QUANTITY_STEP,
        min_notional=Decimal(1),
        price_tick=Decimal("0.01"),
    )


class PaperExchange:
    """Simulated exchange with tracked balances; thread-safe.

    Args:
        clock: Where timestamps come from (ticker time and server time are ``clock.now()``).
        price_source: Returns the current price of a symbol; by default a built-in
            :class:`SimulatedMarket` random walk (one step per call).
        partial_fill_ratio: Fraction of each order filled at placement (0 < ratio <= 1).
        latency_ms: Added real delay per call.
        quote_balance: Starting balance of every quote currency (USDT, USDC, ZAR, ...).
        name: The adapter's name.
        partial_fill_remainder: What the next status read does with a partial fill's remainder.
        balances: Starting balances; replaces the quote-currency default when given.
        symbol_rules: Rules per symbol that ``symbol_rules`` answers; symbols not named get
            :func:`paper_rules`.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        price_source: Callable[[str], Decimal] | None = None,
        partial_fill_ratio: Decimal = Decimal(1),
        latency_ms: int = 0,
        quote_balance: Decimal = Decimal(100000),
        name: str = "paper",
        partial_fill_remainder: RemainderPolicy = RemainderPolicy.FILL,
        balances: Mapping[str, Decimal] | None = None,
        symbol_rules: Mapping[str, SymbolRules] | None = None,
    ) -> None:
        if not Decimal(0) < partial_fill_ratio <= Decimal(1):
            raise ValueError("partial_fill_ratio must be in (0, 1]")
        self.name = name
        self._clock = clock
        self._market = SimulatedMarket() if price_source is None else None
        self._price_source = price_source
        self._latency_s = max(latency_ms, 0) / 1000
        # Placing an order is an in-process call only with the built-in market or a given
        # price function and no simulated latency; callers may then batch orders.
        self.in_process = self._latency_s == 0
        self.partial_fill_ratio = partial_fill_ratio
        self.partial_fill_remainder = partial_fill_remainder
        start = (
            dict(balances)
            if balances is not None
            else {quote: quote_balance for quote in QUOTE_CURRENCIES[:4]}
        )
        self._engine = MatchingEngine(clock, self._last_price, start)
        self._rules = dict(symbol_rules or {})

    # --- pricing ---------------------------------------------------------------------------

    def _current_price(self, symbol: str) -> Decimal:
        if self._price_source is not None:
            price = self._price_source(symbol)
        elif self._market is not None:
            price = self._market.next_price(symbol)
        else:  # pragma: no cover - one of the two is always set
            raise ExchangeUnavailableError(ErrorCode.EXCHANGE_ERROR, "no price source")
        if price <= 0:
            raise ExchangeUnavailableError(
                ErrorCode.EXCHANGE_BAD_RESPONSE, f"price source gave {price} for {symbol}"
            )
        return price

    def _last_price(self, symbol: str) -> Decimal:
        # Fills take a fresh price, so an order fills at the market as it is now.
        return self._current_price(symbol)

    def _delay(self) -> None:
        if self._latency_s:
            time.sleep(self._latency_s)

    # --- ExchangeClient --------------------------------------------------------------------

    def server_time(self) -> datetime:
        """Return ``clock.now()``."""
        self._delay()
        return self._clock.now()

    def ticker(self, symbol: str) -> Ticker:
        """Return the current price of ``symbol`` stamped with ``clock.now()``."""
        self._delay()
        return Ticker(
            symbol=symbol, price=self._current_price(symbol), timestamp_utc=self._clock.now()
        )

    def place_order(self, request: OrderRequest) -> OrderState:
        """Fill ``request`` by the shared fill rules and return its state after placement."""
        self._delay()
        order = self._engine.place(
            request,
            fill_ratio=self.partial_fill_ratio,
            remainder=self.partial_fill_remainder,
        )
        return order.to_state()

    def cancel_order(self, symbol: str, order_id: str) -> OrderState:
        """Cancel an open order; a terminal or unknown one raises ``ExchangeRejectedError``."""
        self._delay()
        return self._engine.cancel(order_id).to_state()

    def order_status(self, symbol: str, order_id: str) -> OrderState:
        """Return the order's state, settling a partial fill's remainder when due."""
        self._delay()
        return self._engine.report(order_id).to_state()

    def open_orders(self, symbol: str | None = None) -> list[OrderState]:
        """Return the orders that are not terminal."""
        self._delay()
        return [order.to_state() for order in self._engine.open_orders(symbol)]

    def balances(self) -> list[Balance]:
        """Return every tracked currency (available equals total: nothing is reserved)."""
        self._delay()
        return [
            Balance(currency=currency, available=amount, total=amount)
            for currency, amount in sorted(self._engine.balances().items())
        ]

    def symbol_rules(self, symbol: str) -> SymbolRules:
        """Return the configured rules of ``symbol``, else :func:`paper_rules`."""
        return self._rules.get(symbol) or paper_rules(symbol)

    def close(self) -> None:
        """Nothing to release."""

    # --- test and scenario helpers ---------------------------------------------------------

    def advance_fills(self) -> list[OrderState]:
        """Fill every open remainder (and marketable resting limit) now; return what changed."""
        return [order.to_state() for order in self._engine.settle_all()]

    def knows_order(self, order_id: str) -> bool:
        """Return True when ``order_id`` was placed on this paper exchange."""
        return self._engine.find(order_id) is not None


__all__ = ["PAPER_QUANTITY_STEP", "PaperExchange", "RemainderPolicy", "paper_rules"]
