"""Deliver alerts off the signal path: filter, fold, queue per target, retry, count, log.

``publish`` is what the rest of the service calls. It never blocks on delivery and never
raises: an alert below the minimum severity is filtered, a repeat of the same condition inside
the fold window is folded, and otherwise the alert is put (without waiting) on each target's
bounded queue; a full queue drops it. Each target has its own worker thread, so a target that
hangs delays only its own alerts, and each attempt is bounded by the target's timeout. Every
outcome is counted (``tradeguard_alerts_total{outcome}``) and logged with the alert's code and
correlation id, never with a target's URL (only its scheme and position, e.g. ``json#1``).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from ..codes import ErrorCode
from ..logging import get_logger
from ..policy import Clock
from ..ports import Alert, AlertSeverity

_log = get_logger("tradeguard.alerts")

_PRUNE_AT = 4096
_FAILURE_CODES = {"failed": ErrorCode.ALERT_DELIVERY_FAILED, "dropped": ErrorCode.ALERT_DROPPED}


class AlertTarget(Protocol):
    """One place alerts go (an apprise URL, a test recorder)."""

    label: str
    """How logs and the CLI name the target: its scheme and position, never its URL."""

    def send(self, title: str, body: str, severity: AlertSeverity) -> bool:
        """Deliver once within the target's timeout; True when the target accepted it."""
        ...


@dataclass(frozen=True, slots=True)
class AlertConfig:
    """How alerts are filtered, folded, queued and retried."""

    min_severity: AlertSeverity = AlertSeverity.INFO
    fold_window_seconds: float = 60.0
    retry_attempts: int = 3
    backoff_initial_seconds: float = 0.5
    backoff_max_seconds: float = 4.0
    queue_size: int = 256
    status_url: str | None = None


def render(alert: Alert, status_url: str | None) -> tuple[str, str]:
    """Return the title and body of ``alert``: code, correlation id and status link included."""
    title = f"[tradeguard {alert.severity.value}] {alert.summary}"
    lines = [
        alert.summary,
        f"code: {alert.code}",
        f"severity: {alert.severity.value}",
        f"event: {alert.event}",
        f"correlation_id: {alert.correlation_id}",
    ]
    lines += [f"{key}: {value}" for key, value in alert.details.items()]
    if status_url:
        lines.append(f"status: {status_url}")
    return title, "\n".join(lines)


class _Worker:
    """One target's bounded queue and the thread that drains it."""

    def __init__(self, target: AlertTarget, size: int) -> None:
        self.target = target
        self.queue: queue.Queue[Alert] = queue.Queue(maxsize=size)
        self.thread: threading.Thread | None = None


class AlertDispatcher:
    """The service's ``AlertSink``: publish without blocking, deliver on worker threads.

    Args:
        targets: Where alerts go; none means alerts are only logged where they happen.
        config: Severity filter, fold window, queue size, retries.
        clock: Monotonic readings for the fold window.
        on_outcome: Called with each outcome (``sent``, ``failed``, ``dropped``, ``folded``,
            ``filtered``); the metrics counter.
        sleep: Waits between retries (a fake in tests).
    """

    def __init__(
        self,
        targets: Sequence[AlertTarget],
        config: AlertConfig,
        *,
        clock: Clock,
        on_outcome: Callable[[str], object] | None = None,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        self.config = config
        self._clock = clock
        self._on_outcome = on_outcome
        self._sleep = sleep
        self._workers = [_Worker(target, config.queue_size) for target in targets]
        self._lock = threading.Lock()
        self._recent: dict[str, tuple[float, int]] = {}
        self._closing = threading.Event()
        self._abandon = threading.Event()
        self.counts: dict[str, int] = {}

    @property
    def targets(self) -> list[AlertTarget]:
        """The configured targets."""
        return [worker.target for worker in self._workers]

    # -- publishing (any thread, never blocks, never raises) --------------------------------

    def publish(self, alert: Alert) -> None:
        """Filter, fold and enqueue ``alert`` for every target; never blocks or raises."""
        try:
            self._publish(alert)
        except Exception as exc:  # an alert never breaks the action it reports
            _log.error("alert_publish_failed", code=alert.code, error=repr(exc))

    def _publish(self, alert: Alert) -> None:
        if not self._workers:
            return
        if alert.severity.rank < self.config.min_severity.rank:
            self._outcome("filtered", alert)
            return
        folded_before = self._fold(alert)
        if folded_before is None:
            self._outcome("folded", alert)
            return
        if folded_before:
            alert = replace(alert, details={**alert.details, "folded_before": str(folded_before)})
        for worker in self._workers:
            try:
                worker.queue.put_nowait(alert)
            except queue.Full:
                self._outcome("dropped", alert, worker.target.label)

    def _fold(self, alert: Alert) -> int | None:
        """Return None when ``alert`` is folded, else how many were folded before it."""
        window = self.config.fold_window_seconds
        if window <= 0:
            return 0
        key = alert.fold_key
        now = self._clock.monotonic()
        with self._lock:
            last = self._recent.get(key)
            if last is not None and now - last[0] < window:
                self._recent[key] = (last[0], last[1] + 1)
                return None
            if len(self._recent) >= _PRUNE_AT:
                self._recent = {k: v for k, v in self._recent.items() if now - v[0] < window}
            self._recent[key] = (now, 0)
        return 0 if last is None else last[1]

    # -- delivery (worker threads, or the caller for ``alerts test``) -----------------------

    def deliver(self, target: AlertTarget, alert: Alert) -> bool:
        """Send ``alert`` to ``target`` with retries and backoff; True when delivered."""
        title, body = render(alert, self.config.status_url)
        delay = self.config.backoff_initial_seconds
        error = "refused"
        attempts = max(1, self.config.retry_attempts)
        for attempt in range(1, attempts + 1):
            try:
                if target.send(title, body, alert.severity):
                    self._outcome("sent", alert, target.label, attempts=attempt)
                    return True
                error = "refused"
            except Exception as exc:  # a target's failure is counted, never raised
                error = type(exc).__name__
            if attempt < attempts and not self._abandon.is_set():
                self._sleep(delay)
                delay = min(delay * 2, self.config.backoff_max_seconds)
        self._outcome("failed", alert, target.label, attempts=attempts, error=error)
        return False

    def _drain(self, worker: _Worker) -> None:
        while True:
            try:
                alert = worker.queue.get(timeout=0.1)
            except queue.Empty:
                if self._closing.is_set():
                    return
                continue
            if self._abandon.is_set():
                self._outcome("dropped", alert, worker.target.label, during="shutdown")
                continue
            self.deliver(worker.target, alert)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start one worker thread per target (idempotent)."""
        for worker in self._workers:
            if worker.thread is None:
                worker.thread = threading.Thread(
                    target=self._drain,
                    args=(worker,),
                    name=f"alerts-{worker.target.label}",
                    daemon=True,
                )
                worker.thread.start()

    def close(self, timeout: float = 5.0) -> None:
        """Deliver what is queued within ``timeout`` seconds, then stop; the rest is dropped."""
        self._closing.set()
        deadline = time.monotonic() + timeout
        for worker in self._workers:
            if worker.thread is not None:
                worker.thread.join(max(0.0, deadline - time.monotonic()))
        self._abandon.set()
        for worker in self._workers:
            while True:
                try:
                    alert = worker.queue.get_nowait()
                except queue.Empty:
                    break
                self._outcome("dropped", alert, worker.target.label, during="shutdown")

    # -- outcomes ----------------------------------------------------------------------------

    def _outcome(
        self, outcome: str, alert: Alert, target: str | None = None, **extra: object
    ) -> None:
        with self._lock:
            self.counts[outcome] = self.counts.get(outcome, 0) + 1
        if self._on_outcome is not None:
            try:
                self._on_outcome(outcome)
            except Exception as exc:  # metrics never stop an alert
                _log.error("alert_metric_failed", code=alert.code, error=repr(exc))
        failure = _FAILURE_CODES.get(outcome)
        if failure is not None:
            extra["failure_code"] = failure
        log = _log.info if failure is None else _log.error
        log(
            f"alert_{outcome}",
            code=alert.code,
            correlation_id=alert.correlation_id,
            alert_event=alert.event,
            severity=alert.severity.value,
            outcome=outcome,
            target=target,
            **extra,
        )


__all__ = ["AlertConfig", "AlertDispatcher", "AlertTarget", "render"]
