"""Operator use cases shared by the HTTP API and the CLI: status, kill switch, latch reset.

``status`` never writes: it builds a context from the sources and evaluates it with a policy
whose latch store only reads (a transition it would make is kept in memory and dropped).
``set_kill_switch`` and ``reset_latch`` are recorded commands: the kill switch store writes the
state and its ``operator_audit`` row atomically; the latch reset is recorded before the latch
clears (``TradePermissionPolicy.reset_policy_latch``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from .audit.records import AuditTable
from .codes import ErrorCode
from .errors import InvalidInputError, TradeGuardError
from .ids import new_correlation_id
from .logging import get_logger
from .policy import (
    Clock,
    LatchState,
    LatchStore,
    OperatorActionRecord,
    PolicyContext,
    TradePermissionPolicy,
    format_utc,
)
from .ports import (
    LOCKDOWN_STATE,
    Alert,
    AlertSeverity,
    AlertSink,
    AuditStore,
    KillSwitchState,
    VerifyReport,
    is_lockdown,
    publish_alert,
)

_log = get_logger("tradeguard.operator")

MAX_DECISIONS = 1000


class CircuitBreakerPort(Protocol):
    """The kill switch as operators use it."""

    def engage(
        self, operator_id: str, reason: str, correlation_id: str, *, code: str = ...
    ) -> OperatorActionRecord:
        """Engage the kill switch, recorded."""
        ...

    def release(self, operator_id: str, reason: str, correlation_id: str) -> OperatorActionRecord:
        """Release the kill switch, recorded."""
        ...

    def state(self) -> KillSwitchState:
        """Return the stored state (raises when unreadable)."""
        ...


class ContextBuilderPort(Protocol):
    """Builds a policy context from the sources."""

    def build(self, correlation_id: str) -> PolicyContext:
        """Return a context; failed sources are named in ``incomplete_sources``."""
        ...

    def last_details(self) -> Any:
        """Return the last build's context with each source's answer (``context``,
        ``health.results``, ``budget``, ``risk``), or None before the first build."""
        ...


class HealthPort(Protocol):
    """The health module as ``status`` reads it."""

    def results(self) -> list[Any]:
        """Return every check's result (``to_dict()`` gives name, status, code)."""
        ...


class _ReadOnlyLatchStore:
    """Reads the durable latch; keeps what the policy would save in memory only."""

    def __init__(self, inner: LatchStore) -> None:
        self._inner = inner
        self._override: LatchState | None = None

    def load(self) -> LatchState:
        return self._override if self._override is not None else self._inner.load()

    def save(self, state: LatchState) -> None:
        self._override = state


@dataclass(frozen=True, slots=True)
class StatusProbes:
    """Live readings the status shows beside the decision (from the background work)."""

    clock_drift_ms: Callable[[], float | None] = lambda: None
    feed: Callable[[], dict[str, Any] | None] = lambda: None
    safeguards: Callable[[], dict[str, str]] = dict
    exchange: Callable[[], dict[str, Any] | None] = lambda: None


def _require(operator_id: str, reason: str) -> None:
    for name, value in (("operator_id", operator_id), ("reason", reason)):
        if not isinstance(value, str) or not value.strip():
            raise InvalidInputError(
                ErrorCode.OPERATOR_ID_REQUIRED, f"{name} must be non-empty", field=name
            )


def kill_switch_dict(state: KillSwitchState) -> dict[str, Any]:
    """Return the kill switch state as JSON-ready values."""
    return {
        "active": state.active,
        "actor": state.actor,
        "reason": state.reason,
        "since": None if state.since is None else format_utc(state.since),
        "code": state.code,
    }


class OperatorService:
    """What an operator can ask and do, for the API, the CLI and the dashboard."""

    def __init__(
        self,
        *,
        settings: Any,
        clock: Clock,
        audit_store: AuditStore,
        policy: TradePermissionPolicy,
        latch_store: LatchStore,
        circuit_breaker: CircuitBreakerPort,
        builder: ContextBuilderPort,
        health: HealthPort,
        probes: StatusProbes | None = None,
        alerts: AlertSink | None = None,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._store = audit_store
        self._policy = policy
        self._latch_store = latch_store
        self._breaker = circuit_breaker
        self._builder = builder
        self._health = health
        self._probes = probes if probes is not None else StatusProbes()
        self.alerts = alerts

    # -- reads ------------------------------------------------------------------------------

    def _kill_switch_state(self) -> KillSwitchState:
        try:
            return self._breaker.state()
        except Exception as exc:  # an unreadable kill switch is engaged (fail closed)
            _log.error("kill_switch_unreadable", code=ErrorCode.TPP_002, error=repr(exc))
            return KillSwitchState(active=True, code=ErrorCode.TPP_002)

    def status(self) -> dict[str, Any]:
        """Return the state now as the ``GET /v1/status`` object; never writes."""
        correlation_id = new_correlation_id()
        context = self._builder.build(correlation_id)
        read_only = _ReadOnlyLatchStore(self._latch_store)
        window = getattr(self._settings, "latch_reset_window_seconds", 300)
        decision = TradePermissionPolicy(window, clock=self._clock, latch_store=read_only).evaluate(
            context
        )
        kill = self._kill_switch_state()
        lockdown = is_lockdown(kill)
        try:
            latch: dict[str, Any] | None = self._latch_store.load().to_dict()
        except Exception as exc:  # shown as unreadable; the decision is already HALT
            latch = {"phase": "UNREADABLE", "error": repr(exc)}
        details = self._builder.last_details()
        if details is None or details.context.correlation_id != correlation_id:
            details = None  # another thread built since; fall back to a fresh health pass
        results = (
            details.health.results
            if details is not None and details.health is not None
            else self._health.results()
        )
        checks = [self._check_dict(result) for result in results]
        return {
            "state": LOCKDOWN_STATE if lockdown else decision.decision.value,
            "decision": decision.decision.value,
            "reason_code": decision.reason_code.value,
            "blocking_gate": None if decision.blocking_gate is None else decision.blocking_gate,
            "precedence_rank": decision.precedence_rank,
            "is_latched": decision.is_latched,
            "kill_switch_active": context.kill_switch_active,
            "budget_signal": context.budget_signal.value,
            "health_status": context.health_status.value,
            "risk_assessment": context.risk_assessment.value,
            "incomplete_sources": [gate.value for gate in context.incomplete_sources],
            "health_checks": checks,
            "clock_drift_ms": self._probes.clock_drift_ms(),
            "execution_mode": str(getattr(self._settings, "execution_mode", "DRY_RUN")),
            "exchange": getattr(self._settings, "exchange", None),
            "policy_enabled": bool(getattr(self._settings, "policy_enabled", True)),
            "lockdown": lockdown,
            "kill_switch": kill_switch_dict(kill),
            "latch": latch,
            "budget": None
            if details is None or details.budget is None
            else details.budget.to_dict(),
            "risk": None if details is None or details.risk is None else details.risk.to_dict(),
            "event_feed": self._probes.feed(),
            "exchange_reachability": self._probes.exchange(),
            "safeguards": self._probes.safeguards(),
            "correlation_id": correlation_id,
            "timestamp_utc": context.timestamp_utc,
        }

    @staticmethod
    def _check_dict(result: Any) -> dict[str, Any]:
        data = result.to_dict() if hasattr(result, "to_dict") else dict(result)
        return {key: data.get(key) for key in ("name", "status", "code", "detail")}

    def decisions(self, since: datetime | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Return the newest decision rows (newest first), at most ``limit``."""
        bounded = max(1, min(int(limit), MAX_DECISIONS))
        rows = self._store.rows(
            AuditTable.POLICY_DECISION, since=since, limit=bounded, newest_first=True
        )
        return [dict(row) for row in rows]

    def verify(self) -> dict[str, Any]:
        """Re-compute every chain; return the report as JSON-ready values."""
        report = self._store.verify()
        if not report.ok:
            publish_alert(self.alerts, verify_failed_alert(report, new_correlation_id()))
        return {
            "ok": report.ok,
            "rows_checked": report.rows_checked,
            "heads": [
                {"table": head.table.value, "seq": head.seq, "row_hash": head.row_hash}
                for head in report.heads
            ],
            "breaks": [
                {"table": b.table.value, "seq": b.seq, "code": b.code, "message": b.message}
                for b in report.breaks
            ],
        }

    # -- commands ---------------------------------------------------------------------------

    def set_kill_switch(self, active: bool, operator_id: str, reason: str) -> dict[str, Any]:
        """Engage or release the kill switch (recorded); return the new state."""
        _require(operator_id, reason)
        correlation_id = new_correlation_id()
        if active:
            record = self._breaker.engage(operator_id, reason, correlation_id)
        else:
            record = self._breaker.release(operator_id, reason, correlation_id)
        state = self._kill_switch_state()
        return {
            "action": str(record.action),
            "correlation_id": correlation_id,
            "kill_switch": kill_switch_dict(state),
        }

    def reset_latch(self, operator_id: str, reason: str) -> dict[str, Any]:
        """Reset the HALT latch (recorded first); return the latch before and after."""
        _require(operator_id, reason)
        correlation_id = new_correlation_id()
        try:
            before = self._latch_store.load()
        except Exception as exc:
            raise _unavailable("the latch state cannot be read", exc) from exc
        record = self._policy.reset_policy_latch(
            correlation_id, operator_id, reason, record_action=self._store.record_operator_action
        )
        _log.warning(
            "latch_reset",
            code=record.action,
            correlation_id=correlation_id,
            operator_id=operator_id,
            was_latched=before.is_latched,
        )
        publish_alert(self.alerts, latch_reset_alert(record, before.is_latched))
        return {
            "action": str(record.action),
            "correlation_id": correlation_id,
            "was_latched": before.is_latched,
            "previous": before.to_dict(),
            "latch": self._latch_store.load().to_dict(),
        }


def latch_reset_alert(record: OperatorActionRecord, was_latched: bool) -> Alert:
    """Return the alert for an operator's latch reset (recorded before it is published)."""
    return Alert(
        event="latch_reset",
        code=ErrorCode.LATCH_RESET.value,
        severity=AlertSeverity.WARNING,
        summary=f"HALT latch reset by {record.operator_id}: {record.reason}",
        correlation_id=record.correlation_id,
        details={
            "operator_id": record.operator_id,
            "reason": record.reason,
            "was_latched": str(was_latched).lower(),
        },
    )


def verify_failed_alert(report: VerifyReport, correlation_id: str) -> Alert:
    """Return the alert for an audit verification that found a break (names the first)."""
    first = report.breaks[0]
    return Alert(
        event="audit_verification_failed",
        code=first.code,
        severity=AlertSeverity.CRITICAL,
        summary=f"audit trail verification failed: {first.table.value} at seq {first.seq} "
        f"({len(report.breaks)} problem(s))",
        correlation_id=correlation_id,
        details={"table": first.table.value, "seq": str(first.seq), "message": first.message},
    )


def _unavailable(message: str, exc: Exception) -> TradeGuardError:
    from .errors import AuditUnavailableError

    return AuditUnavailableError(ErrorCode.DATABASE_UNAVAILABLE, f"{message}: {exc!r}")


__all__ = [
    "OperatorService",
    "StatusProbes",
    "kill_switch_dict",
    "latch_reset_alert",
    "verify_failed_alert",
]
