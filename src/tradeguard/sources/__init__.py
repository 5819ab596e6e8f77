"""The policy context's sources and the builder that asks them (SPEC §3)."""

from __future__ import annotations

from .budget import (
    BudgetEvaluation,
    BudgetGuard,
    BudgetReport,
    BudgetReportCorruptError,
    BudgetRiskLevel,
    parse_report,
)
from .builder import (
    ContextDetails,
    ContextProvider,
    PolicyContextBuilder,
    SourceFailure,
    SourceProblem,
)
from .circuit_breaker import CircuitBreaker
from .clock_sync import ExchangeTimeSynchronizer, TimeSyncResult
from .health import (
    AuditWritableCheck,
    CheckResult,
    CheckStatus,
    ClockSyncCheck,
    EventFeedCheck,
    ExchangeReachableCheck,
    HealthCheck,
    HealthReport,
    HealthVerificationModule,
    MarketDataFreshCheck,
    ReconciliationCheck,
)
from .periodic import PeriodicTask
from .risk import (
    PortfolioProvider,
    PortfolioSnapshot,
    RiskEvaluation,
    RiskGovernor,
    RiskLimits,
)

__all__ = [
    "AuditWritableCheck",
    "BudgetEvaluation",
    "BudgetGuard",
    "BudgetReport",
    "BudgetReportCorruptError",
    "BudgetRiskLevel",
    "CheckResult",
    "CheckStatus",
    "CircuitBreaker",
    "ClockSyncCheck",
    "ContextDetails",
    "ContextProvider",
    "EventFeedCheck",
    "ExchangeReachableCheck",
    "ExchangeTimeSynchronizer",
    "HealthCheck",
    "HealthReport",
    "HealthVerificationModule",
    "MarketDataFreshCheck",
    "PeriodicTask",
    "PolicyContextBuilder",
    "PortfolioProvider",
    "PortfolioSnapshot",
    "ReconciliationCheck",
    "RiskEvaluation",
    "RiskGovernor",
    "RiskLimits",
    "SourceFailure",
    "SourceProblem",
    "TimeSyncResult",
    "parse_report",
]
