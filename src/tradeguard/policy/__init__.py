"""The pure policy core: standard library plus ``tradeguard.codes``/``errors`` only.

No I/O, no logging, and no clock reads except through the injected ``Clock``.
"""

from __future__ import annotations

from ..codes import PolicyReasonCode
from .context import PolicyContext, coerce_utc, format_utc, parse_utc
from .decision import OperatorActionRecord, PolicyDecision, PolicyDecisionRecord
from .domain import (
    EVALUATION_PRECEDENCE,
    GATE_RANK,
    BudgetSignal,
    Decision,
    GateName,
    HealthStatus,
    RiskAssessment,
)
from .engine import TradePermissionPolicy, evaluate_gates
from .latch import InMemoryLatchStore, LatchPhase, LatchState
from .orders import (
    EXIT_INTENTS,
    NEW_RISK_INTENTS,
    PERMITTED_INTENTS,
    IntentCheck,
    OrderIntent,
    Side,
    check_intent,
    intent_permitted,
    reduces_position,
)
from .ports import Clock, LatchStore

__all__ = [
    "EVALUATION_PRECEDENCE",
    "EXIT_INTENTS",
    "GATE_RANK",
    "NEW_RISK_INTENTS",
    "PERMITTED_INTENTS",
    "BudgetSignal",
    "Clock",
    "Decision",
    "GateName",
    "HealthStatus",
    "InMemoryLatchStore",
    "IntentCheck",
    "LatchPhase",
    "LatchState",
    "LatchStore",
    "OperatorActionRecord",
    "OrderIntent",
    "PolicyContext",
    "PolicyDecision",
    "PolicyDecisionRecord",
    "PolicyReasonCode",
    "RiskAssessment",
    "Side",
    "TradePermissionPolicy",
    "check_intent",
    "coerce_utc",
    "evaluate_gates",
    "format_utc",
    "intent_permitted",
    "parse_utc",
    "reduces_position",
]
