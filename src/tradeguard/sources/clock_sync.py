"""Exchange clock synchronisation: how far the local clock is from the exchange's (SPEC §3).

The estimate is NTP-style: the exchange's time is compared with the local wall time at the
midpoint of the request, the round trip is measured on the monotonic clock, and half of it is
the uncertainty of the estimate. A drift beyond ``max_drift_ms`` turns the ``clock_sync``
health check YELLOW with ``EXCHANGE_TIME_DRIFT``; an exchange that does not answer, or answers
garbage, gives ``EXCHANGE_TIME_UNAVAILABLE``; the next good sync clears either.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ..codes import ErrorCode
from ..logging import get_logger
from ..policy import Clock
from ..ports import ExchangeClient

_log = get_logger(__name__)

GARBAGE_DRIFT = timedelta(days=1)
"""An exchange clock further off than this is not a clock reading but garbage."""


@dataclass(frozen=True, slots=True)
class TimeSyncResult:
    """One synchronisation with the exchange clock.

    ``drift_ms`` is exchange time minus the local time at the request's midpoint (positive:
    the exchange is ahead). It, ``exchange_time_utc`` and ``uncertainty_ms`` are None when the
    exchange time could not be read; ``error_code`` is then ``EXCHANGE_TIME_UNAVAILABLE``, and
    ``EXCHANGE_TIME_DRIFT`` when the drift is beyond the tolerance.
    """

    local_time_utc: datetime
    exchange_time_utc: datetime | None
    drift_ms: float | None
    rtt_ms: float | None
    uncertainty_ms: float | None
    is_within_tolerance: bool
    error_code: str | None
    correlation_id: str
    timestamp_utc: datetime
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return the result as a JSON-ready dict."""
        return {
            "local_time_utc": _iso(self.local_time_utc),
            "exchange_time_utc": _iso(self.exchange_time_utc),
            "drift_ms": self.drift_ms,
            "rtt_ms": self.rtt_ms,
            "uncertainty_ms": self.uncertainty_ms,
            "is_within_tolerance": self.is_within_tolerance,
            "error_code": self.error_code,
            "correlation_id": self.correlation_id,
            "timestamp_utc": _iso(self.timestamp_utc),
            "detail": self.detail,
        }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class ExchangeTimeSynchronizer:
    """Measure the drift between the local clock and the exchange clock.

    Args:
        exchange: The exchange port; only ``server_time()`` is used.
        clock: Local wall time and monotonic readings.
        max_drift_ms: Largest tolerated absolute drift.
        sync_interval_seconds: How often the service calls :meth:`sync_time`; a last result
            older than three intervals is no longer trusted by :meth:`is_stale`.
        on_result: Called with every result (the metrics hook); its failures are logged and
            never change the result.
    """

    def __init__(
        self,
        exchange: ExchangeClient,
        clock: Clock,
        max_drift_ms: float = 1000,
        sync_interval_seconds: float = 60,
        *,
        on_result: Callable[[TimeSyncResult], object] | None = None,
    ) -> None:
        self._exchange = exchange
        self._clock = clock
        self.max_drift_ms = float(max_drift_ms)
        self.sync_interval_seconds = float(sync_interval_seconds)
        self._on_result = on_result
        self._lock = threading.Lock()
        self._last: TimeSyncResult | None = None
        self._last_monotonic: float | None = None

    @property
    def last_result(self) -> TimeSyncResult | None:
        """The most recent result, or None before the first sync."""
        return self._last

    def result_age_seconds(self) -> float | None:
        """Return how long ago the last sync finished (monotonic), or None before the first."""
        last = self._last_monotonic
        return None if last is None else self._clock.monotonic() - last

    def is_stale(self) -> bool:
        """Return True when no sync finished within three sync intervals."""
        age = self.result_age_seconds()
        return age is None or age > 3 * self.sync_interval_seconds

    def adopt(self, result: TimeSyncResult, age_seconds: float) -> None:
        """Take ``result``, measured ``age_seconds`` ago by another worker (the leader).

        The result ages from that moment: when the leader stops publishing, it goes stale
        here as it would have there.
        """
        with self._lock:
            self._last = result
            self._last_monotonic = self._clock.monotonic() - max(0.0, age_seconds)

    def sync_time(self, correlation_id: str) -> TimeSyncResult:
        """Ask the exchange for its time once and return the drift estimate.

        Never raises for exchange trouble: it is reported as ``EXCHANGE_TIME_UNAVAILABLE``.
        """
        sent_wall = self._clock.now()
        sent = self._clock.monotonic()
        try:
            server = self._exchange.server_time()
        except Exception as exc:  # every exchange failure is "time unavailable", logged
            received = self._clock.monotonic()
            return self._finish(
                self._unavailable(sent_wall, sent, received, correlation_id, _describe(exc))
            )
        received = self._clock.monotonic()
        return self._finish(self._measure(server, sent_wall, sent, received, correlation_id))

    def _measure(
        self,
        server: object,
        sent_wall: datetime,
        sent: float,
        received: float,
        correlation_id: str,
    ) -> TimeSyncResult:
        rtt_s = received - sent
        if not isinstance(server, datetime) or server.utcoffset() is None:
            return self._unavailable(
                sent_wall, sent, received, correlation_id, f"not an aware datetime: {server!r}"
            )
        if rtt_s < 0:
            return self._unavailable(
                sent_wall, sent, received, correlation_id, "monotonic clock went backwards"
            )
        midpoint = sent_wall + timedelta(seconds=rtt_s / 2)
        offset = server - midpoint
        if abs(offset) > GARBAGE_DRIFT:
            return self._unavailable(
                sent_wall, sent, received, correlation_id, f"implausible exchange time {server}"
            )
        drift_ms = round(offset.total_seconds() * 1000, 3)
        within = abs(drift_ms) <= self.max_drift_ms
        return TimeSyncResult(
            local_time_utc=midpoint,
            exchange_time_utc=server.astimezone(UTC),
            drift_ms=drift_ms,
            rtt_ms=round(rtt_s * 1000, 3),
            uncertainty_ms=round(rtt_s * 500, 3),
            is_within_tolerance=within,
            error_code=None if within else ErrorCode.EXCHANGE_TIME_DRIFT.value,
            correlation_id=correlation_id,
            timestamp_utc=self._clock.now(),
            detail="" if within else f"|drift| {abs(drift_ms)} ms > {self.max_drift_ms} ms",
        )

    def _unavailable(
        self, sent_wall: datetime, sent: float, received: float, correlation_id: str, detail: str
    ) -> TimeSyncResult:
        rtt_s = received - sent
        return TimeSyncResult(
            local_time_utc=sent_wall + timedelta(seconds=max(rtt_s, 0.0) / 2),
            exchange_time_utc=None,
            drift_ms=None,
            rtt_ms=round(rtt_s * 1000, 3) if rtt_s >= 0 else None,
            uncertainty_ms=None,
            is_within_tolerance=False,
            error_code=ErrorCode.EXCHANGE_TIME_UNAVAILABLE.value,
            correlation_id=correlation_id,
            timestamp_utc=self._clock.now(),
            detail=detail,
        )

    def _finish(self, result: TimeSyncResult) -> TimeSyncResult:
        with self._lock:
            previous = self._last
            self._last = result
            self._last_monotonic = self._clock.monotonic()
        self._log(result, previous)
        if self._on_result is not None:
            try:
                self._on_result(result)
            except Exception as exc:  # a broken metrics hook must not break the sync
                _log.error(
                    "exchange_time_hook_failed",
                    correlation_id=result.correlation_id,
                    error=_describe(exc),
                )
        return result

    @staticmethod
    def _log(result: TimeSyncResult, previous: TimeSyncResult | None) -> None:
        fields: dict[str, Any] = {
            "correlation_id": result.correlation_id,
            "drift_ms": result.drift_ms,
            "rtt_ms": result.rtt_ms,
            "uncertainty_ms": result.uncertainty_ms,
            "is_within_tolerance": result.is_within_tolerance,
        }
        if result.error_code == ErrorCode.EXCHANGE_TIME_UNAVAILABLE:
            _log.warning(
                "exchange_time_unavailable", code=result.error_code, detail=result.detail, **fields
            )
            return
        if result.error_code is not None:
            _log.warning("exchange_time_synced", code=result.error_code, **fields)
            return
        _log.info("exchange_time_synced", **fields)
        if previous is not None and previous.error_code is not None:
            _log.info("exchange_time_recovered", previous_code=previous.error_code, **fields)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


__all__ = ["GARBAGE_DRIFT", "ExchangeTimeSynchronizer", "TimeSyncResult"]
