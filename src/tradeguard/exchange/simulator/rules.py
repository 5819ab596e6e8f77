"""The symbol rules the simulator enforces like the real venues, and what it serves of them.

VALR (``GET /v1/public/pairs``) truncates a quantity to ``baseDecimalPlaces`` and refuses an
order under ``minBaseAmount`` or ``minQuoteAmount`` (code -12007, "Minimum order size not met")
or a price off ``tickSize``. Binance (``exchangeInfo`` filters ``LOT_SIZE``, ``PRICE_FILTER``,
``NOTIONAL``) refuses an off-step quantity, an off-tick price or a small order with -1013
"Filter failure: <filter>". The notional of a MARKET order is valued at the current price.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from enum import StrEnum
from typing import Any, Final

from ...ports import SymbolRules
from ..market import split_symbol
from .protocol import dec

_STEP: Final = Decimal("0.00000001")
BASE_DECIMAL_PLACES: Final = 8


def _rules(symbol: str, minimum: str, notional: str, tick: str) -> SymbolRules:
    return SymbolRules(symbol, _STEP, Decimal(minimum), Decimal(notional), Decimal(tick))


SIMULATED_RULES: Final[dict[str, SymbolRules]] = {
    "BTCUSDT": _rules("BTCUSDT", "0.00001", "1", "0.01"),
    "ETHUSDT": _rules("ETHUSDT", "0.0001", "1", "0.01"),
    "BTCZAR": _rules("BTCZAR", "0.00001", "10", "1"),
    "ETHZAR": _rules("ETHZAR", "0.0001", "10", "1"),
    "BTCUSDC": _rules("BTCUSDC", "0.00001", "1", "0.01"),
}
"""The rules of every symbol the simulator lists (8 decimal places everywhere)."""


class RuleViolation(StrEnum):
    """Which rule an order breaks, named by Binance's filter."""

    LOT_SIZE = "LOT_SIZE"
    PRICE_FILTER = "PRICE_FILTER"
    NOTIONAL = "NOTIONAL"


def violation(
    rules: SymbolRules, quantity: Decimal, price: Decimal | None, value_price: Decimal
) -> RuleViolation | None:
    """Return the first rule ``quantity`` at ``price`` breaks, or None.

    ``value_price`` values the order for the minimum notional: the limit price of a LIMIT
    order, the current price of a MARKET one.
    """
    if quantity % rules.quantity_step != 0 or quantity < rules.min_quantity:
        return RuleViolation.LOT_SIZE
    if price is not None and price % rules.price_tick != 0:
        return RuleViolation.PRICE_FILTER
    if quantity * value_price < rules.min_notional:
        return RuleViolation.NOTIONAL
    return None


def truncate(rules: SymbolRules, quantity: Decimal) -> Decimal:
    """Return ``quantity`` truncated to the step, as VALR does with ``baseDecimalPlaces``."""
    return (quantity / rules.quantity_step).to_integral_value(ROUND_DOWN) * rules.quantity_step


def valr_pair(rules: SymbolRules) -> dict[str, Any]:
    """Return ``rules`` as one entry of VALR's ``GET /v1/public/pairs``."""
    base, quote = split_symbol(rules.symbol)
    return {
        "symbol": rules.symbol,
        "baseCurrency": base,
        "quoteCurrency": quote,
        "shortName": f"{base}/{quote}",
        "active": True,
        "minBaseAmount": dec(rules.min_quantity),
        "maxBaseAmount": "1000000",
        "minQuoteAmount": dec(rules.min_notional),
        "maxQuoteAmount": "100000000000",
        "tickSize": dec(rules.price_tick),
        "baseDecimalPlaces": str(BASE_DECIMAL_PLACES),
        "marginTradingAllowed": False,
        "currencyPairType": "SPOT",
    }


def binance_filters(rules: SymbolRules) -> list[dict[str, str]]:
    """Return ``rules`` as Binance ``exchangeInfo`` filters."""
    return [
        {
            "filterType": "PRICE_FILTER",
            "minPrice": dec(rules.price_tick),
            "maxPrice": "100000000.00",
            "tickSize": dec(rules.price_tick),
        },
        {
            "filterType": "LOT_SIZE",
            "minQty": dec(rules.min_quantity),
            "maxQty": "9000000.00000000",
            "stepSize": dec(rules.quantity_step),
        },
        {
            "filterType": "NOTIONAL",
            "minNotional": dec(rules.min_notional),
            "maxNotional": "9000000000.00",
        },
    ]


__all__ = [
    "BASE_DECIMAL_PLACES",
    "SIMULATED_RULES",
    "RuleViolation",
    "binance_filters",
    "truncate",
    "valr_pair",
    "violation",
]
