"""tradeguard: the deterministic safety gate between a trading bot and the exchange.

Every trade signal passes one gate that answers ALLOW, NEUTRAL (exit-only) or HALT from a kill
switch, an operating budget, system health and portfolio risk — never from a model's
confidence — and every answer is recorded in a tamper-evident audit trail before any order may
leave.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .codes import ErrorCode, PolicyReasonCode
from .policy import (
    EVALUATION_PRECEDENCE,
    Decision,
    PolicyContext,
    PolicyDecision,
    PolicyDecisionRecord,
    TradePermissionPolicy,
)

if TYPE_CHECKING:
    from .ports import AuditStore

__version__ = "0.1.0"


def open_audit_store(url: str) -> AuditStore:
    """Open (and migrate) the audit store at ``url``: ``sqlite:///PATH``, ``postgresql://…``
    or ``memory://``."""
    from .audit import open_audit_store as _open

    return _open(url)


__all__ = [
    "EVALUATION_PRECEDENCE",
    "Decision",
    "ErrorCode",
    "PolicyContext",
    "PolicyDecision",
    "PolicyDecisionRecord",
    "PolicyReasonCode",
    "TradePermissionPolicy",
    "__version__",
    "open_audit_store",
]
