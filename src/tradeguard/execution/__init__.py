"""Gate-controlled execution: permits, the executor, the position book, reconciliation.

Only :class:`Executor` places or cancels orders, and only with a :class:`Permit` the gate
minted after the durable decision record (SPEC §5, policy supremacy).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from ..policy import Clock
from ..ports import AuditStore, ExchangeClient
from .executor import Executor
from .order_controls import OrderControls, OrderLimits
from .permits import BYPASS_DECISION, Permit, PermitAuthority
from .positions import Position, PositionBook, Reservation
from .reconciliation import ReconciliationJob, ReconciliationTracker, needs_reconciliation
from .results import ExecutionReport, OrderSummary, SignalOutcome, SignalResult
from .symbol_rules import SymbolRulesCache


@dataclass(frozen=True, slots=True)
class ExecutionStack:
    """The execution parts wired together, for the composition root."""

    authority: PermitAuthority
    positions: PositionBook
    reconciler: ReconciliationTracker
    executor: Executor
    symbol_rules: SymbolRulesCache | None = None
    """The symbol rules read from the exchange (None when rules are not applied)."""


def build_execution(
    exchange: ExchangeClient,
    audit: AuditStore,
    clock: Clock,
    *,
    starting_equity: Decimal = Decimal(0),
    price_lookup: Callable[[str], Decimal] | None = None,
    max_gross_exposure: Decimal | None = None,
    max_open_orders: int | None = None,
    permit_ttl_seconds: float = 5.0,
    reconcile_poll_seconds: float = 0.02,
    positions: PositionBook | None = None,
    symbol_rules: bool = False,
    order_limits: OrderLimits | None = None,
) -> ExecutionStack:
    """Wire an authority, a position book, a reconciler and an executor around ``exchange``.

    The position book counts the executor's resting orders as its open orders, and refuses
    orders that could take gross exposure above ``max_gross_exposure`` or the open orders above
    ``max_open_orders`` (None: no such cap). With ``symbol_rules`` the exchange's rules of each
    symbol (read once, :class:`SymbolRulesCache`) fit every order, and ``order_limits`` adds
    the price collar, size, rate and duplicate controls (:mod:`.order_controls`). A
    ``positions`` book given (the book shared on PostgreSQL) is used instead of a new
    in-memory one; it carries its own caps and gets the same order controls.
    """
    authority = PermitAuthority(clock, ttl_seconds=permit_ttl_seconds)
    rules = SymbolRulesCache(exchange, clock) if symbol_rules else None
    controls = (
        OrderControls(rules, order_limits)
        if rules is not None or order_limits is not None
        else None
    )
    if positions is None:
        positions = PositionBook(
            clock,
            starting_equity=starting_equity,
            price_lookup=price_lookup,
            max_gross_exposure=max_gross_exposure,
            max_open_orders=max_open_orders,
            controls=controls,
        )
    else:
        positions.controls = controls
    reconciler = ReconciliationTracker(
        exchange, audit, positions, clock, poll_interval_seconds=reconcile_poll_seconds
    )
    executor = Executor(exchange, authority, audit, positions, reconciler, clock)
    positions.open_orders = executor.resting_count
    return ExecutionStack(authority, positions, reconciler, executor, rules)


__all__ = [
    "BYPASS_DECISION",
    "ExecutionReport",
    "ExecutionStack",
    "Executor",
    "OrderControls",
    "OrderLimits",
    "OrderSummary",
    "Permit",
    "PermitAuthority",
    "Position",
    "PositionBook",
    "ReconciliationJob",
    "ReconciliationTracker",
    "Reservation",
    "SignalOutcome",
    "SignalResult",
    "SymbolRulesCache",
    "build_execution",
    "needs_reconciliation",
]
