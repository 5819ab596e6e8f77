"""Operator endpoints (bearer token): status, kill switch, latch reset, decisions, audit verify.

``/v1/decisions/counts`` (signals decided and refused per minute) feeds the dashboard's chart.

All of ``/v1/status``, ``/v1/decisions`` and ``/v1/audit/verify`` need the token too: status
reveals positions of the safety system, and the dashboard asks the operator for the token.
Without a configured token every one of them answers 403 ``OPERATOR_API_DISABLED``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Header, Query
from pydantic import BaseModel, ConfigDict, Field

from ..activity import MAX_MINUTES, DecisionActivity
from ..codes import ErrorCode
from .auth import check_bearer
from .errors import ApiError

if TYPE_CHECKING:
    from ..bootstrap import Container

_AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "AUTH_INVALID: missing or wrong bearer token"},
    403: {"description": "OPERATOR_API_DISABLED: no operator token configured"},
    503: {"description": "DATABASE_UNAVAILABLE / AUDIT_UNAVAILABLE"},
}


class KillSwitchRequest(BaseModel):
    """Engage (``active: true``) or release the kill switch."""

    model_config = ConfigDict(extra="forbid")

    active: bool
    operator_id: Annotated[str, Field(min_length=1, max_length=128, pattern=r"\S")]
    reason: Annotated[str, Field(min_length=1, max_length=1000, pattern=r"\S")]


class LatchResetRequest(BaseModel):
    """Reset the HALT latch."""

    model_config = ConfigDict(extra="forbid")

    operator_id: Annotated[str, Field(min_length=1, max_length=128, pattern=r"\S")]
    reason: Annotated[str, Field(min_length=1, max_length=1000, pattern=r"\S")]


def _parse_since(value: str | None) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ApiError(
            422,
            ErrorCode.INPUT_INVALID_VALUE,
            "since must be an ISO-8601 timestamp with a timezone",
            fields=[{"field": "since", "error": "not an ISO-8601 timestamp"}],
        ) from exc
    if moment.utcoffset() is None:
        raise ApiError(
            422,
            ErrorCode.INPUT_INVALID_VALUE,
            "since must carry a timezone",
            fields=[{"field": "since", "error": "no timezone"}],
        )
    return moment


def build_router(container: Container) -> APIRouter:
    """Return the operator router bound to ``container``."""
    token = container.settings.operator_token

    def operator_auth(
        authorization: Annotated[str | None, Header(description="Bearer <operator token>")] = None,
    ) -> None:
        check_bearer(token, authorization)

    router = APIRouter(
        prefix="/v1",
        tags=["operator"],
        dependencies=[Depends(operator_auth)],
        responses=_AUTH_RESPONSES,
    )
    operator = container.operator

    @router.get("/status", summary="The state now (never writes)")
    def status() -> dict[str, Any]:
        return operator.status()

    @router.post("/kill-switch", summary="Engage or release the kill switch (recorded)")
    def kill_switch(request: KillSwitchRequest) -> dict[str, Any]:
        return operator.set_kill_switch(request.active, request.operator_id, request.reason)

    @router.post("/latch/reset", summary="Reset the HALT latch (recorded)")
    def latch_reset(request: LatchResetRequest) -> dict[str, Any]:
        return operator.reset_latch(request.operator_id, request.reason)

    @router.get("/decisions", summary="Recent policy decisions, newest first")
    def decisions(
        since: Annotated[str | None, Query(description="ISO-8601 UTC lower bound")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        rows = operator.decisions(_parse_since(since), limit)
        return {"decisions": rows, "count": len(rows)}

    activity = DecisionActivity(container.audit_store, container.clock)

    @router.get(
        "/decisions/counts",
        summary="Signals decided and refused per minute (the dashboard's chart)",
        description=(
            "One entry per UTC minute, oldest first, the current minute last: `decisions` "
            "(signals the gate answered; repeats of a signal_id are not counted), `refused`, "
            "`accepted` and `by_decision`. Read from `signal_audit`. Minutes a capped scan "
            "could not reach are `null` and `truncated` is true."
        ),
    )
    def decision_counts(
        minutes: Annotated[int, Query(ge=1, le=MAX_MINUTES, description="How many minutes")] = 60,
    ) -> dict[str, Any]:
        return activity.per_minute(minutes)

    @router.get("/audit/verify", summary="Re-compute every hash chain")
    def audit_verify() -> dict[str, Any]:
        return operator.verify()

    return router


__all__ = ["KillSwitchRequest", "LatchResetRequest", "build_router"]
