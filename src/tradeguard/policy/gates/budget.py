"""Gate 2: the operating budget."""

from __future__ import annotations

from ...codes import PolicyReasonCode
from ..domain import BudgetSignal, Decision

_REASONS = {
    BudgetSignal.RDS_EXCEEDED: PolicyReasonCode.HALT_BUDGET_RDS_EXCEEDED,
    BudgetSignal.STALE_DATA: PolicyReasonCode.HALT_BUDGET_STALE_DATA,
}


def check_budget(budget_signal: object) -> tuple[Decision, PolicyReasonCode] | None:
    """Fail with HALT unless the budget signal is ALLOW; unknown values are a hard stop."""
    if budget_signal == BudgetSignal.ALLOW:
        return None
    reason = _REASONS.get(budget_signal, PolicyReasonCode.HALT_BUDGET_HARD_STOP)  # type: ignore[call-overload]
    return Decision.HALT, reason
