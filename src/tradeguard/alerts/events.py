"""Alerts raised by watching the service's own readings, and the dispatcher built from settings.

The events that are operator actions or adapter events (kill switch, latch reset, lockdown,
reconciliation, audit verification) publish where their audit row is written. Two conditions
are transitions of a reading instead, watched here: the HALT latch (seen by the heartbeat after
it recorded the decision row) and the exchange clock drift (seen after each time sync).
"""

from __future__ import annotations

from collections.abc import Callable

from ..codes import ErrorCode
from ..policy import Clock, PolicyDecision
from ..ports import Alert, AlertSeverity, AlertSink, publish_alert
from ..settings import Settings
from ..sources.clock_sync import TimeSyncResult
from .apprise_target import apprise_targets, split_alert_urls
from .dispatcher import AlertConfig, AlertDispatcher


def status_url(settings: Settings) -> str:
    """Return the status URL alerts link to (``TRADEGUARD_PUBLIC_URL`` or host and port)."""
    base = settings.public_url or f"http://{settings.host}:{settings.port}"
    return base.rstrip("/") + "/v1/status"


def build_alert_dispatcher(
    settings: Settings,
    clock: Clock,
    on_outcome: Callable[[str], object] | None = None,
) -> AlertDispatcher:
    """Build the dispatcher and its apprise targets from ``settings`` (not started).

    Raises:
        ConfigurationError: ``ALERT_URL_INVALID`` for an entry apprise cannot notify.
    """
    targets = apprise_targets(split_alert_urls(settings.alert_urls), settings.alert_timeout_seconds)
    config = AlertConfig(
        min_severity=AlertSeverity(settings.alert_min_severity),
        fold_window_seconds=settings.alert_fold_window_seconds,
        retry_attempts=settings.alert_retry_attempts,
        queue_size=settings.alert_queue_size,
        status_url=status_url(settings),
    )
    return AlertDispatcher(targets, config, clock=clock, on_outcome=on_outcome)


def halt_latched_alert(decision: PolicyDecision, correlation_id: str) -> Alert:
    """Return the alert for a HALT that latched (names the gate and the code)."""
    gate = "none" if decision.blocking_gate is None else str(decision.blocking_gate)
    code = decision.reason_code.value
    return Alert(
        event="halt_latched",
        code=code,
        severity=AlertSeverity.CRITICAL,
        summary=f"HALT latched by gate {gate} ({code}): no new risk until reset",
        correlation_id=correlation_id,
        details={"gate": gate, "decision": decision.decision.value},
    )


class LatchAlerts:
    """Publish ``halt_latched`` once each time the latch goes from free to held."""

    def __init__(self, sink: AlertSink | None) -> None:
        self._sink = sink
        self._latched = False

    def observe(self, decision: PolicyDecision, correlation_id: str) -> None:
        """Look at one evaluation's decision (after its row was recorded)."""
        if decision.is_latched and not self._latched:
            publish_alert(self._sink, halt_latched_alert(decision, correlation_id))
        self._latched = decision.is_latched


class DriftAlerts:
    """Publish when the exchange clock drift leaves the tolerance (NEUTRAL) and comes back."""

    def __init__(self, sink: AlertSink | None) -> None:
        self._sink = sink
        self._drifting = False

    def __call__(self, result: TimeSyncResult) -> None:
        """Look at one time sync result."""
        drifting = result.error_code == ErrorCode.EXCHANGE_TIME_DRIFT
        if drifting and not self._drifting:
            self._publish(result, ErrorCode.EXCHANGE_TIME_DRIFT, AlertSeverity.WARNING)
        elif self._drifting and result.is_within_tolerance:
            self._publish(result, ErrorCode.EXCHANGE_TIME_DRIFT_RESOLVED, AlertSeverity.INFO)
        if drifting or result.is_within_tolerance:  # an unreadable clock changes nothing here
            self._drifting = drifting

    def _publish(self, result: TimeSyncResult, code: ErrorCode, severity: AlertSeverity) -> None:
        drift = "unknown" if result.drift_ms is None else f"{result.drift_ms:.0f}"
        resolved = code is ErrorCode.EXCHANGE_TIME_DRIFT_RESOLVED
        summary = (
            f"exchange clock drift back within tolerance ({drift} ms)"
            if resolved
            else f"exchange clock drift {drift} ms beyond tolerance: gate NEUTRAL"
        )
        publish_alert(
            self._sink,
            Alert(
                event="clock_drift_resolved" if resolved else "clock_drift",
                code=code.value,
                severity=severity,
                summary=summary,
                correlation_id=result.correlation_id,
                details={"drift_ms": drift},
            ),
        )


__all__ = [
    "DriftAlerts",
    "LatchAlerts",
    "build_alert_dispatcher",
    "halt_latched_alert",
    "status_url",
]
