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
    from .bootstrap import Container, build_container
    from .gate import Gate, SignalDispatcher
    from .ports import AuditStore
    from .settings import Settings, load_settings
    from .signals import Signal
    from .sources.builder import PolicyContextBuilder

# Heavier parts of the library API load on first use, so `import tradeguard` stays light.
_LAZY = {
    "Container": "tradeguard.bootstrap",
    "build_container": "tradeguard.bootstrap",
    "Gate": "tradeguard.gate",
    "SignalDispatcher": "tradeguard.gate",
    "Settings": "tradeguard.settings",
    "load_settings": "tradeguard.settings",
    "Signal": "tradeguard.signals",
    "PolicyContextBuilder": "tradeguard.sources.builder",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tradeguard' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__version__ = "0.1.0"


def open_audit_store(url: str) -> AuditStore:
    """Open (and migrate) the audit store at ``url``: ``sqlite:///PATH``, ``postgresql://…``
    or ``memory://``."""
    from .audit import open_audit_store as _open

    return _open(url)


__all__ = [
    "EVALUATION_PRECEDENCE",
    "Container",
    "Decision",
    "ErrorCode",
    "Gate",
    "PolicyContext",
    "PolicyContextBuilder",
    "PolicyDecision",
    "PolicyDecisionRecord",
    "PolicyReasonCode",
    "Settings",
    "Signal",
    "SignalDispatcher",
    "TradePermissionPolicy",
    "__version__",
    "build_container",
    "load_settings",
    "open_audit_store",
]
