"""HealthVerificationModule: GREEN / YELLOW / RED from named checks (SPEC §3).

Each check is a small object with a ``name`` and a ``check()`` returning a
:class:`CheckResult`; the module's status is the worst configured check. A check that is not
configured (``NOT_CONFIGURED``) is shown but ignored; a check that raises or answers something
that is not a ``CheckResult`` counts RED with ``TPP-004``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, Protocol

from ..codes import ErrorCode
from ..feeds.market_data import MarketDataTracker
from ..logging import get_logger
from ..policy import Clock, HealthStatus
from .clock_sync import ExchangeTimeSynchronizer

_log = get_logger(__name__)


class CheckStatus(StrEnum):
    """What one check answers; ``NOT_CONFIGURED`` does not count toward the overall status."""

    GREEN = "GREEN"
    YELLOW = "YELLOW"
    RED = "RED"
    NOT_CONFIGURED = "NOT_CONFIGURED"


_SEVERITY: Final = {CheckStatus.GREEN: 0, CheckStatus.YELLOW: 1, CheckStatus.RED: 2}
_OVERALL: Final = (HealthStatus.GREEN, HealthStatus.YELLOW, HealthStatus.RED)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check's answer: its name, status, code and a human-readable detail."""

    name: str
    status: CheckStatus
    code: str
    detail: str = ""

    def to_dict(self) -> dict[str, str]:
        """Return the result as the ``{name, status, code, detail}`` object of ``status``."""
        return {
            "name": self.name,
            "status": self.status.value,
            "code": self.code,
            "detail": self.detail,
        }


class HealthCheck(Protocol):
    """A named health check."""

    name: str

    def check(self) -> CheckResult:
        """Return the check's current result."""
        ...


@dataclass(frozen=True, slots=True)
class HealthReport:
    """The overall status and every check's result, from one pass over the checks."""

    status: HealthStatus
    results: tuple[CheckResult, ...]


def _ok(name: str, detail: str = "") -> CheckResult:
    return CheckResult(name, CheckStatus.GREEN, ErrorCode.CHECK_OK.value, detail)


class HealthVerificationModule:
    """Run the configured checks and report the worst of them."""

    def __init__(self, checks: Sequence[HealthCheck]) -> None:
        self._checks = tuple(checks)
        self._last: HealthReport | None = None

    def report(self) -> HealthReport:
        """Run every check once and return the overall status with each result."""
        results = tuple(self._run(check) for check in self._checks)
        worst = 0
        for result in results:
            worst = max(worst, _SEVERITY.get(result.status, 0))
        report = HealthReport(_OVERALL[worst], results)
        self._last = report
        return report

    def status(self) -> HealthStatus:
        """Return the worst status of the configured checks (GREEN when there are none)."""
        return self.report().status

    def results(self) -> list[CheckResult]:
        """Run every check and return their results (for ``status``)."""
        return list(self.report().results)

    @property
    def last_report(self) -> HealthReport | None:
        """The report of the most recent pass, without running the checks again."""
        return self._last

    @staticmethod
    def _run(check: HealthCheck) -> CheckResult:
        name = str(getattr(check, "name", type(check).__name__))
        try:
            result = check.check()
        except Exception as exc:  # a failing check is RED, never a silent pass
            _log.error("health_check_failed", check=name, code=ErrorCode.TPP_004, error=repr(exc))
            return CheckResult(name, CheckStatus.RED, ErrorCode.TPP_004.value, repr(exc))
        if not isinstance(result, CheckResult) or not isinstance(result.status, CheckStatus):
            return CheckResult(
                name, CheckStatus.RED, ErrorCode.TPP_004.value, f"invalid answer {result!r}"
            )
        return result


class ReachabilityState(Protocol):
    """What the exchange check reads of :class:`~tradeguard.exchange.ExchangeReachability`."""

    @property
    def reachable(self) -> bool:
        """False from a failed or overdue call until a timely probe."""
        ...

    def describe(self) -> str:
        """Since when and why the exchange is unreachable, in words."""
        ...


class ExchangeReachableCheck:
    """RED ``EXCHANGE_UNREACHABLE`` without a successful exchange call within ``timeout_s``.

    Also RED while ``reachability`` says a call failed or stayed in flight too long and no
    probe has answered since (detection at the first failed call, not after the silence).

    Args:
        last_success: Monotonic seconds of the last successful exchange call (None: never).
        clock: Gives the monotonic reading to compare with.
        timeout_s: The allowed silence (``exchange_timeout_seconds``).
        reachability: The call-by-call reachability state (None: the silence rule only).
    """

    name = "exchange_reachable"

    def __init__(
        self,
        last_success: Callable[[], float | None],
        clock: Clock,
        timeout_s: float,
        *,
        reachability: ReachabilityState | None = None,
    ) -> None:
        self._last_success = last_success
        self._clock = clock
        self._timeout_s = timeout_s
        self._reachability = reachability

    def check(self) -> CheckResult:
        """Return RED unless the exchange answered within the timeout and is not known down."""
        if self._reachability is not None and not self._reachability.reachable:
            return self._red(self._reachability.describe())
        last = self._last_success()
        if last is None:
            return self._red("no successful exchange call yet")
        silence = self._clock.monotonic() - last
        if silence > self._timeout_s:
            return self._red(f"last successful call {silence:.1f} s ago > {self._timeout_s} s")
        return _ok(self.name)

    def _red(self, detail: str) -> CheckResult:
        return CheckResult(self.name, CheckStatus.RED, ErrorCode.EXCHANGE_UNREACHABLE.value, detail)


class MarketDataFreshCheck:
    """YELLOW ``MARKET_DATA_STALE`` when a traded symbol's newest tick is too old or missing."""

    name = "market_data_fresh"

    def __init__(
        self, tracker: MarketDataTracker, symbols: Sequence[str], max_age_s: float
    ) -> None:
        self._tracker = tracker
        self._symbols = tuple(symbols)
        self._max_age_s = max_age_s

    def check(self) -> CheckResult:
        """Return YELLOW naming every stale or unseen symbol."""
        stale = []
        for symbol in self._symbols:
            age = self._tracker.age_seconds(symbol)
            if age is None:
                stale.append(f"{symbol} (no tick)")
            elif age > self._max_age_s:
                stale.append(f"{symbol} ({age:.1f} s)")
        if stale:
            detail = f"older than {self._max_age_s} s: " + ", ".join(stale)
            return CheckResult(
                self.name, CheckStatus.YELLOW, ErrorCode.MARKET_DATA_STALE.value, detail
            )
        return _ok(self.name)


class ClockSyncCheck:
    """YELLOW while the exchange clock drifts, cannot be read, or has not been synced lately."""

    name = "clock_sync"

    def __init__(self, synchronizer: ExchangeTimeSynchronizer) -> None:
        self._synchronizer = synchronizer

    def check(self) -> CheckResult:
        """Return the state of the last sync as a check result."""
        result = self._synchronizer.last_result
        if result is None:
            return self._yellow(ErrorCode.EXCHANGE_TIME_UNAVAILABLE, "not synced yet")
        if self._synchronizer.is_stale():
            return self._yellow(ErrorCode.EXCHANGE_TIME_UNAVAILABLE, "last sync is too old")
        if result.error_code is not None:
            return self._yellow(result.error_code, result.detail)
        return _ok(self.name, f"drift {result.drift_ms} ms")

    def _yellow(self, code: str, detail: str) -> CheckResult:
        return CheckResult(self.name, CheckStatus.YELLOW, str(code), detail)


class EventFeedCheck:
    """YELLOW ``FEED_DISCONNECTED`` while the event feed is down; NOT_CONFIGURED without one."""

    name = "event_feed"

    def __init__(self, connected: Callable[[], bool] | None) -> None:
        self._connected = connected

    def check(self) -> CheckResult:
        """Return the feed's connection state as a check result."""
        if self._connected is None:
            return CheckResult(
                self.name, CheckStatus.NOT_CONFIGURED, ErrorCode.NOT_CONFIGURED.value
            )
        if self._connected() is True:
            return _ok(self.name)
        return CheckResult(
            self.name, CheckStatus.YELLOW, ErrorCode.FEED_DISCONNECTED.value, "reconnecting"
        )


class ReconciliationCheck:
    """YELLOW ``RECONCILIATION_PENDING`` while an order's fill is being reconciled."""

    name = "reconciliation"

    def __init__(self, pending: Callable[[], bool]) -> None:
        self._pending = pending

    def check(self) -> CheckResult:
        """Return YELLOW unless nothing is pending."""
        if self._pending() is False:
            return _ok(self.name)
        return CheckResult(self.name, CheckStatus.YELLOW, ErrorCode.RECONCILIATION_PENDING.value)


class AuditWritableCheck:
    """RED ``AUDIT_UNAVAILABLE`` when the audit store's ping raises.

    The ping's outcome is kept for ``cache_seconds`` (measured on ``monotonic``) so that
    running the health checks on every decision stays cheap.
    """

    name = "audit_store"

    def __init__(
        self,
        ping: Callable[[], None],
        *,
        cache_seconds: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ping = ping
        self._cache_seconds = cache_seconds
        self._monotonic = monotonic
        self._cached: tuple[float, CheckResult] | None = None
        self._lock = threading.Lock()

    def check(self) -> CheckResult:
        """Return the (cached) outcome of pinging the audit store."""
        now = self._monotonic()
        cached = self._cached
        if cached is not None and now - cached[0] < self._cache_seconds:
            return cached[1]
        with self._lock:
            cached = self._cached
            if cached is not None and now - cached[0] < self._cache_seconds:
                return cached[1]
            result = self._probe()
            self._cached = (self._monotonic(), result)
            return result

    def _probe(self) -> CheckResult:
        try:
            self._ping()
        except Exception as exc:  # the audit store not answering is RED, with the cause
            return CheckResult(
                self.name, CheckStatus.RED, ErrorCode.AUDIT_UNAVAILABLE.value, repr(exc)
            )
        return _ok(self.name)


def report_to_dict(report: HealthReport) -> dict[str, Any]:
    """Return a health report as JSON-ready data for ``status``."""
    return {
        "health_status": report.status.value,
        "health_checks": [result.to_dict() for result in report.results],
    }


__all__ = [
    "AuditWritableCheck",
    "CheckResult",
    "CheckStatus",
    "ClockSyncCheck",
    "EventFeedCheck",
    "ExchangeReachableCheck",
    "HealthCheck",
    "HealthReport",
    "HealthVerificationModule",
    "MarketDataFreshCheck",
    "ReachabilityState",
    "ReconciliationCheck",
    "report_to_dict",
]
