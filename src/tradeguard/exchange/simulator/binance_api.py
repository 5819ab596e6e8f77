"""The Binance spot subset ccxt's ``binance`` class needs, served by the simulator.

Routes: ``GET /api/v3/time``, ``/api/v3/exchangeInfo``, ``/api/v3/ticker/24hr``; signed
(``X-MBX-APIKEY`` plus HMAC-SHA256 ``signature`` over the query or form body before
``&signature=``): ``POST|GET|DELETE /api/v3/order``, ``GET /api/v3/openOrders``,
``GET /api/v3/account``. The request timestamp is not checked against a receive window (the
simulator may run on a skewed clock). Errors are ``{"code", "msg"}`` as Binance answers them;
an order that breaks ``LOT_SIZE``, ``PRICE_FILTER`` or ``NOTIONAL`` gets -1013 (see ``.rules``).
"""

from __future__ import annotations

import hashlib
import hmac
from decimal import Decimal
from typing import Any, Final
from urllib.parse import parse_qsl

from ...policy import Side
from ...ports import OrderRequest, OrderStatus, OrderType
from ..market import split_symbol
from ..matching import BookOrder
from ..parsing import to_epoch_ms
from .binance_market_data import day_ticker, market_data_reply
from .protocol import SimReply, SimRequest, dec, json_reply, parse_decimal
from .rules import SIMULATED_RULES, binance_filters, violation
from .state import KNOWN_SYMBOLS, OrderRefusedError, SimulatorState

BINANCE_STATUS: Final[dict[OrderStatus, str]] = {
    OrderStatus.NEW: "NEW",
    OrderStatus.PARTIALLY_FILLED: "PARTIALLY_FILLED",
    OrderStatus.FILLED: "FILLED",
    OrderStatus.CANCELLED: "CANCELED",
    OrderStatus.REJECTED: "REJECTED",
}
_SIGNED: Final = frozenset({"/api/v3/order", "/api/v3/openOrders", "/api/v3/account"})
_UNKNOWN_ORDER = json_reply(400, {"code": -2011, "msg": "Unknown order sent."})
_NO_ORDER = json_reply(400, {"code": -2013, "msg": "Order does not exist."})
_BAD_SYMBOL = json_reply(400, {"code": -1121, "msg": "Invalid symbol."})


def _market_info(symbol: str) -> dict[str, Any]:
    base, quote = split_symbol(symbol)
    return {
        "symbol": symbol,
        "status": "TRADING",
        "baseAsset": base,
        "quoteAsset": quote,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"],
        "isSpotTradingAllowed": True,
        "filters": binance_filters(SIMULATED_RULES[symbol]),
    }


class BinanceDialect:
    """Routes Binance spot requests to the shared simulator state."""

    def __init__(self, state: SimulatorState, api_key: str, api_secret: str) -> None:
        self._state = state
        self._api_key = api_key
        self._api_secret = api_secret

    def handle(self, request: SimRequest) -> SimReply:
        """Answer one Binance request."""
        market_data = market_data_reply(self._state, request)
        return market_data if market_data is not None else self._handle_account(request)

    def _handle_account(self, request: SimRequest) -> SimReply:
        method, path = request.method, request.path
        if method == "GET" and path == "/api/v3/time":
            return json_reply(200, {"serverTime": to_epoch_ms(self._state.exchange_now())})
        if method == "GET" and path == "/api/v3/exchangeInfo":
            return self._exchange_info()
        if method == "GET" and path == "/api/v3/ticker/24hr":
            return self._ticker(request.query.get("symbol"))
        if path not in _SIGNED:
            return json_reply(404, {"code": -1000, "msg": f"no route {method} {path}"})
        params = self._verify(request)
        if isinstance(params, SimReply):
            return params
        return self._signed(method, path, params)

    def _signed(self, method: str, path: str, params: dict[str, str]) -> SimReply:
        if path in ("/api/v3/account", "/api/v3/openOrders") and (
            self._state.faults.account_unreadable
        ):
            return json_reply(500, {"code": -1000, "msg": "An unknown error occurred."})
        if path == "/api/v3/account":
            return self._account()
        if path == "/api/v3/openOrders":
            return self._open_orders(params.get("symbol"))
        if method == "POST":
            return self._place(params)
        if method == "DELETE":
            return self._cancel(params)
        return self._status(params)

    # --- public ----------------------------------------------------------------------------

    def _exchange_info(self) -> SimReply:
        return json_reply(
            200,
            {
                "timezone": "UTC",
                "serverTime": to_epoch_ms(self._state.exchange_now()),
                "symbols": [_market_info(symbol) for symbol in KNOWN_SYMBOLS],
            },
        )

    def _ticker(self, symbol: str | None) -> SimReply:
        if symbol not in KNOWN_SYMBOLS:
            return _BAD_SYMBOL
        return json_reply(200, day_ticker(symbol, *self._state.ticker(symbol)))

    # --- signed ----------------------------------------------------------------------------

    def _verify(self, request: SimRequest) -> dict[str, str] | SimReply:
        if self._state.faults.auth_fail or not hmac.compare_digest(
            (request.header("X-MBX-APIKEY") or "").encode(), self._api_key.encode()
        ):
            return json_reply(401, {"code": -2015, "msg": "Invalid API-key, IP, or permissions."})
        payload = request.body.decode() if request.method == "POST" else request.raw_path
        payload = (
            payload.split("?", 1)[1] if request.method != "POST" and "?" in payload else payload
        )
        signed, marker, signature = payload.rpartition("&signature=")
        expected = hmac.new(self._api_secret.encode(), signed.encode(), hashlib.sha256).hexdigest()
        if not marker or not hmac.compare_digest(signature.encode(), expected.encode()):
            return json_reply(
                401, {"code": -1022, "msg": "Signature for this request is not valid."}
            )
        return dict(parse_qsl(signed, keep_blank_values=True))

    def _place(self, params: dict[str, str]) -> SimReply:
        symbol = params.get("symbol", "")
        if symbol not in KNOWN_SYMBOLS:
            return _BAD_SYMBOL
        quantity = parse_decimal(params.get("quantity"))
        kind = params.get("type", "")
        side = params.get("side", "")
        if kind not in ("MARKET", "LIMIT") or side not in ("BUY", "SELL"):
            return json_reply(400, {"code": -1116, "msg": "Invalid orderType or side."})
        if quantity is None or quantity <= 0:
            return json_reply(400, {"code": -1102, "msg": "Mandatory parameter 'quantity'."})
        price = parse_decimal(params.get("price")) if kind == "LIMIT" else None
        if kind == "LIMIT" and (price is None or price <= 0):
            return json_reply(400, {"code": -1102, "msg": "Mandatory parameter 'price'."})
        value_price = price if price is not None else self._state.market.last_price(symbol)
        broken = violation(SIMULATED_RULES[symbol], quantity, price, value_price)
        if broken is not None:
            return json_reply(400, {"code": -1013, "msg": f"Filter failure: {broken.value}"})
        order_request = OrderRequest(
            client_order_id=params.get("newClientOrderId", ""),
            symbol=symbol,
            side=Side(side),
            quantity=quantity,
            order_type=OrderType(kind),
            price=price,
            intent=params.get("intent"),
        )
        try:
            order = self._state.place(order_request, dialect="binance", reported=True)
        except OrderRefusedError as exc:
            return json_reply(400, {"code": -2010, "msg": str(exc)})
        data = self._order_json(order)
        data["transactTime"] = data["updateTime"]
        fill_price = order.average_price
        data["fills"] = (
            [
                {
                    "price": dec(fill_price),
                    "qty": dec(order.filled),
                    "commission": "0",
                    "commissionAsset": "BNB",
                    "tradeId": order.number,
                }
            ]
            if order.filled
            else []
        )
        return json_reply(200, data)

    def _find(self, params: dict[str, str]) -> BookOrder | None:
        key = params.get("orderId") or params.get("origClientOrderId") or ""
        order = self._state.engine.find(key) if key else None
        if order is None or order.symbol != params.get("symbol"):
            return None
        return order

    def _status(self, params: dict[str, str]) -> SimReply:
        order = self._find(params)
        if order is None:
            return _NO_ORDER
        return json_reply(200, self._order_json(self._state.engine.report(order.order_id)))

    def _cancel(self, params: dict[str, str]) -> SimReply:
        order = self._find(params)
        if order is None or order.status.is_terminal:
            return _UNKNOWN_ORDER
        data = self._order_json(self._state.engine.cancel(order.order_id))
        data["origClientOrderId"] = order.client_order_id
        data["transactTime"] = data["updateTime"]
        return json_reply(200, data)

    def _open_orders(self, symbol: str | None) -> SimReply:
        orders = self._state.engine.open_orders(symbol)
        return json_reply(200, [self._order_json(order) for order in orders])

    def _account(self) -> SimReply:
        balances = [
            {"asset": asset, "free": dec(amount), "locked": "0"}
            for asset, amount in sorted(self._state.engine.balances().items())
        ]
        return json_reply(
            200,
            {
                "canTrade": True,
                "accountType": "SPOT",
                "updateTime": to_epoch_ms(self._state.exchange_now()),
                "balances": balances,
            },
        )

    def _order_json(self, order: BookOrder) -> dict[str, Any]:
        shown = self._state.exchange_time_of(order)
        return {
            "symbol": order.symbol,
            "orderId": order.number,
            "clientOrderId": order.client_order_id,
            "price": dec(order.price or Decimal(0)),
            "origQty": dec(order.quantity),
            "executedQty": dec(order.filled),
            "cummulativeQuoteQty": dec(order.cost),
            "status": BINANCE_STATUS[order.status],
            "timeInForce": "GTC" if order.order_type is OrderType.LIMIT else "IOC",
            "type": order.order_type.value,
            "side": order.side.value,
            "time": to_epoch_ms(shown.created_at),
            "updateTime": to_epoch_ms(shown.updated_at),
        }


__all__ = ["BINANCE_STATUS", "BinanceDialect"]
