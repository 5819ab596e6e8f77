"""The four gates, one module each, in precedence order.

Each gate is a pure function of its own context value: it returns ``None`` when the value
passes, or the ``(decision, reason_code)`` that value fails with.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from ...codes import PolicyReasonCode
from ..domain import Decision, GateName
from .budget import check_budget
from .health import check_health
from .kill_switch import check_kill_switch
from .risk import check_risk

GateFailure = tuple[Decision, PolicyReasonCode]
GateCheck = Callable[[object], GateFailure | None]

GATES: Final[tuple[tuple[GateName, GateCheck], ...]] = (
    (GateName.KILL_SWITCH, check_kill_switch),
    (GateName.BUDGET, check_budget),
    (GateName.HEALTH, check_health),
    (GateName.RISK, check_risk),
)

__all__ = ["GATES", "GateCheck", "GateFailure"]
