"""Value domains of the policy: decisions, gates and their precedence, source answers."""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class Decision(StrEnum):
    """What the gate answers: ``Decision.ALLOW == "ALLOW"``."""

    ALLOW = "ALLOW"
    NEUTRAL = "NEUTRAL"
    HALT = "HALT"


class GateName(StrEnum):
    """The four gates, named as they appear in records and ``incomplete_sources``."""

    KILL_SWITCH = "KILL_SWITCH"
    BUDGET = "BUDGET"
    HEALTH = "HEALTH"
    RISK = "RISK"


class BudgetSignal(StrEnum):
    """What the BudgetGuard answers."""

    ALLOW = "ALLOW"
    HARD_STOP = "HARD_STOP"
    RDS_EXCEEDED = "RDS_EXCEEDED"
    STALE_DATA = "STALE_DATA"


class HealthStatus(StrEnum):
    """What the HealthVerificationModule answers; ordered from best to worst."""

    GREEN = "GREEN"
    YELLOW = "YELLOW"
    RED = "RED"


class RiskAssessment(StrEnum):
    """What the RiskGovernor answers; ordered from best to worst."""

    HEALTHY = "HEALTHY"
    WARNING = "WARNING"
    CRITICAL = "CRITICAL"


EVALUATION_PRECEDENCE: Final[tuple[str, ...]] = ("KILL_SWITCH", "BUDGET", "HEALTH", "RISK")
"""Gate order; a gate's precedence rank is its index + 1."""

GATE_RANK: Final[dict[str, int]] = {name: i + 1 for i, name in enumerate(EVALUATION_PRECEDENCE)}

HEALTH_SEVERITY: Final[dict[HealthStatus, int]] = {
    HealthStatus.GREEN: 0,
    HealthStatus.YELLOW: 1,
    HealthStatus.RED: 2,
}
RISK_SEVERITY: Final[dict[RiskAssessment, int]] = {
    RiskAssessment.HEALTHY: 0,
    RiskAssessment.WARNING: 1,
    RiskAssessment.CRITICAL: 2,
}
