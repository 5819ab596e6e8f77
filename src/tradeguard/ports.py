"""Ports between the use cases and the adapters, with the value types that cross them.

Every port has a real adapter and an in-memory twin. The policy core's own ports (``Clock``,
``LatchStore``) live in ``tradeguard.policy.ports`` because the core needs them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

from .audit.records import (
    AuditTable,
    OperatorActionRecord,
    OrderEventRecord,
    PolicyDecisionRecord,
    SignalRecord,
)
from .codes import ErrorCode
from .errors import InvalidInputError
from .policy import Clock, LatchStore, Side

# --- exchange --------------------------------------------------------------------------------


class OrderType(StrEnum):
    """Order types the adapters support."""

    MARKET = "MARKET"
    LIMIT = "LIMIT"


class OrderStatus(StrEnum):
    """Normalised order status across exchanges."""

    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"

    @property
    def is_terminal(self) -> bool:
        """True when the order can change no more."""
        return self in (OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED)


@dataclass(frozen=True, slots=True)
class Ticker:
    """The last price of a symbol and when the exchange stamped it."""

    symbol: str
    price: Decimal
    timestamp_utc: datetime


@dataclass(frozen=True, slots=True)
class SymbolRules:
    """What a venue accepts for one symbol: quantity step and minimums, price tick.

    Attributes:
        symbol: The tradeguard symbol (``BTCUSDT``).
        quantity_step: Every quantity is a whole multiple of this (> 0).
        min_quantity: The smallest quantity the venue accepts (>= 0).
        min_notional: The smallest quantity x price the venue accepts (quote currency, >= 0).
        price_tick: Every LIMIT price is a whole multiple of this (> 0).
    """

    symbol: str
    quantity_step: Decimal
    min_quantity: Decimal
    min_notional: Decimal
    price_tick: Decimal

    def __post_init__(self) -> None:
        for name in ("quantity_step", "price_tick"):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
                raise InvalidInputError(
                    ErrorCode.INPUT_INVALID_VALUE,
                    f"{name} must be a positive finite Decimal, got {value!r}",
                    field=name,
                )
        for name in ("min_quantity", "min_notional"):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
                raise InvalidInputError(
                    ErrorCode.INPUT_INVALID_VALUE,
                    f"{name} must be a finite Decimal >= 0, got {value!r}",
                    field=name,
                )


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """An order as the executor asks an adapter to place it."""

    client_order_id: str
    symbol: str
    side: Side
    quantity: Decimal
    order_type: OrderType = OrderType.MARKET
    price: Decimal | None = None
    intent: str | None = None
    """The order's intent (an ``OrderIntent`` value); adapters that can carry it without
    changing the exchange's behaviour send it (the simulator records it)."""


@dataclass(frozen=True, slots=True)
class OrderState:
    """An order as the exchange reports it."""

    order_id: str
    client_order_id: str
    symbol: str
    side: Side
    status: OrderStatus
    requested_quantity: Decimal
    filled_quantity: Decimal
    average_price: Decimal | None = None
    order_type: OrderType = OrderType.MARKET
    price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Balance:
    """One currency's balance."""

    currency: str
    available: Decimal
    total: Decimal


class ExchangeClient(Protocol):
    """One exchange: time, ticker, orders, balances.

    Adapters translate every foreign exception: ``ExchangeUnavailableError`` for network
    errors, timeouts and 5xx; ``ExchangeRejectedError`` for a refused order;
    ``ExchangeUnavailableError`` with ``EXCHANGE_BAD_RESPONSE`` for garbage. Only
    ``tradeguard.execution.executor`` may call ``place_order`` (a contract test checks).
    """

    name: str

    def server_time(self) -> datetime:
        """Return the exchange's clock as an aware UTC datetime."""
        ...

    def ticker(self, symbol: str) -> Ticker:
        """Return the latest ticker of ``symbol``."""
        ...

    def place_order(self, request: OrderRequest) -> OrderState:
        """Place an order and return its state right after placement."""
        ...

    def cancel_order(self, symbol: str, order_id: str) -> OrderState:
        """Cancel an order and return its state."""
        ...

    def order_status(self, symbol: str, order_id: str) -> OrderState:
        """Return an order's current state."""
        ...

    def open_orders(self, symbol: str | None = None) -> list[OrderState]:
        """Return resting orders (of ``symbol`` when given)."""
        ...

    def balances(self) -> list[Balance]:
        """Return the account balances."""
        ...

    def symbol_rules(self, symbol: str) -> SymbolRules:
        """Return what the venue accepts for ``symbol`` (step, minimums, tick).

        Raises ``ExchangeRejectedError`` (``EXCHANGE_ORDER_REJECTED``) for a symbol the venue
        does not list, and the usual unavailable errors when the rules cannot be read.
        """
        ...

    def close(self) -> None:
        """Release connections."""
        ...


# --- portfolio (risk governor input) ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PortfolioSnapshot:
    """The portfolio as the executor and the exchange report it, in the quote currency."""

    equity: Decimal
    peak_equity: Decimal
    realised_pnl_today: Decimal
    unrealised_pnl: Decimal
    gross_exposure: Decimal
    open_orders: int


class PortfolioProvider(Protocol):
    """Where the risk governor reads the portfolio from (the position book, the exchange)."""

    def snapshot(self) -> PortfolioSnapshot:
        """Return the portfolio now."""
        ...


# --- audit store -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The last link of one table's hash chain."""

    table: AuditTable
    seq: int
    row_hash: str


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """Where and why a chain failed verification."""

    table: AuditTable
    seq: int
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The result of re-computing every chain."""

    rows_checked: int
    heads: tuple[ChainHead, ...]
    breaks: tuple[ChainBreak, ...] = ()

    @property
    def ok(self) -> bool:
        """True when every chain verified."""
        return not self.breaks


@dataclass(frozen=True, slots=True)
class KillSwitchState:
    """The shared kill switch: engaged or not, by whom, why, since when."""

    active: bool
    actor: str | None = None
    reason: str | None = None
    since: datetime | None = None
    code: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


LOCKDOWN_ACTOR = "system:event-feed"
LOCKDOWN_STATE = "L6_LOCKDOWN"


def is_lockdown(state: KillSwitchState) -> bool:
    """Return True when ``state`` is an active kill switch set by the feed's L6 lockdown."""
    return (
        state.active
        and state.actor == LOCKDOWN_ACTOR
        and state.code == ErrorCode.SSE_RECONNECT_EXHAUSTED
    )


class KillSwitchStore(Protocol):
    """Durable kill switch state shared by every instance on the same database.

    ``load`` raises when the state cannot be read; callers treat that as engaged.
    """

    def load(self) -> KillSwitchState:
        """Return the current state."""
        ...

    def set(self, state: KillSwitchState, action: OperatorActionRecord) -> None:
        """Persist ``state`` and record ``action`` in ``operator_audit`` atomically."""
        ...


class AuditStore(Protocol):
    """The append-only, hash-chained audit trail (SPEC §4).

    Every ``record_*`` returns the row's ``seq`` only after the row is durably committed.
    Failures raise ``AuditUnavailableError`` (code AUD-006).
    """

    def record_decision(self, record: PolicyDecisionRecord) -> int:
        """Append a decision row; return its seq once durable."""
        ...

    def record_signal(self, record: SignalRecord) -> int:
        """Append a signal row; return its seq once durable."""
        ...

    def record_order_event(self, record: OrderEventRecord) -> int:
        """Append an order event row; return its seq once durable."""
        ...

    def record_operator_action(self, record: OperatorActionRecord) -> int:
        """Append an operator action row; return its seq once durable."""
        ...

    def record_many(
        self,
        records: list[
            PolicyDecisionRecord | SignalRecord | OrderEventRecord | OperatorActionRecord
        ],
    ) -> list[int]:
        """Append several rows in one durable transaction; return their seqs in order."""
        ...

    async def arecord_many(
        self,
        records: list[
            PolicyDecisionRecord | SignalRecord | OrderEventRecord | OperatorActionRecord
        ],
    ) -> list[int]:
        """``record_many`` for an event loop: awaits the durable commit without blocking it."""
        ...

    def find_signal(self, signal_id: str) -> dict[str, Any] | None:
        """Return the first ``signal_audit`` row of ``signal_id`` (as stored), or None."""
        ...

    def find_signals(self, signal_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Return the first ``signal_audit`` row of each of ``signal_ids`` that has one."""
        ...

    def rows(
        self,
        table: AuditTable,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        correlation_id: str | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> Iterator[dict[str, Any]]:
        """Yield stored rows with their chain fields (``seq``, ``prev_hash``, ``row_hash``)."""
        ...

    def heads(self) -> tuple[ChainHead, ...]:
        """Return the head of every chain."""
        ...

    def verify(self) -> VerifyReport:
        """Re-compute every chain from its genesis."""
        ...

    def latch_store(self) -> LatchStore:
        """Return the durable latch store kept in this database."""
        ...

    def kill_switch_store(self) -> KillSwitchStore:
        """Return the durable kill switch store kept in this database."""
        ...

    def ping(self) -> None:
        """Raise ``AuditUnavailableError`` unless the store can be written now."""
        ...

    def close(self) -> None:
        """Flush and release connections."""
        ...


# --- alerts ----------------------------------------------------------------------------------


class AlertSeverity(StrEnum):
    """How urgent an alert is; ``TRADEGUARD_ALERT_MIN_SEVERITY`` filters below it."""

    INFO = "INFO"
    WARNING = "WARNING"
    CRITICAL = "CRITICAL"

    @property
    def rank(self) -> int:
        """Order of urgency: INFO 0, WARNING 1, CRITICAL 2."""
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {AlertSeverity.INFO: 0, AlertSeverity.WARNING: 1, AlertSeverity.CRITICAL: 2}


@dataclass(frozen=True, slots=True)
class Alert:
    """One thing operators must learn about: what happened, its code and where to look.

    ``event`` is a snake_case name (``kill_switch_engaged``), ``code`` the stable code of the
    condition, ``details`` short key-value context (operator, reason, gate). Alerts with the
    same ``fold_key`` inside the fold window are folded into one.
    """

    event: str
    code: str
    severity: AlertSeverity
    summary: str
    correlation_id: str
    details: Mapping[str, str] = field(default_factory=dict)
    condition: str | None = None

    @property
    def fold_key(self) -> str:
        """The condition this alert reports (``event:code`` unless given)."""
        return self.condition if self.condition is not None else f"{self.event}:{self.code}"


class AlertSink(Protocol):
    """Where use cases and adapters publish alerts (the alert dispatcher, a test recorder).

    ``publish`` never blocks on delivery and never raises: it is called right after the audit
    row of the event is written, sometimes on the signal path.
    """

    def publish(self, alert: Alert) -> None:
        """Hand ``alert`` over for delivery."""
        ...


def publish_alert(sink: AlertSink | None, alert: Alert) -> None:
    """Publish ``alert`` to ``sink`` when there is one; a sink that raises is ignored."""
    if sink is None:
        return
    with suppress(Exception):  # an alert never breaks the action it reports
        sink.publish(alert)


__all__ = [
    "LOCKDOWN_ACTOR",
    "LOCKDOWN_STATE",
    "Alert",
    "AlertSeverity",
    "AlertSink",
    "AuditStore",
    "Balance",
    "ChainBreak",
    "ChainHead",
    "Clock",
    "ExchangeClient",
    "KillSwitchState",
    "KillSwitchStore",
    "LatchStore",
    "OrderRequest",
    "OrderState",
    "OrderStatus",
    "OrderType",
    "PortfolioProvider",
    "PortfolioSnapshot",
    "SymbolRules",
    "Ticker",
    "VerifyReport",
    "is_lockdown",
    "publish_alert",
]
