"""The venue's symbol rules, read once per symbol and kept (``SymbolRulesCache``).

Rules that were read are kept for the life of the process. Rules that cannot be read are
logged with ``SYMBOL_RULES_UNAVAILABLE`` and answered as None, which the order controls treat
as "refuse new risk" (fail closed); they are asked for again at the next order, but not more
often than every ``retry_seconds``, so an exchange that is down is not hammered from the
order path.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Final

from ..codes import ErrorCode
from ..logging import get_logger
from ..policy import Clock
from ..ports import ExchangeClient, SymbolRules

_log = get_logger(__name__)
DEFAULT_RETRY_SECONDS: Final = 1.0


class SymbolRulesCache:
    """Reads each symbol's rules from the exchange once; thread-safe.

    Args:
        exchange: Where the rules come from (``ExchangeClient.symbol_rules``).
        clock: Monotonic time of the last failed read.
        retry_seconds: How long a failed read is answered as None before asking again.
    """

    def __init__(
        self,
        exchange: ExchangeClient,
        clock: Clock,
        *,
        retry_seconds: float = DEFAULT_RETRY_SECONDS,
    ) -> None:
        self._exchange = exchange
        self._clock = clock
        self._retry = retry_seconds
        self._lock = threading.Lock()
        self._known: dict[str, SymbolRules] = {}
        self._failed_at: dict[str, float] = {}

    def __call__(self, symbol: str) -> SymbolRules | None:
        """Return ``symbol``'s rules, or None when they cannot be read now."""
        with self._lock:
            known = self._known.get(symbol)
            failed_at = self._failed_at.get(symbol)
        if known is not None:
            return known
        if failed_at is not None and self._clock.monotonic() - failed_at < self._retry:
            return None
        return self._load(symbol)

    def _load(self, symbol: str) -> SymbolRules | None:
        try:
            rules = self._exchange.symbol_rules(symbol)
            if not isinstance(rules, SymbolRules) or rules.symbol != symbol:
                raise TypeError(f"the exchange answered {rules!r} for {symbol}")
        except Exception as exc:  # unreadable rules: new risk is refused (fail closed)
            with self._lock:
                self._failed_at[symbol] = self._clock.monotonic()
            _log.warning(
                "symbol_rules_unavailable",
                code=ErrorCode.SYMBOL_RULES_UNAVAILABLE.value,
                symbol=symbol,
                error=str(exc),
            )
            return None
        with self._lock:
            self._known[symbol] = rules
            self._failed_at.pop(symbol, None)
        _log.info(
            "symbol_rules_loaded",
            symbol=symbol,
            quantity_step=str(rules.quantity_step),
            min_quantity=str(rules.min_quantity),
            min_notional=str(rules.min_notional),
            price_tick=str(rules.price_tick),
        )
        return rules

    def warm(self, symbols: Iterable[str]) -> dict[str, SymbolRules | None]:
        """Load the rules of ``symbols`` now (at start); return what each answered."""
        return {symbol: self(symbol) for symbol in symbols}

    def known(self) -> dict[str, SymbolRules]:
        """Return the rules read so far."""
        with self._lock:
            return dict(self._known)


__all__ = ["DEFAULT_RETRY_SECONDS", "SymbolRulesCache"]
