"""Where alerts come from without a running service: the exchange decorator and the watchers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from tradeguard.alerts import DriftAlerts
from tradeguard.clock import FakeClock
from tradeguard.codes import ErrorCode
from tradeguard.errors import ExchangeUnavailableError
from tradeguard.exchange import MonitoredExchange
from tradeguard.ports import Alert
from tradeguard.sources.clock_sync import TimeSyncResult


class RecordingSink:
    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    def publish(self, alert: Alert) -> None:
        self.alerts.append(alert)


class FailingExchange:
    name = "valr"

    def __init__(self, code: ErrorCode) -> None:
        self.code = code

    def balances(self) -> list[object]:
        raise ExchangeUnavailableError(self.code, "refused")


def test_rejected_credentials_alert_critical_with_the_exchange_named() -> None:
    sink = RecordingSink()
    exchange = MonitoredExchange(FailingExchange(ErrorCode.EXCHANGE_AUTH_FAILED), FakeClock())  # type: ignore[arg-type]
    exchange.alerts = sink
    with pytest.raises(ExchangeUnavailableError):
        exchange.balances()
    (alert,) = sink.alerts
    assert alert.event == "credentials_rejected"
    assert alert.code == ErrorCode.EXCHANGE_AUTH_FAILED and alert.severity == "CRITICAL"
    assert alert.details == {"exchange": "valr", "method": "balances"}
    uuid.UUID(alert.correlation_id)


def test_other_exchange_failures_raise_no_alert_here() -> None:
    sink = RecordingSink()
    exchange = MonitoredExchange(FailingExchange(ErrorCode.EXCHANGE_UNREACHABLE), FakeClock())  # type: ignore[arg-type]
    exchange.alerts = sink
    with pytest.raises(ExchangeUnavailableError):
        exchange.balances()
    assert sink.alerts == []


def sync(drift: float | None, within: bool, code: str | None) -> TimeSyncResult:
    now = datetime.now(UTC)
    return TimeSyncResult(now, now, drift, 1.0, 0.5, within, code, str(uuid.uuid4()), now)


def test_drift_alerts_on_entering_and_leaving_and_ignores_an_unreadable_clock() -> None:
    sink = RecordingSink()
    watch = DriftAlerts(sink)
    watch(sync(5, True, None))  # fine from the start: nothing to say
    watch(sync(1500, False, "EXCHANGE_TIME_DRIFT"))
    watch(sync(None, False, "EXCHANGE_TIME_UNAVAILABLE"))  # unknown: still drifting
    watch(sync(1600, False, "EXCHANGE_TIME_DRIFT"))
    watch(sync(3, True, None))
    watch(sync(4, True, None))
    assert [(a.event, a.code) for a in sink.alerts] == [
        ("clock_drift", "EXCHANGE_TIME_DRIFT"),
        ("clock_drift_resolved", "EXCHANGE_TIME_DRIFT_RESOLVED"),
    ]
    assert sink.alerts[0].details == {"drift_ms": "1500"}
