"""The VALR REST adapter (httpx), with request signing as VALR documents it.

Endpoints (see ``reference/valr-api.md``): ``GET /v1/public/time``,
``GET /v1/public/{pair}/marketsummary``, ``POST /v2/orders/market|limit`` (synchronous: 201 when
placed, 400 when refused), ``GET /v1/orders/{pair}/orderid/{id}``,
``GET /v1/orders/history/summary/orderid/{id}`` (average price of a finished order),
``DELETE /v2/orders/order``, ``GET /v1/orders/open``, ``GET /v1/account/balances``,
``GET /v1/public/pairs`` (symbol rules: ``baseDecimalPlaces``, ``minBaseAmount``,
``minQuoteAmount``, ``tickSize``).

Error translation: transport errors, timeouts, 429 and 5xx → ``ExchangeUnavailableError``
(``EXCHANGE_ERROR``); 401/403 → ``ExchangeAuthError`` (``EXCHANGE_AUTH_FAILED``); an
unknown order (404, or 400 with VALR code -1) → ``ExchangeRejectedError``
(``EXCHANGE_ORDER_NOT_FOUND``); any other 4xx → ``ExchangeRejectedError``
(``EXCHANGE_ORDER_REJECTED``); an answer that cannot be parsed → ``ExchangeUnavailableError``
(``EXCHANGE_BAD_RESPONSE``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

import httpx
from pydantic import SecretStr

from ..codes import ErrorCode
from ..errors import (
    ExchangeAuthError,
    ExchangeRejectedError,
    ExchangeUnavailableError,
    TradeGuardError,
)
from ..logging import get_logger
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
from .parsing import (
    bad_response,
    decimal_field,
    format_decimal,
    parse_iso_utc,
    require_list,
    require_mapping,
    text_field,
    to_epoch_ms,
)

DEFAULT_BASE_URL: Final = "https://api.valr.com"
INTENT_HEADER: Final = "X-TradeGuard-Intent"
CUSTOMER_ORDER_ID_RE: Final = re.compile(r"[0-9A-Za-z-]{1,50}")
"""VALR's ``customerOrderId`` rule: letters, digits and dash, at most 50 characters."""

STATUS_MAP: Final[dict[str, OrderStatus]] = {
    "Placed": OrderStatus.NEW,
    "Active": OrderStatus.NEW,
    "Order Modified": OrderStatus.NEW,
    "Partially Filled": OrderStatus.PARTIALLY_FILLED,
    "Filled": OrderStatus.FILLED,
    "Cancelled": OrderStatus.CANCELLED,
    "Failed": OrderStatus.REJECTED,
}

_log = get_logger(__name__)


def sign_request(
    secret: str, timestamp_ms: int, verb: str, path: str, body: str = "", subaccount_id: str = ""
) -> str:
    """Return VALR's request signature: lower-case hex HMAC-SHA512.

    The signed text is ``timestamp_ms + VERB + path (with query) + body + subaccount_id``,
    keyed with the secret's UTF-8 bytes as they are.
    """
    message = f"{timestamp_ms}{verb.upper()}{path}{body}{subaccount_id}"
    return hmac.new(secret.encode(), message.encode(), hashlib.sha512).hexdigest()


def _valr_error(response: httpx.Response) -> tuple[Any, str]:
    try:
        body = response.json()
    except ValueError:
        return None, response.text[:200]
    if isinstance(body, dict):
        return body.get("code"), str(body.get("message", body))[:200]
    return None, str(body)[:200]


def _translate_status(response: httpx.Response, *, order_call: bool) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return
    code, message = _valr_error(response)
    detail = f"VALR answered HTTP {status} (code {code}): {message}"
    if status in (401, 403):
        raise ExchangeAuthError(
            ErrorCode.EXCHANGE_AUTH_FAILED,
            detail,
            hint="check TRADEGUARD_EXCHANGE_API_KEY and TRADEGUARD_EXCHANGE_API_SECRET",
        )
    if status == 429 or status >= 500:
        raise ExchangeUnavailableError(ErrorCode.EXCHANGE_ERROR, detail)
    if order_call and (status == 404 or code == -1):
        raise ExchangeRejectedError(ErrorCode.EXCHANGE_ORDER_NOT_FOUND, detail)
    if 400 <= status < 500:
        raise ExchangeRejectedError(ErrorCode.EXCHANGE_ORDER_REJECTED, detail)
    raise bad_response(f"VALR answered HTTP {status}")


def _side(value: str, what: str) -> Side:
    try:
        return Side(value.upper())
    except ValueError as exc:
        raise bad_response(f"{what}: unknown side {value!r}") from exc


def _state(
    *,
    order_id: str,
    status_text: str,
    data: dict[str, Any],
    side_key: str,
    type_key: str,
    price_key: str,
    what: str,
) -> OrderState:
    original = decimal_field(data, "originalQuantity", what)
    remaining = decimal_field(data, "remainingQuantity", what)
    if remaining > original:
        raise bad_response(f"{what}: remainingQuantity exceeds originalQuantity")
    filled = original - remaining
    status = STATUS_MAP.get(status_text)
    if status is None:
        raise bad_response(f"{what}: unknown order status {status_text!r}")
    if status is OrderStatus.NEW and filled > 0:
        status = OrderStatus.PARTIALLY_FILLED
    if status is OrderStatus.REJECTED and filled > 0:
        status = OrderStatus.CANCELLED
    order_type = OrderType.MARKET if data.get(type_key) == "market" else OrderType.LIMIT
    price = decimal_field(data, price_key, what) if data.get(price_key) is not None else None
    return OrderState(
        order_id=order_id,
        client_order_id=str(data.get("customerOrderId") or ""),
        symbol=text_field(data, "currencyPair", what),
        side=_side(text_field(data, side_key, what), what),
        status=status,
        requested_quantity=original,
        filled_quantity=filled,
        order_type=order_type,
        price=price if price else None,
    )


def _pair_rules(symbol: str, data: dict[str, Any]) -> SymbolRules:
    what = f"pairs {symbol}"
    if data.get("active") is False:
        raise ExchangeRejectedError(
            ErrorCode.EXCHANGE_ORDER_REJECTED, f"VALR lists {symbol} as not active"
        )
    places = data.get("baseDecimalPlaces")
    text = str(places) if isinstance(places, str | int) and not isinstance(places, bool) else ""
    if not text.isdigit() or int(text) > 18:
        raise bad_response(f"{what}: baseDecimalPlaces is not a small whole number: {places!r}")
    tick = decimal_field(data, "tickSize", what)
    if tick <= 0:
        raise bad_response(f"{what}: tickSize must be positive")
    return SymbolRules(
        symbol=symbol,
        quantity_step=Decimal(1).scaleb(-int(text)),
        min_quantity=decimal_field(data, "minBaseAmount", what),
        min_notional=decimal_field(data, "minQuoteAmount", what),
        price_tick=tick,
    )


class ValrExchange:
    """VALR over HTTPS (or the simulator over loopback); thread-safe.

    Args:
        base_url: API root, e.g. ``https://api.valr.com`` or a simulator's URL.
        api_key: The API key, sent as ``X-VALR-API-KEY``.
        api_secret: The signing secret (never sent).
        clock: Source of the signing timestamp.
        transport: An httpx transport (tests use ``httpx.MockTransport``).
        timeout_s: Timeout of one HTTP request.
        name: The adapter's name.
    """

    def __init__(
        self,
        base_url: str,
        api_key: SecretStr,
        api_secret: SecretStr,
        clock: Clock,
        transport: httpx.BaseTransport | None = None,
        timeout_s: float = 5.0,
        name: str = "valr",
    ) -> None:
        self.name = name
        self._api_key = api_key
        self._api_secret = api_secret
        self._clock = clock
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            transport=transport,
            timeout=timeout_s,
            follow_redirects=False,
        )

    # --- transport -------------------------------------------------------------------------

    def _request(
        self,
        verb: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        signed: bool = True,
        order_call: bool = False,
        extra_headers: dict[str, str] | None = None,
    ) -> Any:
        text = json.dumps(body, separators=(",", ":")) if body is not None else ""
        headers = {"Content-Type": "application/json", **(extra_headers or {})}
        if signed:
            timestamp = to_epoch_ms(self._clock.now())
            headers["X-VALR-API-KEY"] = self._api_key.get_secret_value()
            headers["X-VALR-TIMESTAMP"] = str(timestamp)
            headers["X-VALR-SIGNATURE"] = sign_request(
                self._api_secret.get_secret_value(), timestamp, verb, path, text
            )
        try:
            response = self._client.request(
                verb, path, content=text.encode() if text else None, headers=headers
            )
        except httpx.TimeoutException as exc:
            raise ExchangeUnavailableError(
                ErrorCode.EXCHANGE_ERROR, f"VALR {verb} {path} timed out"
            ) from exc
        except httpx.HTTPError as exc:
            raise ExchangeUnavailableError(
                ErrorCode.EXCHANGE_ERROR, f"VALR {verb} {path} failed: {type(exc).__name__}"
            ) from exc
        _translate_status(response, order_call=order_call)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise bad_response(f"VALR {verb} {path}: answer is not JSON") from exc

    # --- ExchangeClient --------------------------------------------------------------------

    def server_time(self) -> datetime:
        """Return VALR's clock from the precise ``time`` field of ``/v1/public/time``."""
        data = require_mapping(self._request("GET", "/v1/public/time", signed=False), "time")
        return parse_iso_utc(data.get("time"), "time")

    def ticker(self, symbol: str) -> Ticker:
        """Return the last traded price and the snapshot's ``created`` time."""
        path = f"/v1/public/{symbol}/marketsummary"
        data = require_mapping(self._request("GET", path, signed=False), "marketsummary")
        price = decimal_field(data, "lastTradedPrice", "marketsummary")
        if price <= 0:
            raise bad_response(f"marketsummary: lastTradedPrice of {symbol} is {price}")
        return Ticker(
            symbol=symbol, price=price, timestamp_utc=parse_iso_utc(data.get("created"), "created")
        )

    def place_order(self, request: OrderRequest) -> OrderState:
        """Place a market or limit order (v2, synchronous) and read its state back."""
        body = self._order_body(request)
        kind = "market" if request.order_type is OrderType.MARKET else "limit"
        headers = {INTENT_HEADER: request.intent} if request.intent else None
        answer = self._request(
            "POST", f"/v2/orders/{kind}", body=body, order_call=True, extra_headers=headers
        )
        order_id = text_field(require_mapping(answer, "place order"), "id", "place order")
        try:
            return self.order_status(request.symbol, order_id)
        except (ExchangeUnavailableError, ExchangeRejectedError) as exc:
            # Placed, but its state could not be read: report it unfilled so that
            # reconciliation polls it rather than anyone assuming it failed.
            _log.warning(
                "valr_order_state_unread", code=exc.code, order_id=order_id, message=exc.message
            )
            return OrderState(
                order_id=order_id,
                client_order_id=request.client_order_id,
                symbol=request.symbol,
                side=request.side,
                status=OrderStatus.NEW,
                requested_quantity=request.quantity,
                filled_quantity=Decimal(0),
                order_type=request.order_type,
                price=request.price,
            )

    def cancel_order(self, symbol: str, order_id: str) -> OrderState:
        """Cancel an order (v2, synchronous) and return its state."""
        self._request(
            "DELETE",
            "/v2/orders/order",
            body={"orderId": order_id, "pair": symbol},
            order_call=True,
        )
        return self.order_status(symbol, order_id)

    def order_status(self, symbol: str, order_id: str) -> OrderState:
        """Return an order's state; a finished, filled order carries its average price."""
        what = "order status"
        data = require_mapping(
            self._request("GET", f"/v1/orders/{symbol}/orderid/{order_id}", order_call=True), what
        )
        state = _state(
            order_id=text_field(data, "orderId", what),
            status_text=text_field(data, "orderStatusType", what),
            data=data,
            side_key="orderSide",
            type_key="orderType",
            price_key="originalPrice",
            what=what,
        )
        if state.status.is_terminal and state.filled_quantity > 0:
            return self._with_average_price(state)
        return state

    def open_orders(self, symbol: str | None = None) -> list[OrderState]:
        """Return resting orders (of ``symbol`` when given)."""
        what = "open orders"
        states = []
        for item in require_list(self._request("GET", "/v1/orders/open"), what):
            data = require_mapping(item, what)
            state = _state(
                order_id=text_field(data, "orderId", what),
                status_text=text_field(data, "status", what),
                data=data,
                side_key="side",
                type_key="type",
                price_key="price",
                what=what,
            )
            if symbol is None or state.symbol == symbol:
                states.append(state)
        return states

    def balances(self) -> list[Balance]:
        """Return the account balances."""
        what = "balances"
        result = []
        for item in require_list(self._request("GET", "/v1/account/balances"), what):
            data = require_mapping(item, what)
            result.append(
                Balance(
                    currency=text_field(data, "currency", what),
                    available=decimal_field(data, "available", what, allow_negative=True),
                    total=decimal_field(data, "total", what, allow_negative=True),
                )
            )
        return result

    def symbol_rules(self, symbol: str) -> SymbolRules:
        """Return ``symbol``'s rules from the public pair list (``GET /v1/public/pairs``).

        The quantity step is ``10^-baseDecimalPlaces`` (VALR truncates quantities to that many
        places), the minimums are ``minBaseAmount`` and ``minQuoteAmount``, the tick
        ``tickSize``. A pair that is not listed, or listed as inactive, is refused.
        """
        what = "pairs"
        for item in require_list(self._request("GET", "/v1/public/pairs", signed=False), what):
            data = require_mapping(item, what)
            if data.get("symbol") == symbol:
                return _pair_rules(symbol, data)
        raise ExchangeRejectedError(
            ErrorCode.EXCHANGE_ORDER_REJECTED, f"VALR does not list the pair {symbol}"
        )

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()

    # --- helpers ---------------------------------------------------------------------------

    @staticmethod
    def _order_body(request: OrderRequest) -> dict[str, Any]:
        if CUSTOMER_ORDER_ID_RE.fullmatch(request.client_order_id) is None:
            raise ExchangeRejectedError(
                ErrorCode.EXCHANGE_ORDER_REJECTED,
                "client_order_id must be 1-50 letters, digits or dashes for VALR",
            )
        body: dict[str, Any] = {"side": request.side.value, "pair": request.symbol}
        if request.order_type is OrderType.MARKET:
            body["baseAmount"] = format_decimal(request.quantity)
        else:
            if request.price is None:
                raise ExchangeRejectedError(
                    ErrorCode.EXCHANGE_ORDER_REJECTED, "a LIMIT order needs a price"
                )
            body["quantity"] = format_decimal(request.quantity)
            body["price"] = format_decimal(request.price)
            body["postOnly"] = False
            body["timeInForce"] = "GTC"
        body["customerOrderId"] = request.client_order_id
        return body

    def _with_average_price(self, state: OrderState) -> OrderState:
        path = f"/v1/orders/history/summary/orderid/{state.order_id}"
        try:
            data = require_mapping(self._request("GET", path, order_call=True), "order summary")
            average = decimal_field(data, "averagePrice", "order summary")
        except TradeGuardError as exc:
            _log.info("valr_average_price_unavailable", code=exc.code, order_id=state.order_id)
            return state
        return replace(state, average_price=average if average > 0 else None)


__all__ = ["CUSTOMER_ORDER_ID_RE", "DEFAULT_BASE_URL", "ValrExchange", "sign_request"]
