"""A built-in simulated market: a deterministic random walk per symbol, and symbol splitting.

The paper exchange and the exchange simulator price from it. Each symbol's walk is seeded from
the symbol's name (and an optional seed), so the same sequence of calls gives the same prices in
every run, while prices still move from one call to the next.
"""

from __future__ import annotations

import hashlib
import random
import threading
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Final

from ..codes import ErrorCode
from ..errors import InvalidInputError

QUOTE_CURRENCIES: Final[tuple[str, ...]] = ("USDT", "USDC", "ZAR", "USD", "EUR", "BTC", "ETH")
"""Quote currencies recognised when splitting a concatenated symbol like ``BTCUSDT``."""

START_PRICES: Final[dict[str, Decimal]] = {
    "BTCUSDT": Decimal("50000"),
    "ETHUSDT": Decimal("3000"),
    "BTCZAR": Decimal("900000"),
    "ETHZAR": Decimal("55000"),
    "BTCUSDC": Decimal("50000"),
}
"""Where each known symbol's walk starts; other symbols start at 100."""

DEFAULT_START_PRICE: Final = Decimal(100)
_CENT: Final = Decimal("0.01")
_STEP_BPS: Final = 5.0  # standard deviation of one step, in basis points


def split_symbol(symbol: str) -> tuple[str, str]:
    """Split a concatenated symbol such as ``BTCUSDT`` into ``("BTC", "USDT")``.

    Raises:
        InvalidInputError: when no known quote currency ends the symbol.
    """
    upper = symbol.upper()
    for quote in QUOTE_CURRENCIES:
        if upper.endswith(quote) and len(upper) > len(quote):
            return upper[: -len(quote)], quote
    raise InvalidInputError(
        ErrorCode.INPUT_INVALID_VALUE,
        f"cannot split symbol {symbol!r} into base and quote currency",
        field="symbol",
    )


def _seed_for(symbol: str, seed: int) -> int:
    digest = hashlib.sha256(f"{seed}:{symbol}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


class SimulatedMarket:
    """Deterministic-but-moving prices: every ``next_price`` call takes one random-walk step.

    Thread-safe. ``last_price`` reads the current price without moving it.
    """

    def __init__(self, seed: int = 0, start_prices: dict[str, Decimal] | None = None) -> None:
        self._seed = seed
        self._start = dict(START_PRICES if start_prices is None else start_prices)
        self._prices: dict[str, Decimal] = {}
        self._walks: dict[str, random.Random] = {}
        self._lock = threading.Lock()

    def _ensure(self, symbol: str) -> None:
        if symbol not in self._prices:
            self._prices[symbol] = self._start.get(symbol, DEFAULT_START_PRICE)
            self._walks[symbol] = random.Random(_seed_for(symbol, self._seed))

    def next_price(self, symbol: str) -> Decimal:
        """Take one step of ``symbol``'s walk and return the new price."""
        with self._lock:
            self._ensure(symbol)
            step_bps = self._walks[symbol].gauss(0.0, _STEP_BPS)
            factor = Decimal(1) + Decimal(str(round(step_bps, 6))) / Decimal(10000)
            price = (self._prices[symbol] * factor).quantize(_CENT, rounding=ROUND_HALF_EVEN)
            self._prices[symbol] = max(price, _CENT)
            return self._prices[symbol]

    def last_price(self, symbol: str) -> Decimal:
        """Return ``symbol``'s current price without moving it."""
        with self._lock:
            self._ensure(symbol)
            return self._prices[symbol]

    def set_price(self, symbol: str, price: Decimal) -> None:
        """Move ``symbol`` to ``price`` (tests and scenarios); the walk continues from there."""
        with self._lock:
            self._ensure(symbol)
            self._prices[symbol] = price


__all__ = [
    "DEFAULT_START_PRICE",
    "QUOTE_CURRENCIES",
    "START_PRICES",
    "SimulatedMarket",
    "split_symbol",
]
