"""Gate 4: portfolio risk."""

from __future__ import annotations

from ...codes import PolicyReasonCode
from ..domain import Decision, RiskAssessment


def check_risk(risk_assessment: object) -> tuple[Decision, PolicyReasonCode] | None:
    """Fail with HALT when risk is CRITICAL (or not a known passing value)."""
    if risk_assessment in (RiskAssessment.HEALTHY, RiskAssessment.WARNING):
        return None
    return Decision.HALT, PolicyReasonCode.HALT_RISK_CRITICAL
