"""Factories for the execution tests: a wired gate over a real paper exchange and store."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tradeguard.audit import open_audit_store
from tradeguard.audit.records import AuditTable
from tradeguard.clock import SystemClock
from tradeguard.errors import ExchangeRejectedError, ExchangeUnavailableError
from tradeguard.exchange.paper import PaperExchange, RemainderPolicy
from tradeguard.execution import ExecutionStack, build_execution
from tradeguard.gate import Gate, SignalDispatcher
from tradeguard.policy import PolicyContext, TradePermissionPolicy, format_utc
from tradeguard.ports import AuditStore, OrderRequest, OrderState

PRICES = {"BTCUSDT": Decimal("50000"), "ETHUSDT": Decimal("3000")}
_ids = itertools.count(1)


class SwitchableBuilder:
    """A context builder whose answers the test sets."""

    def __init__(self, clock: Any) -> None:
        self.clock = clock
        self.kill = False
        self.budget = "ALLOW"
        self.health = "GREEN"
        self.risk = "HEALTHY"
        self.fail = False

    def build(self, correlation_id: str) -> PolicyContext:
        if self.fail:
            raise RuntimeError("sources exploded")
        return PolicyContext(
            self.kill,
            self.budget,
            self.health,
            self.risk,
            correlation_id,
            format_utc(self.clock.now()),
        )


class FaultyPaperExchange(PaperExchange):
    """The paper exchange with injectable faults on ``place_order``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fault: str | None = None  # "down", "reject", "foreign"

    def place_order(self, request: OrderRequest) -> OrderState:
        if self.fault == "down":
            raise ExchangeUnavailableError("EXCHANGE_ERROR", "simulated outage")
        if self.fault == "reject":
            raise ExchangeRejectedError("EXCHANGE_ORDER_REJECTED", "simulated rejection")
        if self.fault == "foreign":
            raise ConnectionResetError("a foreign exception from a buggy adapter")
        return super().place_order(request)


@dataclass
class Wired:
    gate: Gate
    dispatcher: SignalDispatcher
    audit: AuditStore
    exchange: FaultyPaperExchange
    stack: ExecutionStack
    builder: SwitchableBuilder
    policy: TradePermissionPolicy
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def positions(self) -> Any:
        return self.stack.positions

    @property
    def executor(self) -> Any:
        return self.stack.executor

    def rows(self, table: AuditTable, correlation_id: str | None = None) -> list[dict[str, Any]]:
        return list(self.audit.rows(table, correlation_id=correlation_id))


def wire(
    audit: AuditStore | None = None,
    *,
    exchange: Any = None,
    policy_enabled: bool = True,
    legacy_min_confidence: Decimal = Decimal(70),
    partial_fill_ratio: Decimal = Decimal(1),
    remainder: RemainderPolicy = RemainderPolicy.FILL,
    clock: Any = None,
    max_gross_exposure: Decimal | None = None,
    max_open_orders: int | None = None,
    prices: Any = None,
    latch_store: Any = None,
    symbol_rules: bool = False,
    order_limits: Any = None,
) -> Wired:
    clock = clock or SystemClock()
    audit = audit or open_audit_store("memory://")
    exchange = exchange or FaultyPaperExchange(
        clock,
        price_source=PRICES.__getitem__,
        partial_fill_ratio=partial_fill_ratio,
        partial_fill_remainder=remainder,
    )
    stack = build_execution(
        exchange,
        audit,
        clock,
        starting_equity=Decimal(100000),
        price_lookup=prices or PRICES.__getitem__,
        max_gross_exposure=max_gross_exposure,
        max_open_orders=max_open_orders,
        symbol_rules=symbol_rules,
        order_limits=order_limits,
    )
    builder = SwitchableBuilder(clock)
    policy = TradePermissionPolicy(0, clock=clock, latch_store=latch_store)
    gate = Gate(
        builder=builder,
        policy=policy,
        audit=audit,
        executor=stack.executor,
        authority=stack.authority,
        positions=stack.positions,
        clock=clock,
        policy_enabled=policy_enabled,
        legacy_min_confidence=legacy_min_confidence,
    )
    return Wired(gate, SignalDispatcher(gate), audit, exchange, stack, builder, policy)


def signal(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "signal_id": f"sig-{next(_ids)}",
        "symbol": "BTCUSDT",
        "side": "BUY",
        "intent": "OPEN",
        "quantity": "1",
        "order_type": "MARKET",
        "ai_confidence": "80",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}
