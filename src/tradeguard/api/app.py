"""The FastAPI application: ``create_app(container)`` wires the routes to one container."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from .. import __version__
from ..codes import ErrorCode
from ..errors import TradeGuardError
from . import dashboard, decide_routes, operator_routes, signals
from .errors import error_body, install_error_handlers

if TYPE_CHECKING:
    from ..bootstrap import Container


def readiness(container: Container) -> tuple[bool, dict[str, Any]]:
    """Return whether the database and the policy sources answer now (no writes).

    The sources are read through ``status`` (the builder and policy the gate decides with), so
    the ``state`` shown here is the gate's state now, never a separate, older reading.
    """
    checks: dict[str, Any] = {}
    ready = True
    try:
        container.audit_store.ping()
        checks["database"] = "OK"
    except TradeGuardError as exc:
        checks["database"] = exc.code
        ready = False
    try:
        status = container.operator.status()
    except TradeGuardError as exc:  # no context at all: not ready, and HALT
        checks["sources"] = {"incomplete": ["ALL"], "code": exc.code}
        checks["state"] = "HALT"
        return False, checks
    failed = list(status["incomplete_sources"])
    checks["sources"] = "OK" if not failed else {"incomplete": failed}
    checks["state"] = status["state"]
    checks["health_status"] = status["health_status"]
    # Shown, not counted: an unreadable account makes the decision NEUTRAL, and exits must
    # still reach a service that a load balancer would stop routing to when not ready.
    for check in status["health_checks"]:
        if check["name"] == "exchange_account":
            checks["exchange_account"] = {"status": check["status"], "code": check["code"]}
    return ready and not failed, checks


def _scrape(container: Container) -> bytes:
    # The state gauges are read from ``status`` at scrape time: the gate's sources, now.
    try:
        container.metrics.observe_status(container.operator.status())
    except TradeGuardError:
        container.metrics.observe_status({"state": "HALT", "health_status": "RED"})
    return container.metrics.render()


def create_app(container: Container) -> FastAPI:
    """Return the service's web application bound to ``container``."""
    app = FastAPI(
        title="tradeguard",
        version=__version__,
        summary="Pre-trade permission layer: ALLOW / NEUTRAL / HALT with a tamper-evident trail.",
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    install_error_handlers(app)
    signal_router, webhook = signals.build_router(container)
    app.include_router(signal_router)
    app.include_router(operator_routes.build_router(container))
    app.include_router(decide_routes.build_router(container))

    @app.get("/healthz", tags=["probes"], summary="Alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["probes"], summary="Database and sources answer")
    async def readyz() -> JSONResponse:
        ready, checks = await run_in_threadpool(readiness, container)
        if ready:
            return JSONResponse({"ready": True, "checks": checks})
        body = error_body(ErrorCode.DATABASE_UNAVAILABLE, "not ready")
        return JSONResponse({**body, "ready": False, "checks": checks}, 503)

    @app.get("/metrics", tags=["probes"], summary="Prometheus metrics")
    async def metrics() -> Response:
        body = await run_in_threadpool(_scrape, container)
        return Response(body, media_type=container.metrics.content_type)

    app.include_router(dashboard.build_router())
    app.add_middleware(signals.WebhookFastPath, webhook=webhook)
    return app


__all__ = ["create_app", "readiness"]
