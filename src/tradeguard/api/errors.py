"""The API's error body ``{code, message, fields?}`` and the mapping of errors to statuses."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..codes import ErrorCode
from ..errors import (
    ConfigurationError,
    DependencyUnavailableError,
    IntegrityViolationError,
    InvalidInputError,
    TradeGuardError,
)
from ..logging import get_logger

_log = get_logger("tradeguard.api")


class ApiError(Exception):
    """An HTTP error with a stable code: raised by routes, rendered as the JSON error body."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        fields: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = str(code)
        self.message = message
        self.fields = fields
        self.headers = headers


def error_body(
    code: str, message: str, fields: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    """Return the JSON error body."""
    body: dict[str, Any] = {"code": str(code), "message": message}
    if fields:
        body["fields"] = fields
    return body


def status_of(error: TradeGuardError) -> int:
    """Return the HTTP status of a tradeguard error."""
    if error.code == ErrorCode.SIGNAL_REPLAYED:
        return 409
    if isinstance(error, InvalidInputError):
        return 422
    if isinstance(error, DependencyUnavailableError | IntegrityViolationError):
        return 503
    if isinstance(error, ConfigurationError):
        return 503
    return 503


def api_error_from(error: TradeGuardError) -> ApiError:
    """Translate a tradeguard error into an ``ApiError`` naming its field when it has one."""
    fields = None
    problems = getattr(error, "problems", None)
    if problems:
        fields = [{"field": where, "error": why} for where, why in problems]
    elif getattr(error, "field", None):
        fields = [{"field": str(getattr(error, "field", "")), "error": error.message}]
    return ApiError(status_of(error), error.code, error.message, fields=fields)


# Statuses Starlette raises by itself (no route, wrong method) and the code each answers with.
_HTTP_CODES: dict[int, ErrorCode] = {
    404: ErrorCode.ROUTE_NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
}


def install_error_handlers(app: FastAPI) -> None:
    """Render every error as ``{code, message, fields?}``; bad input never becomes a 5xx."""

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.code, exc.message, exc.fields), exc.status, headers=exc.headers
        )

    @app.exception_handler(TradeGuardError)
    async def _tradeguard_error(_request: Request, exc: TradeGuardError) -> JSONResponse:
        api = api_error_from(exc)
        return JSONResponse(error_body(api.code, api.message, api.fields), api.status)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [
            {
                "field": ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body",
                "error": str(err.get("msg", "invalid")),
            }
            for err in exc.errors()
        ]
        return JSONResponse(
            error_body(ErrorCode.INPUT_INVALID_VALUE, "invalid request", fields), 422
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code) or (
            ErrorCode.INPUT_INVALID_VALUE if exc.status_code < 500 else ErrorCode.INTERNAL_ERROR
        )
        return JSONResponse(error_body(code, str(exc.detail)), exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        _log.error("api_unexpected_error", code=ErrorCode.INTERNAL_ERROR, error=repr(exc))
        return JSONResponse(
            error_body(ErrorCode.INTERNAL_ERROR, "unexpected error; nothing was executed"), 500
        )


__all__ = ["ApiError", "api_error_from", "error_body", "install_error_handlers", "status_of"]
