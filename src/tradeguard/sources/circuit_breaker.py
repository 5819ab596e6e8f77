"""CircuitBreaker: the shared kill switch (SPEC §3).

The state lives in the audit store's database (``KillSwitchStore``), so every process and
instance on the same database sees one kill switch; the store propagates changes (PostgreSQL
LISTEN/NOTIFY plus polling; SQLite a cheap read). Engaging and releasing are operator actions
with an operator id and a reason, written to ``operator_audit`` atomically with the state.

Fail closed: an unreadable state raises from :meth:`CircuitBreaker.is_active` (the context
builder counts it as engaged, TPP-002), and an engage that cannot be persisted still holds
this process's kill switch until a release succeeds.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

from ..codes import ErrorCode
from ..errors import InvalidInputError, SourceUnavailableError
from ..logging import get_logger
from ..policy import Clock, OperatorActionRecord
from ..ports import (
    LOCKDOWN_ACTOR,
    Alert,
    AlertSeverity,
    AlertSink,
    KillSwitchState,
    KillSwitchStore,
    publish_alert,
)

_log = get_logger(__name__)


def _require_correlation_id(correlation_id: str) -> None:
    try:
        uuid.UUID(str(correlation_id))
    except ValueError as exc:
        raise InvalidInputError(
            ErrorCode.INPUT_INVALID_VALUE,
            "correlation_id must be a UUID string",
            field="correlation_id",
        ) from exc


def _state_summary(state: KillSwitchState | None) -> dict[str, Any]:
    if state is None:
        return {"readable": False}
    return {
        "active": state.active,
        "actor": state.actor,
        "reason": state.reason,
        "code": state.code,
        "since": None if state.since is None else state.since.isoformat(),
    }


def _engaged_alert(record: OperatorActionRecord, code: str) -> Alert:
    details = {"operator_id": record.operator_id, "reason": record.reason}
    if record.operator_id == LOCKDOWN_ACTOR and code == ErrorCode.SSE_RECONNECT_EXHAUSTED:
        return Alert(
            event="l6_lockdown",
            code=ErrorCode.L6_LOCKDOWN.value,
            severity=AlertSeverity.CRITICAL,
            summary=f"L6 lockdown: {record.reason}; kill switch engaged until an operator "
            "releases it",
            correlation_id=record.correlation_id,
            details={**details, "cause": code},
        )
    return Alert(
        event="kill_switch_engaged",
        code=ErrorCode.KILL_SWITCH_ENGAGED.value,
        severity=AlertSeverity.CRITICAL,
        summary=f"kill switch engaged by {record.operator_id}: {record.reason}",
        correlation_id=record.correlation_id,
        details={**details, "cause": code} if code != ErrorCode.KILL_SWITCH_ENGAGED else details,
    )


class CircuitBreaker:
    """Engage, release and read the shared kill switch.

    Args:
        store: The durable kill switch state (from the audit store).
        clock: Timestamps of the actions.
        on_engage: Called after every engage to cancel resting orders; its failure is logged
            and never undoes the engage.
        alerts: Told of every engage and release once its ``operator_audit`` row is written
            (the L6 lockdown as ``l6_lockdown``).
    """

    def __init__(
        self,
        store: KillSwitchStore,
        clock: Clock,
        on_engage: Callable[[], object] | None = None,
        *,
        alerts: AlertSink | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self.on_engage = on_engage
        self.alerts = alerts
        self._held_locally = False
        self._listeners: list[Callable[[], object]] = []
        self._lock = threading.Lock()

    def add_listener(self, listener: Callable[[], object]) -> None:
        """Call ``listener`` after every local engage or release (cache invalidation)."""
        self._listeners.append(listener)

    def is_active(self) -> bool:
        """Return True while the kill switch is engaged.

        Raises:
            SourceUnavailableError: When the state cannot be read or is not a valid state;
                callers must treat that as engaged.
        """
        if self._held_locally:
            return True
        active = self.state().active
        if type(active) is not bool:
            raise SourceUnavailableError(
                ErrorCode.TPP_002, f"kill switch state has no boolean 'active': {active!r}"
            )
        return active

    def state(self) -> KillSwitchState:
        """Return the stored state (raises ``SourceUnavailableError`` when unreadable)."""
        try:
            state = self._store.load()
        except Exception as exc:
            raise SourceUnavailableError(
                ErrorCode.TPP_002, f"kill switch state unreadable: {exc!r}"
            ) from exc
        if not isinstance(state, KillSwitchState):
            raise SourceUnavailableError(
                ErrorCode.TPP_002, f"kill switch store answered {type(state).__name__}"
            )
        return state

    def engage(
        self,
        operator_id: str,
        reason: str,
        correlation_id: str,
        code: str = ErrorCode.KILL_SWITCH_ENGAGED,
    ) -> OperatorActionRecord:
        """Engage the kill switch for every instance, then cancel resting orders.

        ``code`` says why (``KILL_SWITCH_ENGAGED`` for an operator, ``SSE_RECONNECT_EXHAUSTED``
        for the L6 lockdown); it is kept in the state and the record's details.

        Raises:
            InvalidInputError: Without an operator id, a reason or a UUID correlation id.
            AuditUnavailableError: When the store cannot persist it (this process stays
                engaged regardless, and resting orders are still cancelled).
        """
        _require_correlation_id(correlation_id)
        now = self._clock.now()
        previous = self._readable_state()
        record = OperatorActionRecord(
            action=ErrorCode.KILL_SWITCH_ENGAGED,
            correlation_id=correlation_id,
            operator_id=operator_id,
            reason=reason,
            timestamp_utc=now,
            details={"code": str(code), "previous": _state_summary(previous)},
        )
        state = KillSwitchState(
            active=True, actor=operator_id, reason=reason, since=now, code=str(code)
        )
        with self._lock:
            self._held_locally = True
        self._notify()
        failure: Exception | None = None
        try:
            self._store.set(state, record)
        except Exception as exc:  # re-raised below, after the resting orders are cancelled
            failure = exc
            _log.error(
                "kill_switch_persist_failed",
                code=ErrorCode.AUDIT_UNAVAILABLE,
                correlation_id=correlation_id,
                error=repr(exc),
            )
        else:
            with self._lock:
                self._held_locally = False
            _log.warning(
                "kill_switch_engaged",
                code=str(code),
                correlation_id=correlation_id,
                operator_id=operator_id,
                reason=reason,
            )
            publish_alert(self.alerts, _engaged_alert(record, str(code)))
        self._cancel_resting_orders(correlation_id)
        if failure is not None:
            raise failure
        return record

    def release(self, operator_id: str, reason: str, correlation_id: str) -> OperatorActionRecord:
        """Release the kill switch for every instance.

        Raises:
            InvalidInputError: Without an operator id, a reason or a UUID correlation id.
            AuditUnavailableError: When the store cannot persist it (nothing changes).
        """
        _require_correlation_id(correlation_id)
        now = self._clock.now()
        previous = self._readable_state()
        record = OperatorActionRecord(
            action=ErrorCode.KILL_SWITCH_RELEASED,
            correlation_id=correlation_id,
            operator_id=operator_id,
            reason=reason,
            timestamp_utc=now,
            details={"previous": _state_summary(previous)},
        )
        state = KillSwitchState(
            active=False,
            actor=operator_id,
            reason=reason,
            since=now,
            code=ErrorCode.KILL_SWITCH_RELEASED.value,
        )
        self._store.set(state, record)
        with self._lock:
            self._held_locally = False
        self._notify()
        _log.warning(
            "kill_switch_released",
            code=ErrorCode.KILL_SWITCH_RELEASED,
            correlation_id=correlation_id,
            operator_id=operator_id,
            reason=reason,
        )
        publish_alert(
            self.alerts,
            Alert(
                event="kill_switch_released",
                code=ErrorCode.KILL_SWITCH_RELEASED.value,
                severity=AlertSeverity.WARNING,
                summary=f"kill switch released by {operator_id}: {reason}",
                correlation_id=correlation_id,
                details={"operator_id": operator_id, "reason": reason},
            ),
        )
        return record

    def _readable_state(self) -> KillSwitchState | None:
        try:
            return self.state()
        except SourceUnavailableError:
            return None

    def _cancel_resting_orders(self, correlation_id: str) -> None:
        if self.on_engage is None:
            return
        try:
            self.on_engage()
        except Exception as exc:  # isolated: the kill switch stays engaged either way
            _log.error(
                "kill_switch_cancel_failed",
                code=ErrorCode.EXCHANGE_ERROR,
                correlation_id=correlation_id,
                error=repr(exc),
            )

    def _notify(self) -> None:
        for listener in tuple(self._listeners):
            try:
                listener()
            except Exception as exc:  # a listener only invalidates caches; logged
                _log.error("kill_switch_listener_failed", error=repr(exc))


__all__ = ["CircuitBreaker"]
