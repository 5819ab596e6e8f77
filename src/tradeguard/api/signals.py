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
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

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
from .errors import ApiError, api_error_from

if TYPE_CHECKING:
    from ..bootstrap import Container

MAX_BODY_BYTES = 64 * 1024
GATE_WORKERS = 8
"""Gate threads of the webhook with a remote exchange (one signal each)."""
PAPER_GATE_WORKERS = 2
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


async def read_limited(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """Read the body, refusing with 413 as soon as it exceeds ``limit`` bytes."""
    too_large = ApiError(413, ErrorCode.BODY_TOO_LARGE, f"request body is over {limit} bytes")
    declared = request.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ApiError(422, ErrorCode.INPUT_INVALID_JSON, "body is not valid JSON") from exc
    if not isinstance(payload, dict):
        raise ApiError(422, ErrorCode.INPUT_INVALID_JSON, "body must be a JSON object")
    return payload


def _authenticated_payload(container: Container, request: Request, body: bytes) -> dict[str, Any]:
    settings = container.settings
    now = container.clock.now()
    signature = request.headers.get(SIGNATURE_HEADER)
    if signature is not None:
        check_timestamp_header(request.headers.get(TIMESTAMP_HEADER), now)
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


def build_router(container: Container) -> APIRouter:
    """Return the webhook router bound to ``container``.

    The router owns the gate's thread pool and shuts it down with the application.
    """
    settings = container.settings
    paper = settings.exchange == "paper" and settings.paper_latency_ms == 0
    batcher: SignalBatcher[Signal, Any] = SignalBatcher(
        container.gate.submit_many,
        workers=PAPER_GATE_WORKERS if paper else GATE_WORKERS,
        max_batch=PAPER_MAX_BATCH if paper else 1,
        name="tradeguard-gate",
    )
    router = APIRouter(on_shutdown=[batcher.close])
    metrics = container.metrics

    @router.post(
        "/v1/signals",
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
    async def submit_signal(request: Request) -> JSONResponse:
        started = time.perf_counter()
        try:
            body = await read_limited(request)
            payload = _authenticated_payload(container, request, body)
            signal = parse_signal(payload)
            result = await batcher.submit(signal)
        except ApiError as exc:
            metrics.signals.labels(outcome=f"http_{exc.status}").inc()
            raise
        except TradeGuardError as exc:
            api = api_error_from(exc)
            metrics.signals.labels(outcome=f"http_{api.status}").inc()
            _log.warning("signal_refused_at_webhook", code=exc.code, status=api.status)
            raise api from exc
        answer = result_body(result)
        metrics.decision_latency.observe(time.perf_counter() - started)
        metrics.signals.labels(outcome=str(answer.get("outcome", "answered"))).inc()
        decision = answer.get("decision")
        if decision is not None:
            metrics.record_decision(str(decision), str(answer.get("reason_code")), "signal")
        return JSONResponse(answer)

    return router


__all__ = [
    "GATE_WORKERS",
    "MAX_BODY_BYTES",
    "PAPER_GATE_WORKERS",
    "PAPER_MAX_BATCH",
    "build_router",
    "read_limited",
    "result_body",
]
