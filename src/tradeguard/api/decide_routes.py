"""``POST /v1/decide`` and ``POST /v1/decide/{permit_id}/report``: the decide API.

Both are authenticated exactly like the signal webhook (signature or passphrase, the same
64 KiB limit) and run the blocking use case (:class:`~..execution.decide.DecideService`) on a
few threads of their own. ``/v1/decide`` takes a signal body and answers the decision without
sending an order; the report route takes ``{exchange_order_id, status, filled_quantity,
average_price?}``. Statuses: 401 bad auth, 404 unknown permit, 409 a replayed signal_id or an
expired or already reported permit, 413 too large, 422 invalid input, 503 cannot record.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from ..codes import ErrorCode
from ..errors import TradeGuardError
from ..logging import get_logger
from .errors import ApiError, api_error_from, error_body
from .runner import GateRunner
from .signals import SIGNAL_BODY_SCHEMA, ClientGoneError, authenticated_payload, read_limited

if TYPE_CHECKING:
    from ..bootstrap import Container

DECIDE_PATH: Final = "/v1/decide"
REPORT_PATH: Final = "/v1/decide/{permit_id}/report"
DECIDE_WORKERS: Final = 4
MAX_PERMIT_ID_LENGTH: Final = 128

_STATUS_OF_CODE: Final = {
    ErrorCode.PERMIT_UNKNOWN.value: 404,
    ErrorCode.PERMIT_EXPIRED.value: 409,
    ErrorCode.PERMIT_ALREADY_REPORTED.value: 409,
}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "AUTH_INVALID: bad or missing signature, timestamp or passphrase"},
    404: {"description": "PERMIT_UNKNOWN: no such permit (report route)"},
    409: {
        "description": "SIGNAL_REPLAYED (decide); PERMIT_EXPIRED / PERMIT_ALREADY_REPORTED (report)"
    },
    413: {"description": "BODY_TOO_LARGE: body over 64 KiB"},
    422: {"description": "SIGNAL_INVALID / PERMIT_REPORT_INVALID / INPUT_INVALID_JSON"},
    503: {"description": "AUDIT_UNAVAILABLE: cannot record (fail closed: nothing permitted)"},
}
_REPORT_BODY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["exchange_order_id", "status", "filled_quantity"],
    "properties": {
        "exchange_order_id": {"type": "string", "minLength": 1, "maxLength": 128},
        "status": {
            "type": "string",
            "enum": ["NEW", "PARTIALLY_FILLED", "FILLED", "CANCELLED", "REJECTED"],
        },
        "filled_quantity": {"type": "string", "example": "0.01"},
        "average_price": {"type": "string", "example": "50000"},
        "passphrase": {"type": "string", "description": "Only for senders that cannot sign."},
    },
}

_log = get_logger("tradeguard.api.decide")

Job = Callable[[], Any]


def _json_error(exc: ApiError | TradeGuardError) -> JSONResponse:
    api = exc if isinstance(exc, ApiError) else api_error_from(exc)
    status = _STATUS_OF_CODE.get(api.code, api.status)
    return JSONResponse(error_body(api.code, api.message, api.fields), status, headers=api.headers)


def build_router(container: Container) -> APIRouter:
    """Return the decide API's router bound to ``container`` (it owns its threads)."""
    decider = container.decider
    runner: GateRunner[Job, Any] = GateRunner(
        lambda job: job(), workers=DECIDE_WORKERS, name="tradeguard-decide"
    )
    router = APIRouter(on_shutdown=[runner.close])

    async def answer(request: Request, use: Callable[[dict[str, Any]], Any]) -> Response:
        try:
            body = await read_limited(request)
            payload = authenticated_payload(container, request.headers.get, body)
            result = await runner.run(lambda: use(payload))
        except ClientGoneError:
            return Response(status_code=400)
        except (ApiError, TradeGuardError) as exc:
            _log.info("decide_api_refused", code=exc.code, path=request.url.path)
            return _json_error(exc)
        data = result.to_dict()
        if "decision" in data:
            container.metrics.record_decision(data["decision"], data["reason_code"], "decide")
        return JSONResponse(data)

    @router.post(
        DECIDE_PATH,
        tags=["decide"],
        summary="Decide a bot's intent without sending an order",
        responses=_RESPONSES,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": SIGNAL_BODY_SCHEMA}},
            }
        },
    )
    async def decide(request: Request) -> Response:
        started = time.perf_counter()
        response = await answer(request, decider.decide)
        container.metrics.decision_latency.observe(time.perf_counter() - started)
        return response

    @router.post(
        REPORT_PATH,
        tags=["decide"],
        summary="Report the order a decide permit covered",
        responses=_RESPONSES,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _REPORT_BODY_SCHEMA}},
            }
        },
    )
    async def report(permit_id: str, request: Request) -> Response:
        if len(permit_id) > MAX_PERMIT_ID_LENGTH:
            return _json_error(ApiError(404, ErrorCode.PERMIT_UNKNOWN, "no such permit"))
        return await answer(request, lambda payload: decider.report(permit_id, payload))

    return router


__all__ = ["DECIDE_PATH", "REPORT_PATH", "build_router"]
