"""The Binance spot market-data routes a trading bot such as freqtrade reads before it trades.

Routes (all public, unsigned): ``GET /api/v3/klines`` (candles), ``GET /api/v3/depth`` (order
book), ``GET /api/v3/ticker/bookTicker``, ``GET /api/v3/ticker/price`` and
``GET /api/v3/ticker/24hr`` without a ``symbol`` (every symbol's ticker as a list).

Candles are made up on request from the simulated market's current price: every candle is flat
at that price with a volume of 1, aligned to the interval on the exchange's clock, the newest
one still open. They are enough for a bot to load history and act on its latest candle; they do
not replay the random walk. The order book has ten levels a tick apart around the same price.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from ..parsing import to_epoch_ms
from .protocol import SimReply, SimRequest, dec, json_reply
from .state import KNOWN_SYMBOLS, SimulatorState

_UNIT_MS: Final[dict[str, int]] = {
    "s": 1_000,
    "m": 60_000,
    "h": 3_600_000,
    "d": 86_400_000,
    "w": 604_800_000,
}
DEFAULT_KLINE_LIMIT: Final = 500
MAX_KLINE_LIMIT: Final = 1000
BOOK_LEVELS: Final = 10
_TICK: Final = Decimal("0.01")
_BAD_SYMBOL: Final = json_reply(400, {"code": -1121, "msg": "Invalid symbol."})
_ROUTES: Final = frozenset(
    {"/api/v3/klines", "/api/v3/depth", "/api/v3/ticker/bookTicker", "/api/v3/ticker/price"}
)


def interval_ms(interval: str | None) -> int | None:
    """Return the length of a Binance kline interval (``1m``, ``4h``, ``1d``) in ms, or None."""
    if not interval or interval[-1] not in _UNIT_MS or not interval[:-1].isdigit():
        return None
    count = int(interval[:-1])
    return count * _UNIT_MS[interval[-1]] if count > 0 else None


def _int_param(request: SimRequest, name: str) -> int | None:
    text = request.query.get(name)
    return int(text) if text is not None and text.isdigit() else None


def market_data_reply(state: SimulatorState, request: SimRequest) -> SimReply | None:
    """Answer a market-data request, or return None when ``request`` is not one of these routes."""
    if request.method != "GET":
        return None
    path, symbol = request.path, request.query.get("symbol")
    if path == "/api/v3/ticker/24hr" and symbol is None:
        return json_reply(200, [_listed_ticker(state, known) for known in KNOWN_SYMBOLS])
    if path not in _ROUTES:
        return None
    if symbol is None and path in ("/api/v3/ticker/bookTicker", "/api/v3/ticker/price"):
        symbols: tuple[str, ...] = KNOWN_SYMBOLS
        rows = [_book_ticker(state, s) if "book" in path else _price(state, s) for s in symbols]
        return json_reply(200, rows)
    if symbol not in KNOWN_SYMBOLS:
        return _BAD_SYMBOL
    if path == "/api/v3/klines":
        return _klines(state, request, symbol)
    if path == "/api/v3/depth":
        return json_reply(200, _depth(state, symbol, _int_param(request, "limit")))
    if path == "/api/v3/ticker/bookTicker":
        return json_reply(200, _book_ticker(state, symbol))
    return json_reply(200, _price(state, symbol))


def _klines(state: SimulatorState, request: SimRequest, symbol: str) -> SimReply:
    step = interval_ms(request.query.get("interval"))
    if step is None:
        return json_reply(400, {"code": -1120, "msg": "Invalid interval."})
    limit = min(_int_param(request, "limit") or DEFAULT_KLINE_LIMIT, MAX_KLINE_LIMIT)
    now_ms = to_epoch_ms(state.exchange_now())
    newest = now_ms - now_ms % step
    start = _int_param(request, "startTime")
    end = _int_param(request, "endTime")
    first = newest - (limit - 1) * step if start is None else start + (-start) % step
    last = min(newest, end - end % step if end is not None else newest)
    price = dec(state.market.last_price(symbol))
    candles: list[list[Any]] = []
    opened = first
    while opened <= last and len(candles) < limit:
        close_time = opened + step - 1
        candles.append(
            [opened, price, price, price, price, "1", close_time, price, 1, "0", "0", "0"]
        )
        opened += step
    return json_reply(200, candles)


def _depth(state: SimulatorState, symbol: str, limit: int | None) -> dict[str, Any]:
    levels = max(1, min(limit or BOOK_LEVELS, BOOK_LEVELS))
    mid = state.market.last_price(symbol)
    return {
        "lastUpdateId": to_epoch_ms(state.exchange_now()),
        "bids": [[dec(mid - _TICK * (level + 1)), "1"] for level in range(levels)],
        "asks": [[dec(mid + _TICK * (level + 1)), "1"] for level in range(levels)],
    }


def _book_ticker(state: SimulatorState, symbol: str) -> dict[str, Any]:
    mid = state.market.last_price(symbol)
    return {
        "symbol": symbol,
        "bidPrice": dec(mid - _TICK),
        "bidQty": "1",
        "askPrice": dec(mid + _TICK),
        "askQty": "1",
    }


def _price(state: SimulatorState, symbol: str) -> dict[str, Any]:
    return {"symbol": symbol, "price": dec(state.market.last_price(symbol))}


def day_ticker(symbol: str, price: Decimal, stamp: datetime) -> dict[str, Any]:
    """Return Binance's 24 h ticker of ``symbol`` at ``price``, stamped ``stamp``."""
    text = dec(price)
    return {
        "symbol": symbol,
        "lastPrice": text,
        "bidPrice": text,
        "bidQty": "1",
        "askPrice": text,
        "askQty": "1",
        "highPrice": text,
        "lowPrice": text,
        "volume": "0",
        "quoteVolume": "0",
        "closeTime": to_epoch_ms(stamp),
    }


__all__ = ["BOOK_LEVELS", "interval_ms", "market_data_reply"]


def _listed_ticker(state: SimulatorState, symbol: str) -> dict[str, Any]:
    # The all-symbol list reads the last price without moving the simulated market.
    return day_ticker(symbol, state.market.last_price(symbol), state.exchange_now())
