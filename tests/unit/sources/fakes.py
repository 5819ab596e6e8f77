"""Fakes for the source tests: a kill switch store, an exchange clock, static sources."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from tradeguard.clock import FakeClock
from tradeguard.errors import AuditUnavailableError, ExchangeUnavailableError
from tradeguard.policy import (
    BudgetSignal,
    HealthStatus,
    OperatorActionRecord,
    RiskAssessment,
)
from tradeguard.ports import KillSwitchState
from tradeguard.sources import BudgetEvaluation, HealthReport, RiskEvaluation

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def fake_clock() -> FakeClock:
    return FakeClock(NOW)


class FakeKillSwitchStore:
    """An in-memory kill switch store that records every action; can be made to fail."""

    def __init__(self) -> None:
        self.state = KillSwitchState(active=False)
        self.actions: list[OperatorActionRecord] = []
        self.fail_load = False
        self.fail_set = False

    def load(self) -> KillSwitchState:
        if self.fail_load:
            raise AuditUnavailableError("AUD-006", "database locked")
        return self.state

    def set(self, state: KillSwitchState, action: OperatorActionRecord) -> None:
        if self.fail_set:
            raise AuditUnavailableError("AUD-006", "database locked")
        self.state = state
        self.actions.append(action)


class FakeExchangeClock:
    """An exchange whose ``server_time`` is the fake clock plus a skew, or fails."""

    name = "fake"

    def __init__(self, clock: FakeClock, *, skew_ms: float = 0, latency_s: float = 0) -> None:
        self.clock = clock
        self.skew_ms = skew_ms
        self.latency_s = latency_s
        self.failure: Exception | None = None
        self.answer: object | None = None

    def server_time(self) -> Any:
        if self.failure is not None:
            raise self.failure
        self.clock.advance(self.latency_s / 2)
        answer = self.answer
        if answer is None:
            answer = self.clock.now() + timedelta(milliseconds=self.skew_ms)
        self.clock.advance(self.latency_s / 2)
        return answer

    def close(self) -> None:
        pass


def unreachable() -> ExchangeUnavailableError:
    return ExchangeUnavailableError("EXCHANGE_ERROR", "connection refused")


class StaticKill:
    def __init__(self, active: bool = False) -> None:
        self.active = active

    def is_active(self) -> bool:
        return self.active


class StaticBudget:
    def __init__(self, signal: BudgetSignal = BudgetSignal.ALLOW) -> None:
        self.signal = signal

    def current(self) -> BudgetEvaluation:
        return BudgetEvaluation(self.signal, None)


class StaticHealth:
    def __init__(self, status: HealthStatus = HealthStatus.GREEN) -> None:
        self.status = status

    def report(self) -> HealthReport:
        return HealthReport(self.status, ())


class StaticRisk:
    def __init__(self, assessment: RiskAssessment = RiskAssessment.HEALTHY) -> None:
        self.assessment = assessment

    def assess(self) -> RiskEvaluation:
        return RiskEvaluation(self.assessment)


class Behaving:
    """A source method that answers, raises, hangs until released, or sleeps first."""

    def __init__(
        self,
        answer: Callable[[], object],
        *,
        raises: Exception | None = None,
        delay_s: float = 0.0,
        hang: threading.Event | None = None,
    ) -> None:
        self._answer = answer
        self._raises = raises
        self._delay_s = delay_s
        self._hang = hang
        self.calls = 0

    def __call__(self) -> object:
        self.calls += 1
        if self._hang is not None:
            self._hang.wait()
        if self._delay_s:
            threading.Event().wait(self._delay_s)
        if self._raises is not None:
            raise self._raises
        return self._answer()


def valid_report(**overrides: Any) -> dict[str, Any]:
    report: dict[str, Any] = {
        "generated_at": "2026-03-01T11:00:00Z",
        "currency": "USD",
        "monthly_budget": Decimal("3000"),
        "month_to_date_spend": Decimal("1200.50"),
        "recommended_daily_spend": Decimal("100"),
        "today_spend": Decimal("40.25"),
        "risk_level": "OK",
    }
    report.update(overrides)
    return report


def dumps(report: dict[str, Any]) -> str:
    """Serialise a report, writing Decimals as JSON numbers (not strings)."""

    def encode(value: Any) -> Any:
        if isinstance(value, Decimal):
            return _RawNumber(str(value))
        return value

    text = json.dumps({k: encode(v) for k, v in report.items()}, default=str)
    return text.replace('"__num__', "").replace('__num__"', "")


class _RawNumber(str):
    def __new__(cls, text: str) -> _RawNumber:
        return super().__new__(cls, f"__num__{text}__num__")


def write_report(path: Path, report: dict[str, Any] | str | bytes) -> Path:
    if isinstance(report, bytes):
        path.write_bytes(report)
    elif isinstance(report, str):
        path.write_text(report, encoding="utf-8")
    else:
        path.write_text(dumps(report), encoding="utf-8")
    return path
