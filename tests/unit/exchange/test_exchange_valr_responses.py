"""The VALR adapter's translation of answers it cannot use (httpx.MockTransport)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
from pydantic import SecretStr

from tradeguard.clock import FakeClock
from tradeguard.errors import ExchangeRejectedError, ExchangeUnavailableError
from tradeguard.exchange import ValrExchange
from tradeguard.policy import Side
from tradeguard.ports import OrderRequest, OrderStatus


def adapter(handler) -> ValrExchange:
    return ValrExchange(
        "https://valr.test",
        SecretStr("key"),
        SecretStr("secret"),
        FakeClock(),
        transport=httpx.MockTransport(handler),
        timeout_s=1,
    )


def answer(status: int, body: object | None = None, raw: bytes | None = None):
    def handler(request: httpx.Request) -> httpx.Response:
        if raw is not None:
            return httpx.Response(status, content=raw)
        return httpx.Response(status, json=body)

    return handler


def test_server_time_uses_the_precise_time_field_not_epoch_seconds():
    exchange = adapter(
        answer(200, {"epochTime": 1750165361, "time": "2025-06-17T13:02:41.280178906Z"})
    )

    assert exchange.server_time() == datetime(2025, 6, 17, 13, 2, 41, 280178, tzinfo=UTC)


@pytest.mark.parametrize(
    "handler",
    [
        answer(200, raw=b"<html>not json</html>"),
        answer(200, {"epochTime": 1750165361}),
        answer(200, {"time": "yesterday"}),
        answer(200, ["not", "an", "object"]),
        answer(302, {"time": "2025-06-17T13:02:41Z"}),
    ],
    ids=["html", "missing-time", "bad-time", "array", "redirect"],
)
def test_garbage_time_answer_is_bad_response(handler):
    with pytest.raises(ExchangeUnavailableError) as error:
        adapter(handler).server_time()

    assert error.value.code == "EXCHANGE_BAD_RESPONSE"


@pytest.mark.parametrize(
    "body",
    [
        {"lastTradedPrice": "abc", "created": "2025-07-17T07:37:05.061Z"},
        {"lastTradedPrice": "0", "created": "2025-07-17T07:37:05.061Z"},
        {"lastTradedPrice": "NaN", "created": "2025-07-17T07:37:05.061Z"},
        {"lastTradedPrice": "100"},
    ],
    ids=["not-a-number", "zero", "nan", "no-created"],
)
def test_garbage_ticker_is_bad_response(body):
    with pytest.raises(ExchangeUnavailableError) as error:
        adapter(answer(200, body)).ticker("BTCZAR")

    assert error.value.code == "EXCHANGE_BAD_RESPONSE"


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_server_errors_are_unavailable(status):
    with pytest.raises(ExchangeUnavailableError) as error:
        adapter(answer(status, {"code": -1, "message": "oops"})).ticker("BTCZAR")

    assert error.value.code == "EXCHANGE_ERROR"


@pytest.mark.parametrize("status", [401, 403])
def test_auth_refusals_are_unavailable_with_auth_code(status):
    with pytest.raises(ExchangeUnavailableError) as error:
        adapter(answer(status, {"code": -11272, "message": "no"})).balances()

    assert error.value.code == "EXCHANGE_AUTH_FAILED"


def test_transport_errors_and_timeouts_are_unavailable():
    def timeout(request):
        raise httpx.ReadTimeout("slow", request=request)

    def refused(request):
        raise httpx.ConnectError("refused", request=request)

    for handler in (timeout, refused):
        with pytest.raises(ExchangeUnavailableError) as error:
            adapter(handler).server_time()
        assert error.value.code == "EXCHANGE_ERROR"
        assert isinstance(error.value.__cause__, httpx.HTTPError)


def test_order_refusal_is_rejected_with_valr_message():
    exchange = adapter(answer(400, {"orderId": "x", "code": -6, "message": "Insufficient Balance"}))

    with pytest.raises(ExchangeRejectedError) as error:
        exchange.place_order(OrderRequest("c-1", "BTCZAR", Side.BUY, Decimal(1)))

    assert error.value.code == "EXCHANGE_ORDER_REJECTED"
    assert "Insufficient Balance" in error.value.message


def test_unknown_order_is_not_found():
    with pytest.raises(ExchangeRejectedError) as error:
        adapter(answer(400, {"code": -1, "message": "Invalid Order. "})).order_status("BTCZAR", "x")

    assert error.value.code == "EXCHANGE_ORDER_NOT_FOUND"


def test_client_order_id_outside_valr_rules_is_refused_before_sending():
    sent = []

    def handler(request):
        sent.append(request)
        return httpx.Response(201, json={"id": "1"})

    with pytest.raises(ExchangeRejectedError):
        adapter(handler).place_order(OrderRequest("bad_id:1", "BTCZAR", Side.BUY, Decimal(1)))

    assert sent == []


def test_order_placed_but_state_unreadable_is_reported_unfilled_for_reconciliation():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(201, json={"id": "abc"})
        return httpx.Response(503, text="down")

    state = adapter(handler).place_order(OrderRequest("c-1", "BTCZAR", Side.BUY, Decimal(1)))

    assert state.order_id == "abc"
    assert state.status is OrderStatus.NEW
    assert state.filled_quantity == 0


def test_order_status_with_unknown_status_or_impossible_quantities_is_bad_response():
    base = {
        "orderId": "o",
        "orderStatusType": "Filled",
        "currencyPair": "BTCZAR",
        "originalPrice": "0",
        "remainingQuantity": "0",
        "originalQuantity": "1",
        "orderSide": "buy",
        "orderType": "market",
    }
    for change in ({"orderStatusType": "Exploded"}, {"remainingQuantity": "2"}, {"orderSide": "x"}):
        with pytest.raises(ExchangeUnavailableError) as error:
            adapter(answer(200, {**base, **change})).order_status("BTCZAR", "o")
        assert error.value.code == "EXCHANGE_BAD_RESPONSE"


def test_signed_request_carries_valr_headers_over_the_exact_body():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[])

    adapter(handler).balances()

    request = seen[0]
    assert request.headers["X-VALR-API-KEY"] == "key"
    assert request.headers["X-VALR-TIMESTAMP"] == str(int(FakeClock().now().timestamp() * 1000))
    assert len(request.headers["X-VALR-SIGNATURE"]) == 128
    assert request.url.path == "/v1/account/balances"


def test_place_order_sends_compact_json_with_upper_case_side():
    bodies: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            bodies.append(json.loads(request.content))
            assert b" " not in request.content
            return httpx.Response(201, json={"id": "abc"})
        return httpx.Response(
            200,
            json={
                "orderId": "abc",
                "orderStatusType": "Placed",
                "currencyPair": "BTCZAR",
                "originalPrice": "0",
                "remainingQuantity": "0.001",
                "originalQuantity": "0.001",
                "orderSide": "sell",
                "orderType": "market",
            },
        )

    state = adapter(handler).place_order(
        OrderRequest("c-1", "BTCZAR", Side.SELL, Decimal("0.00100"))
    )

    assert bodies == [
        {"side": "SELL", "pair": "BTCZAR", "baseAmount": "0.001", "customerOrderId": "c-1"}
    ]
    assert state.side is Side.SELL and state.status is OrderStatus.NEW
