"""``POST /v1/signals``: the signal webhook (SPEC §7).

Order of checks: size (64 KiB, enforced while the body is read) → authentication (signature
and timestamp window, or passphrase) → JSON → signal validation → the gate. Bad input never
reaches the gate, so it can never trade; every refusal is a 4xx with a code.

The gate is synchronous (it waits for durable commits), so it runs on a few dedicated
threads, never on the event loop nor on anyio's default pool of 40. With the paper exchange
and no simulated latency (placing an order is an in-process call), signals that arrive
together are decided in batches by ``Gate.submit_many`` (:class:`~.batcher.SignalBatcher`:
``PAPER_GATE_WORKERS`` batches in flight, at most ``PAPER_MAX_BATCH`` signals each, one
durable write for all their decisions). With a remote exchange each signal is its own batch
on ``GATE_WORKERS`` threads, so the orders of concurrent signals still go out concurrently.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ..codes import ErrorCode
from ..errors import TradeGuardError
from ..logging import get_logger
from ..signals import Signal, parse_signal
from .auth import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    check_body_timestamp,
    check_signature,
    check_timestamp_header,
    take_passphrase,
)
from .batcher import SignalBatcher
from .errors import ApiError, api_error_from, error_body

if TYPE_CHECKING:
    from ..bootstrap import Container

PATH = "/v1/signals"
MAX_BODY_BYTES = 64 * 1024
GATE_WORKERS = 8
"""Gate threads of the webhook with a remote exchange (one signal each)."""
PAPER_GATE_WORKERS = 1
"""Batches in flight with the paper exchange."""
PAPER_MAX_BATCH = 32
"""Most signals in one batch with the paper exchange."""

_log = get_logger("tradeguard.api.signals")

_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "AUTH_INVALID: bad or missing signature, timestamp or passphrase"},
    409: {"description": "SIGNAL_REPLAYED: a signal_id reused with different content"},
    413: {"description": "BODY_TOO_LARGE: body over 64 KiB"},
    422: {"description": "SIGNAL_INVALID / INPUT_INVALID_JSON: which fields and why"},
    503: {"description": "AUDIT_UNAVAILABLE: the gate cannot record (fail closed)"},
}

_SIGNAL_BODY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["signal_id", "symbol", "side", "quantity"],
    "properties": {
        "signal_id": {"type": "string", "minLength": 1, "maxLength": 128},
        "symbol": {"type": "string", "example": "BTCUSDT"},
        "side": {"type": "string", "enum": ["BUY", "SELL"]},
        "intent": {
            "type": "string",
            "enum": ["OPEN", "INCREASE", "REDUCE", "CLOSE", "CANCEL", "STOP_UPDATE"],
        },
        "quantity": {"type": "string", "example": "0.01"},
        "order_type": {"type": "string", "enum": ["MARKET", "LIMIT"]},
        "price": {"type": "string"},
        "ai_confidence": {"type": "string", "example": "87.5"},
        "strategy": {"type": "string"},
        "source": {"type": "string"},
        "timestamp": {"type": "string", "format": "date-time"},
        "passphrase": {"type": "string", "description": "Only for senders that cannot sign."},
    },
}

SIGNAL_BODY_SCHEMA = _SIGNAL_BODY_SCHEMA
"""The signal body's JSON schema (the decide API takes the same body)."""


class ClientGoneError(Exception):
    """The client disconnected before its body arrived; nothing is decided, nothing answered."""


async def read_limited(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """Read the body, refusing with 413 as soon as it exceeds ``limit`` bytes."""
    _check_declared_length(request.headers.get("content-length"), limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def receive_limited(
    receive: Receive, declared: str | None, limit: int = MAX_BODY_BYTES
) -> bytes:
    """Read an ASGI request body, refusing with 413 as soon as it exceeds ``limit`` bytes."""
    _check_declared_length(declared, limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGoneError
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _too_large(limit: int) -> ApiError:
    return ApiError(413, ErrorCode.BODY_TOO_LARGE, f"request body is over {limit} bytes")


def _check_declared_length(declared: str | None, limit: int) -> None:
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise _too_large(limit)


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ApiError(422, ErrorCode.INPUT_INVALID_JSON, "body is not valid JSON") from exc
    if not isinstance(payload, dict):
        raise ApiError(422, ErrorCode.INPUT_INVALID_JSON, "body must be a JSON object")
    return payload


def authenticated_payload(
    container: Container, header: Callable[[str], str | None], body: bytes
) -> dict[str, Any]:
    """Return the JSON body once authenticated as a signal is (signature or passphrase).

    Raises:
        ApiError: 401 AUTH_INVALID, or 422 INPUT_INVALID_JSON for a signed body.
    """
    settings = container.settings
    now = container.clock.now()
    signature = header(SIGNATURE_HEADER)
    if signature is not None:
        check_timestamp_header(header(TIMESTAMP_HEADER), now)
        check_signature(settings.webhook_secret, body, signature)
        payload = _json_object(body)
        check_body_timestamp(payload, now)
        payload.pop("passphrase", None)
        return payload
    try:
        payload = _json_object(body)
    except ApiError as exc:
        raise ApiError(401, ErrorCode.AUTH_INVALID, "unsigned body is not a JSON object") from exc
    take_passphrase(settings.webhook_passphrase, payload)
    return payload


def result_body(result: Any) -> dict[str, Any]:
    """Return the JSON answer of a gate result."""
    to_dict = getattr(result, "to_dict", None)
    if callable(to_dict):
        data = to_dict()
        if isinstance(data, dict):
            return data
    raise TypeError(f"gate result {type(result).__name__} has no to_dict()")


Answer = tuple[int, dict[str, Any], dict[str, str] | None]
"""An HTTP answer: status, JSON body, extra headers."""


class SignalWebhook:
    """What ``POST /v1/signals`` does, whichever way the request arrives.

    Size → authentication → JSON → signal validation → the gate (through the batcher); every
    refusal becomes ``(status, {code, message, fields?})``, never an exception.
    """

    def __init__(self, container: Container, batcher: SignalBatcher[Signal, Any]) -> None:
        self._container = container
        self._batcher = batcher
        self._metrics = container.metrics

    async def answer(
        self, header: Callable[[str], str | None], read_body: Callable[[], Awaitable[bytes]]
    ) -> Answer:
        """Return the answer to one request (``ClientGoneError`` if its client went away)."""
        started = time.perf_counter()
        metrics = self._metrics
        try:
            body = await read_body()
            payload = authenticated_payload(self._container, header, body)
            signal = parse_signal(payload)
            result = await self._batcher.submit(signal)
        except ApiError as exc:
            metrics.signals.labels(outcome=f"http_{exc.status}").inc()
            return exc.status, error_body(exc.code, exc.message, exc.fields), exc.headers
        except TradeGuardError as exc:
            api = api_error_from(exc)
            metrics.signals.labels(outcome=f"http_{api.status}").inc()
            _log.warning("signal_refused_at_webhook", code=exc.code, status=api.status)
            return api.status, error_body(api.code, api.message, api.fields), None
        answer = result_body(result)
        metrics.decision_latency.observe(time.perf_counter() - started)
        metrics.signals.labels(outcome=str(answer.get("outcome", "answered"))).inc()
        decision = answer.get("decision")
        if decision is not None:
            metrics.record_decision(str(decision), str(answer.get("reason_code")), "signal")
        return 200, answer, None


def _json_bytes(content: dict[str, Any]) -> bytes:
    # Byte for byte what starlette's JSONResponse renders.
    return json.dumps(
        content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode("utf-8")


class WebhookFastPath:
    """ASGI middleware answering ``POST /v1/signals`` without the framework's routing.

    The webhook is the hot path: FastAPI's routing, dependency solving and response classes
    cost more event-loop time per request than the rest of the request together. This layer
    answers the webhook straight from ASGI with the same :class:`SignalWebhook` the declared
    route uses (so the OpenAPI document still describes it), and passes every other request on.
    """

    def __init__(self, app: ASGIApp, webhook: SignalWebhook) -> None:
        self._app = app
        self._webhook = webhook

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self._app(scope, receive, send)
            return
        headers: dict[str, str] = {}
        for name, value in scope["headers"]:  # the first of repeated headers, as starlette
            headers.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))

        def header(name: str) -> str | None:
            return headers.get(name.lower())

        try:
            status, content, extra = await self._webhook.answer(
                header, lambda: receive_limited(receive, headers.get("content-length"))
            )
        except ClientGoneError:
            return
        except Exception as exc:  # as the app's last-resort handler: a 500, nothing executed
            _log.error("api_unexpected_error", code=ErrorCode.INTERNAL_ERROR, error=repr(exc))
            status, extra = 500, None
            content = error_body(ErrorCode.INTERNAL_ERROR, "unexpected error; nothing was executed")
        body = _json_bytes(content)
        raw_headers = [
            (b"content-length", str(len(body)).encode("latin-1")),
            (b"content-type", b"application/json"),
        ]
        if extra:
            raw_headers += [
                (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in extra.items()
            ]
        await send({"type": "http.response.start", "status": status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": body})


def build_router(container: Container) -> tuple[APIRouter, SignalWebhook]:
    """Return the webhook router bound to ``container`` and the webhook it serves.

    The router owns the gate's thread pool and shuts it down with the application. Install
    :class:`WebhookFastPath` with the returned webhook to answer requests without routing.
    """
    gate = container.gate
    batcher: SignalBatcher[Signal, Any] = (
        SignalBatcher(
            asubmit_many=gate.asubmit_many,
            workers=PAPER_GATE_WORKERS,
            max_batch=PAPER_MAX_BATCH,
            name="tradeguard-gate",
        )
        if gate.batches_orders
        else SignalBatcher(
            gate.submit_many, workers=GATE_WORKERS, max_batch=1, name="tradeguard-gate"
        )
    )
    webhook = SignalWebhook(container, batcher)
    router = APIRouter(on_shutdown=[batcher.close])

    @router.post(
        PATH,
        tags=["signals"],
        summary="Submit a trade signal through the gate",
        responses=_RESPONSES,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _SIGNAL_BODY_SCHEMA}},
            }
        },
    )
    async def submit_signal(request: Request) -> Response:
        try:
            status, content, extra = await webhook.answer(
                request.headers.get, lambda: read_limited(request)
            )
        except ClientGoneError:
            return Response(status_code=400)
        return JSONResponse(content, status, headers=extra)

    return router, webhook


__all__ = [
    "GATE_WORKERS",
    "MAX_BODY_BYTES",
    "PAPER_GATE_WORKERS",
    "PAPER_MAX_BATCH",
    "SIGNAL_BODY_SCHEMA",
    "ClientGoneError",
    "SignalWebhook",
    "WebhookFastPath",
    "authenticated_payload",
    "build_router",
    "read_limited",
    "receive_limited",
    "result_body",
]
