"""The ccxt adapter: any exchange ccxt supports, chosen as ``ccxt:<exchange id>``.

ccxt is an optional extra and is imported only when this adapter is built. With ``base_url``
every entry of the exchange's ``urls['api']`` keeps its path and gets the loopback scheme and
host (see ``reference/ccxt-binance-loopback.md``), so nothing can leak to the real exchange.

Symbols: tradeguard symbols are concatenated (``BTCUSDT``); they map to ccxt's unified
``BTC/USDT`` through the loaded markets (by market id, or by base + quote).

Errors: ``NetworkError`` (timeouts, ``ExchangeNotAvailable``, rate limits, nonce problems) →
``ExchangeUnavailableError`` (``EXCHANGE_ERROR``); ``BadResponse`` and answers missing what the
port needs → ``EXCHANGE_BAD_RESPONSE``; ``AuthenticationError`` → ``EXCHANGE_AUTH_FAILED``;
Binance's -2015 (keys refused), which ccxt
raises as ``DDoSProtection`` once a key has worked, → ``EXCHANGE_AUTH_FAILED`` too;
``OrderNotFound`` → ``ExchangeRejectedError`` (``EXCHANGE_ORDER_NOT_FOUND``); ``InvalidOrder``,
``InsufficientFunds``, ``BadRequest`` and other exchange refusals → ``ExchangeRejectedError``
(``EXCHANGE_ORDER_REJECTED``).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar
from urllib.parse import urlsplit

from pydantic import SecretStr

from ..codes import ErrorCode
from ..errors import (
    ConfigurationError,
    ExchangeAuthError,
    ExchangeRejectedError,
    ExchangeUnavailableError,
    TradeGuardError,
)
from ..policy import Clock, Side
from ..ports import (
    Balance,
    OrderRequest,
    OrderState,
    OrderStatus,
    OrderType,
    SymbolRules,
    Ticker,
)
from .parsing import bad_response, from_epoch_ms

T = TypeVar("T")
_BINANCE_KEY_REFUSED = re.compile(r'"code":\s*-2015\b')

_STATUS = {
    "open": OrderStatus.NEW,
    "closed": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELLED,
    "cancelled": OrderStatus.CANCELLED,
    "expired": OrderStatus.CANCELLED,
    "rejected": OrderStatus.REJECTED,
}


def _import_ccxt() -> Any:
    try:
        import ccxt
    except ImportError as exc:
        raise ConfigurationError(
            ErrorCode.CONFIG_INVALID,
            "TRADEGUARD_EXCHANGE=ccxt:<id> needs the ccxt extra",
            hint="pip install 'tradeguard[ccxt]'",
        ) from exc
    return ccxt


def rewrite_api_urls(urls: Any, base_url: str) -> Any:
    """Return ``urls`` with every URL's scheme and host replaced by ``base_url``'s."""
    base = base_url.rstrip("/")
    if isinstance(urls, str):
        return base + urlsplit(urls).path
    if isinstance(urls, dict):
        return {key: rewrite_api_urls(value, base) for key, value in urls.items()}
    return urls


def _decimal(value: Any, what: str, *, required: bool = True) -> Decimal | None:
    if value is None:
        if required:
            raise bad_response(f"ccxt: {what} missing")
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation as exc:
        raise bad_response(f"ccxt: {what} is not a number: {value!r}") from exc
    if not number.is_finite():
        raise bad_response(f"ccxt: {what} is not finite")
    return number


def _keys_refused(ccxt: Any, exc: Exception) -> bool:
    # ccxt's binance raises DDoSProtection for -2015 ("Invalid API-key, IP, or permissions")
    # once the key has worked before, guessing at a temporary ban. Keys revoked mid-run look
    # exactly like that, so it is treated as refused keys: HALT until an operator looks.
    return (
        isinstance(exc, ccxt.DDoSProtection) and _BINANCE_KEY_REFUSED.search(str(exc)) is not None
    )


def _step(value: Any, mode: Any, ccxt: Any, what: str) -> Decimal:
    # A market's precision as a step: a tick size as it is, decimal places as 10^-places.
    number = _decimal(value, f"market precision.{what}")
    if number is None or number <= 0:
        raise bad_response(f"ccxt: market precision.{what} is not positive")
    if mode == ccxt.TICK_SIZE:
        return number
    if mode == ccxt.DECIMAL_PLACES and number == number.to_integral_value():
        return Decimal(1).scaleb(-int(number))
    raise bad_response(f"ccxt: precision.{what} {value!r} in mode {mode!r} is not a step")


def _minimum(limits: Any, what: str) -> Decimal:
    # ``limits.<what>.min``; absent means the venue sets no minimum.
    found = limits.get("min") if isinstance(limits, dict) else None
    number = _decimal(found, f"market limits.{what}.min", required=False)
    if number is not None and number < 0:
        raise bad_response(f"ccxt: market limits.{what}.min is negative")
    return number or Decimal(0)


def _translate(ccxt: Any, exc: Exception, action: str) -> TradeGuardError:
    detail = f"{action}: {type(exc).__name__}: {str(exc)[:200]}"
    if _keys_refused(ccxt, exc):
        return ExchangeAuthError(ErrorCode.EXCHANGE_AUTH_FAILED, detail)
    # Order matters: subclasses before their bases.
    table: list[tuple[Any, Callable[[str], TradeGuardError]]] = [
        (ccxt.BadResponse, bad_response),
        (ccxt.NetworkError, lambda m: ExchangeUnavailableError(ErrorCode.EXCHANGE_ERROR, m)),
        (
            ccxt.AuthenticationError,
            lambda m: ExchangeAuthError(ErrorCode.EXCHANGE_AUTH_FAILED, m),
        ),
        (
            ccxt.OrderNotFound,
            lambda m: ExchangeRejectedError(ErrorCode.EXCHANGE_ORDER_NOT_FOUND, m),
        ),
        (
            ccxt.ExchangeError,
            lambda m: ExchangeRejectedError(ErrorCode.EXCHANGE_ORDER_REJECTED, m),
        ),
    ]
    for kind, build in table:
        if isinstance(exc, kind):
            return build(detail)
    return ExchangeUnavailableError(ErrorCode.EXCHANGE_ERROR, detail)


class CcxtExchange:
    """An exchange through ccxt's sync API; calls are serialised (thread-safe).

    Args:
        exchange_id: A ccxt exchange id such as ``binance``.
        api_key: The API key (optional for public calls).
        api_secret: The API secret.
        base_url: Point every API URL at this scheme and host (the simulator).
        clock: Kept for symmetry with the other adapters.
        timeout_s: Timeout of one HTTP request.
        name: The adapter's name (``ccxt:<id>`` by default).
    """

    def __init__(
        self,
        exchange_id: str,
        *,
        api_key: SecretStr | None,
        api_secret: SecretStr | None,
        base_url: str | None = None,
        clock: Clock,
        timeout_s: float = 10.0,
        name: str | None = None,
    ) -> None:
        self._ccxt = _import_ccxt()
        exchange_class = getattr(self._ccxt, exchange_id, None)
        if exchange_id not in getattr(self._ccxt, "exchanges", ()) or exchange_class is None:
            raise ConfigurationError(
                ErrorCode.CONFIG_INVALID, f"ccxt does not know exchange {exchange_id!r}"
            )
        self.name = name or f"ccxt:{exchange_id}"
        self._clock = clock
        options: dict[str, Any] = {
            "defaultType": "spot",
            "adjustForTimeDifference": False,
            "warnOnFetchOpenOrdersWithoutSymbol": False,
        }
        if exchange_id.startswith("binance"):
            options.update(
                fetchMarkets={"types": ["spot"]}, fetchCurrencies=False, fetchMargins=False
            )
        config: dict[str, Any] = {
            "enableRateLimit": base_url is None,
            "timeout": int(timeout_s * 1000),
            "options": options,
        }
        if api_key is not None:
            config["apiKey"] = api_key.get_secret_value()
        if api_secret is not None:
            config["secret"] = api_secret.get_secret_value()
        self._exchange = exchange_class(config)
        if base_url is not None:
            self._exchange.urls["api"] = rewrite_api_urls(self._exchange.urls["api"], base_url)
        self._lock = threading.RLock()
        self._to_unified: dict[str, str] = {}
        self._from_unified: dict[str, str] = {}

    # --- plumbing --------------------------------------------------------------------------

    def _call(self, action: str, fn: Callable[[], T]) -> T:
        with self._lock:
            try:
                return fn()
            except TradeGuardError:
                raise
            except self._ccxt.BaseError as exc:
                raise _translate(self._ccxt, exc, action) from exc
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise bad_response(f"{action}: unexpected answer ({type(exc).__name__})") from exc

    def _load_symbols(self) -> None:
        if self._to_unified:
            return
        markets = self._exchange.load_markets()
        for unified, market in markets.items():
            concatenated = f"{market.get('base', '')}{market.get('quote', '')}".upper()
            if market.get("spot", True):
                self._to_unified.setdefault(concatenated, unified)
                self._from_unified.setdefault(unified, concatenated)
            self._to_unified.setdefault(str(market.get("id", "")).upper(), unified)

    def _unified(self, symbol: str) -> str:
        self._load_symbols()
        unified = self._to_unified.get(symbol.upper())
        if unified is None:
            raise ExchangeRejectedError(
                ErrorCode.EXCHANGE_ORDER_REJECTED, f"{self.name} has no market {symbol}"
            )
        return unified

    def _state(self, order: dict[str, Any], symbol: str) -> OrderState:
        amount = _decimal(order.get("amount"), "order amount")
        filled = _decimal(order.get("filled"), "order filled")
        if amount is None or filled is None:
            raise bad_response("ccxt: order amount or filled missing")
        status = _STATUS.get(str(order.get("status")))
        if status is None:
            raise bad_response(f"ccxt: unknown order status {order.get('status')!r}")
        if status is OrderStatus.NEW and filled > 0:
            status = OrderStatus.PARTIALLY_FILLED
        if status is OrderStatus.REJECTED and filled > 0:
            status = OrderStatus.CANCELLED
        side = str(order.get("side", "")).upper()
        if side not in ("BUY", "SELL") or not order.get("id"):
            raise bad_response("ccxt: order side or id missing")
        average = _decimal(order.get("average"), "order average", required=False)
        price = _decimal(order.get("price"), "order price", required=False)
        is_market = str(order.get("type", "")).lower() == "market"
        return OrderState(
            order_id=str(order["id"]),
            client_order_id=str(order.get("clientOrderId") or ""),
            symbol=symbol,
            side=Side(side),
            status=status,
            requested_quantity=amount,
            filled_quantity=filled,
            average_price=average if average else None,
            order_type=OrderType.MARKET if is_market else OrderType.LIMIT,
            price=None if is_market or not price else price,
        )

    # --- ExchangeClient --------------------------------------------------------------------

    def server_time(self) -> datetime:
        """Return the exchange's clock via ``fetch_time``."""
        millis = self._call("fetch_time", self._exchange.fetch_time)
        return from_epoch_ms(millis, "fetch_time")

    def ticker(self, symbol: str) -> Ticker:
        """Return the last price and the exchange's timestamp of ``symbol``."""

        def fetch() -> Ticker:
            data = self._exchange.fetch_ticker(self._unified(symbol))
            price = _decimal(data.get("last") or data.get("close"), "ticker last")
            if price is None or price <= 0:
                raise bad_response(f"ccxt: ticker price of {symbol} is {price}")
            stamp = from_epoch_ms(data.get("timestamp"), "ticker timestamp")
            return Ticker(symbol=symbol, price=price, timestamp_utc=stamp)

        return self._call("fetch_ticker", fetch)

    def place_order(self, request: OrderRequest) -> OrderState:
        """Place a market or limit order and return its state."""

        def place() -> OrderState:
            unified = self._unified(request.symbol)
            order = self._exchange.create_order(
                unified,
                request.order_type.value.lower(),
                request.side.value.lower(),
                float(request.quantity),
                None if request.order_type is OrderType.MARKET else float(request.price or 0),
                {"clientOrderId": request.client_order_id},
            )
            if order.get("status") is None or order.get("filled") is None:
                order = self._exchange.fetch_order(order["id"], unified)
            return self._state(order, request.symbol)

        return self._call("create_order", place)

    def cancel_order(self, symbol: str, order_id: str) -> OrderState:
        """Cancel an order and return its state."""

        def cancel() -> OrderState:
            unified = self._unified(symbol)
            order = self._exchange.cancel_order(order_id, unified)
            if order.get("status") is None or order.get("amount") is None:
                order = self._exchange.fetch_order(order_id, unified)
            return self._state(order, symbol)

        return self._call("cancel_order", cancel)

    def order_status(self, symbol: str, order_id: str) -> OrderState:
        """Return an order's current state."""
        return self._call(
            "fetch_order",
            lambda: self._state(
                self._exchange.fetch_order(order_id, self._unified(symbol)), symbol
            ),
        )

    def open_orders(self, symbol: str | None = None) -> list[OrderState]:
        """Return resting orders (of ``symbol`` when given)."""

        def fetch() -> list[OrderState]:
            unified = self._unified(symbol) if symbol else None
            self._load_symbols()
            orders = self._exchange.fetch_open_orders(unified)
            return [
                self._state(o, symbol or self._from_unified.get(str(o.get("symbol")), ""))
                for o in orders
            ]

        return self._call("fetch_open_orders", fetch)

    def balances(self) -> list[Balance]:
        """Return the account balances."""

        def fetch() -> list[Balance]:
            data = self._exchange.fetch_balance()
            result = []
            for currency in sorted(data.get("total") or {}):
                entry = data.get(currency) or {}
                total = _decimal(entry.get("total"), f"{currency} total")
                free = _decimal(entry.get("free"), f"{currency} free", required=False)
                if total is None:
                    raise bad_response(f"ccxt: {currency} total missing")
                result.append(Balance(currency=currency, available=free or Decimal(0), total=total))
            return result

        return self._call("fetch_balance", fetch)

    def symbol_rules(self, symbol: str) -> SymbolRules:
        """Return ``symbol``'s rules from ccxt's loaded market (``precision`` and ``limits``).

        Binance's ``LOT_SIZE`` (stepSize, minQty), ``PRICE_FILTER`` (tickSize) and
        ``NOTIONAL``/``MIN_NOTIONAL`` (minNotional) arrive there as ``precision.amount``,
        ``limits.amount.min``, ``precision.price`` and ``limits.cost.min``. A precision given
        in significant digits cannot be a step: the rules are then unreadable.
        """

        def read() -> SymbolRules:
            market = self._exchange.market(self._unified(symbol))
            precision = market.get("precision") or {}
            limits = market.get("limits") or {}
            mode = self._exchange.precisionMode
            return SymbolRules(
                symbol=symbol,
                quantity_step=_step(precision.get("amount"), mode, self._ccxt, "amount"),
                min_quantity=_minimum(limits.get("amount"), "amount"),
                min_notional=_minimum(limits.get("cost"), "cost"),
                price_tick=_step(precision.get("price"), mode, self._ccxt, "price"),
            )

        return self._call("load_markets", read)

    def close(self) -> None:
        """Release the HTTP session."""
        session = getattr(self._exchange, "session", None)
        if session is not None:
            session.close()


__all__ = ["CcxtExchange", "rewrite_api_urls"]
