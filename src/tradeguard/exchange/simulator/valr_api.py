"""The VALR subset the ``valr`` adapter uses, served by the simulator.

Signed routes verify ``X-VALR-API-KEY`` and the HMAC-SHA512 ``X-VALR-SIGNATURE`` over
timestamp + verb + path (with query) + body, and answer 401 when either is wrong (or the
``auth_fail`` fault says the keys were revoked). A POST or DELETE with a body but without
``Content-Type: application/json`` gets 403, as on VALR. The pair rules
(``GET /v1/public/pairs``) are enforced as VALR does: see ``.rules``.
"""

from __future__ import annotations

import hmac
import json
import re
from decimal import Decimal
from typing import Any, Final

from ...policy import Side
from ...ports import OrderRequest, OrderStatus, OrderType
from ..market import split_symbol
from ..matching import BookOrder
from ..parsing import format_iso_ms, to_epoch_ms
from ..valr import CUSTOMER_ORDER_ID_RE, INTENT_HEADER, sign_request
from .protocol import SimReply, SimRequest, dec, json_reply, parse_decimal
from .rules import SIMULATED_RULES, RuleViolation, truncate, valr_pair, violation
from .state import KNOWN_SYMBOLS, OrderRefusedError, SimulatorState

VALR_STATUS: Final[dict[OrderStatus, str]] = {
    OrderStatus.NEW: "Placed",
    OrderStatus.PARTIALLY_FILLED: "Partially Filled",
    OrderStatus.FILLED: "Filled",
    OrderStatus.CANCELLED: "Cancelled",
    OrderStatus.REJECTED: "Failed",
}
_SUMMARY_RE: Final = re.compile(r"/v1/public/(?P<pair>[A-Za-z0-9]+)/marketsummary")
_STATUS_RE: Final = re.compile(r"/v1/orders/(?P<pair>[A-Za-z0-9]+)/orderid/(?P<id>[^/]+)")
_HISTORY_RE: Final = re.compile(r"/v1/orders/history/summary/orderid/(?P<id>[^/]+)")

_INVALID_ORDER = json_reply(400, {"code": -1, "message": "Invalid Order. "})
_BAD_PAIR = json_reply(400, {"code": -21, "message": "Unsupported Currency Pair"})


def _invalid(message: str) -> SimReply:
    return json_reply(400, {"code": -11, "message": f"Invalid Request: {message}"})


class ValrDialect:
    """Routes VALR requests to the shared simulator state."""

    def __init__(self, state: SimulatorState, api_key: str, api_secret: str) -> None:
        self._state = state
        self._api_key = api_key
        self._api_secret = api_secret

    def handle(self, request: SimRequest) -> SimReply:
        """Answer one VALR request."""
        if request.method == "GET" and request.path == "/v1/public/time":
            return self._time()
        if request.method == "GET" and request.path == "/v1/public/pairs":
            return json_reply(200, [valr_pair(SIMULATED_RULES[pair]) for pair in KNOWN_SYMBOLS])
        summary = _SUMMARY_RE.fullmatch(request.path)
        if request.method == "GET" and summary:
            return self._ticker(summary.group("pair"))
        refusal = self._authenticate(request)
        if refusal is not None:
            return refusal
        return self._private(request)

    # --- public ----------------------------------------------------------------------------

    def _time(self) -> SimReply:
        now = self._state.exchange_now()
        precise = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond:06d}000Z"
        return json_reply(200, {"epochTime": to_epoch_ms(now) // 1000, "time": precise})

    def _ticker(self, pair: str) -> SimReply:
        if pair not in KNOWN_SYMBOLS:
            return _BAD_PAIR
        price, stamp = self._state.ticker(pair)
        text = dec(price)
        return json_reply(
            200,
            {
                "currencyPair": pair,
                "askPrice": text,
                "bidPrice": text,
                "lastTradedPrice": text,
                "previousClosePrice": text,
                "baseVolume": "0",
                "quoteVolume": "0",
                "highPrice": text,
                "lowPrice": text,
                "created": format_iso_ms(stamp),
                "changeFromPrevious": "0",
                "markPrice": text,
            },
        )

    # --- authentication --------------------------------------------------------------------

    def _authenticate(self, request: SimRequest) -> SimReply | None:
        key = request.header("X-VALR-API-KEY") or ""
        timestamp = request.header("X-VALR-TIMESTAMP") or ""
        signature = request.header("X-VALR-SIGNATURE") or ""
        refused = json_reply(401, {"code": -11252, "message": "Invalid API key or signature"})
        if self._state.faults.auth_fail:
            return refused
        if not hmac.compare_digest(key.encode(), self._api_key.encode()):
            return refused
        if not timestamp.isdigit():
            return refused
        expected = sign_request(
            self._api_secret,
            int(timestamp),
            request.method,
            request.raw_path,
            request.body.decode("utf-8", errors="replace"),
        )
        if not hmac.compare_digest(signature.encode(), expected.encode()):
            return refused
        content_type = (request.header("Content-Type") or "").split(";")[0].strip()
        if request.body and content_type != "application/json":
            return json_reply(403, {"code": -403, "message": "Content-Type must be JSON"})
        return None

    # --- private ---------------------------------------------------------------------------

    def _private(self, request: SimRequest) -> SimReply:
        method, path = request.method, request.path
        if method == "POST" and path in ("/v2/orders/market", "/v2/orders/limit"):
            return self._place(request, OrderType(path.rsplit("/", 1)[1].upper()))
        if method == "DELETE" and path in ("/v2/orders/order", "/v1/orders/order"):
            return self._cancel(request, synchronous=path.startswith("/v2"))
        account_read = path in ("/v1/orders/open", "/v1/account/balances")
        if method == "GET" and account_read and self._state.faults.account_unreadable:
            return json_reply(500, {"code": -500, "message": "Internal server error"})
        if method == "GET" and path == "/v1/orders/open":
            return self._open_orders()
        if method == "GET" and path == "/v1/account/balances":
            return self._balances()
        status = _STATUS_RE.fullmatch(path)
        if method == "GET" and status:
            return self._status(status.group("pair"), status.group("id"))
        history = _HISTORY_RE.fullmatch(path)
        if method == "GET" and history:
            return self._history(history.group("id"))
        return json_reply(404, {"code": -404, "message": f"no route {method} {path}"})

    def _body(self, request: SimRequest) -> dict[str, Any] | None:
        try:
            data = json.loads(request.body or b"{}")
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def _place(self, request: SimRequest, order_type: OrderType) -> SimReply:
        body = self._body(request)
        if body is None:
            return json_reply(400, {"code": -113, "message": "Invalid JSON payload"})
        pair = body.get("pair")
        if pair not in KNOWN_SYMBOLS:
            return _BAD_PAIR
        side = str(body.get("side", ""))
        key = "baseAmount" if order_type is OrderType.MARKET else "quantity"
        quantity = parse_decimal(body.get(key))
        price = parse_decimal(body.get("price")) if order_type is OrderType.LIMIT else None
        customer_id = str(body.get("customerOrderId", ""))
        if side not in ("BUY", "SELL") or quantity is None or quantity <= 0:
            return _invalid("side and a positive base quantity are required")
        if order_type is OrderType.LIMIT and (price is None or price <= 0):
            return _invalid("a limit order needs a positive price")
        if customer_id and CUSTOMER_ORDER_ID_RE.fullmatch(customer_id) is None:
            return _invalid("customerOrderId must match ^[0-9a-zA-Z-]{0,50}$")
        refusal, quantity = self._rules(str(pair), quantity, price)
        if refusal is not None:
            return refusal
        order_request = OrderRequest(
            client_order_id=customer_id,
            symbol=str(pair),
            side=Side(side),
            quantity=quantity,
            order_type=order_type,
            price=price,
            intent=request.header(INTENT_HEADER),
        )
        try:
            order = self._state.place(order_request, dialect="valr", reported=False)
        except OrderRefusedError as exc:
            return json_reply(400, {"orderId": "", "code": -6, "message": str(exc)})
        return json_reply(201, {"id": order.order_id})

    def _rules(
        self, pair: str, quantity: Decimal, price: Decimal | None
    ) -> tuple[SimReply | None, Decimal]:
        # As VALR: the quantity is truncated to baseDecimalPlaces, then the minimums and the
        # tick are enforced.
        rules = SIMULATED_RULES[pair]
        quantity = truncate(rules, quantity)
        value_price = price if price is not None else self._state.market.last_price(pair)
        broken = violation(rules, quantity, price, value_price)
        if broken is RuleViolation.PRICE_FILTER:
            return _invalid(
                f"price must be a multiple of tickSize {dec(rules.price_tick)}"
            ), quantity
        if broken is not None:
            message = (
                f"Minimum order size not met . Minimum amount: {dec(rules.min_quantity)}, "
                f"minimum total: {dec(rules.min_notional)}"
            )
            return json_reply(400, {"orderId": "", "code": -12007, "message": message}), quantity
        return None, quantity

    def _cancel(self, request: SimRequest, *, synchronous: bool) -> SimReply:
        body = self._body(request) or {}
        order_id = str(body.get("orderId") or body.get("customerOrderId") or "")
        order = self._state.engine.find(order_id) if order_id else None
        if order is None or order.symbol != body.get("pair") or order.status.is_terminal:
            return _INVALID_ORDER
        self._state.engine.cancel(order.order_id)
        return json_reply(200, {"id": order_id}) if synchronous else SimReply(status=202)

    def _status(self, pair: str, order_id: str) -> SimReply:
        order = self._state.engine.find(order_id)
        if order is None or order.symbol != pair:
            return _INVALID_ORDER
        return json_reply(200, self._order_json(self._state.engine.report(order.order_id)))

    def _history(self, order_id: str) -> SimReply:
        order = self._state.engine.find(order_id)
        if order is None or not order.status.is_terminal:
            return _INVALID_ORDER
        data = self._order_json(order)
        data.update(
            averagePrice=dec(order.average_price),
            total=dec(order.cost),
            totalExecutedQuantity=dec(order.filled),
            totalFee="0",
            feeCurrency=split_symbol(order.symbol)[1],
        )
        return json_reply(200, data)

    def _open_orders(self) -> SimReply:
        items = []
        for order in self._state.engine.open_orders():
            shown = self._state.exchange_time_of(order)
            item = {
                "orderId": order.order_id,
                "side": order.side.value.lower(),
                "remainingQuantity": dec(order.remaining),
                "price": dec(order.price),
                "currencyPair": order.symbol,
                "createdAt": format_iso_ms(shown.created_at),
                "originalQuantity": dec(order.quantity),
                "filledPercentage": f"{order.filled / order.quantity * 100:.2f}",
                "updatedAt": format_iso_ms(shown.updated_at),
                "status": VALR_STATUS[order.status],
                "type": order.order_type.value.lower(),
                "timeInForce": "GTC",
                "allowMargin": False,
            }
            if order.client_order_id:
                item["customerOrderId"] = order.client_order_id
            items.append(item)
        return json_reply(200, items)

    def _balances(self) -> SimReply:
        stamp = format_iso_ms(self._state.exchange_now())
        return json_reply(
            200,
            [
                {
                    "currency": currency,
                    "available": dec(amount),
                    "reserved": "0",
                    "total": dec(amount),
                    "updatedAt": stamp,
                }
                for currency, amount in sorted(self._state.engine.balances().items())
            ],
        )

    def _order_json(self, order: BookOrder) -> dict[str, Any]:
        shown = self._state.exchange_time_of(order)
        data: dict[str, Any] = {
            "orderId": order.order_id,
            "orderStatusType": VALR_STATUS[order.status],
            "currencyPair": order.symbol,
            "originalPrice": dec(order.price),
            "remainingQuantity": dec(order.remaining),
            "originalQuantity": dec(order.quantity),
            "orderSide": order.side.value.lower(),
            "orderType": order.order_type.value.lower(),
            "failedReason": "",
            "orderUpdatedAt": format_iso_ms(shown.updated_at),
            "orderCreatedAt": format_iso_ms(shown.created_at),
            "timeInForce": "IOC" if order.order_type is OrderType.MARKET else "GTC",
        }
        if order.client_order_id:
            data["customerOrderId"] = order.client_order_id
        return data


__all__ = ["VALR_STATUS", "ValrDialect"]
