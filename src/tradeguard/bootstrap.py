"""The single composition root: build everything once, hand it out as a ``Container``.

Entry points (``tradeguard run``, the CLI's state commands, the simulator, the tests) call
:func:`build_container`; the web app receives the container through ``create_app``. Nothing
else constructs adapters, so there are no singletons and no hidden global state. Background
work (heartbeat evaluation, time sync, budget refresh, ticker polling, the event feed) lives
in :mod:`tradeguard.background` and is started with :func:`start_background`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from .alerts import AlertDispatcher, DriftAlerts, build_alert_dispatcher
from .audit import open_audit_store
from .clock import SystemClock
from .codes import ErrorCode, PolicyReasonCode
from .errors import AuditUnavailableError, TradeGuardError
from .exchange import ExchangeReachability, MonitoredExchange, create_exchange
from .execution import ExecutionStack, Executor, OrderLimits, PositionBook, build_execution
from .execution.decide import DecideService
from .execution.shared_book import SharedPositionBook
from .execution.shared_permits import SharedDecideService
from .feeds.lockdown import LockdownController
from .feeds.market_data import MarketDataTracker
from .feeds.sse import EventFeedClient, FeedEvent
from .gate import Gate, SignalDispatcher
from .ids import new_correlation_id
from .leadership import account_key, shares_account_state
from .logging import get_logger
from .metrics import MeteredAuditStore, ServiceMetrics
from .operator import OperatorService, StatusProbes
from .policy import (
    Clock,
    GateName,
    LatchPhase,
    LatchStore,
    OperatorActionRecord,
    TradePermissionPolicy,
)
from .ports import AuditStore, ExchangeClient, Ticker
from .settings import Settings, check_live_preconditions
from .sources.account import AuthFailureLatch, ExchangeAccountCheck, ExchangeAccountMonitor
from .sources.budget import BudgetEvaluation, BudgetGuard
from .sources.builder import PolicyContextBuilder
from .sources.changes import HealthChanges
from .sources.circuit_breaker import CircuitBreaker
from .sources.clock_sync import ExchangeTimeSynchronizer, TimeSyncResult
from .sources.health import (
    AuditWritableCheck,
    ClockSyncCheck,
    EventFeedCheck,
    ExchangeReachableCheck,
    HealthVerificationModule,
    MarketDataFreshCheck,
    ReconciliationCheck,
)
from .sources.risk import RiskGovernor, RiskLimits

_log = get_logger("tradeguard.bootstrap")
_ZERO = Decimal(0)
ALERT_DRAIN_SECONDS = 5.0


@dataclass(slots=True)
class Container:
    """Everything the service is made of, built once by :func:`build_container`."""

    settings: Settings
    clock: Clock
    metrics: ServiceMetrics
    audit_store: AuditStore
    policy: TradePermissionPolicy
    circuit_breaker: CircuitBreaker
    budget: BudgetGuard
    health: HealthVerificationModule
    risk: RiskGovernor
    time_sync: ExchangeTimeSynchronizer
    market_data: MarketDataTracker
    builder: PolicyContextBuilder
    exchange: MonitoredExchange
    execution: ExecutionStack
    executor: Executor
    gate: Gate
    dispatcher: SignalDispatcher
    operator: OperatorService
    lockdown: LockdownController
    decider: DecideService
    feed: EventFeedClient | None = None
    warnings: tuple[str, ...] = ()
    alerts: AlertDispatcher | None = None
    health_changes: HealthChanges = field(default_factory=HealthChanges)
    account: ExchangeAccountMonitor | None = None
    auth_latch: AuthFailureLatch | None = None

    def close(self) -> None:
        """Release the feed, the exchange and the database."""
        if self.feed is not None:
            self.feed.stop()
        if self.alerts is not None:
            self.alerts.close(ALERT_DRAIN_SECONDS)
        closers = (
            self.execution.reconciler.close,
            self.decider.close,
            self.execution.positions.close,
            self.builder.close,
            self.budget.close,
            self.exchange.close,
            self._close_reachability,
            self.market_data.close,
            self.audit_store.close,
        )
        for closer in closers:
            try:
                closer()
            except Exception as exc:  # closing is best effort; logged with its cause
                _log.warning("container_close_failed", error=repr(exc))

    def _close_reachability(self) -> None:
        if self.exchange.reachability is not None:
            self.exchange.reachability.close()


def _on_time_sync(metrics: ServiceMetrics) -> Any:
    def record(result: TimeSyncResult) -> None:
        if result.drift_ms is not None:
            metrics.clock_drift.set(float(result.drift_ms))

    return record


def _each(*hooks: Any) -> Any:
    def call(value: Any) -> None:
        for hook in hooks:
            hook(value)

    return call


def _feed_event_handler(tracker: MarketDataTracker) -> Any:
    def on_event(event: FeedEvent) -> None:
        if event.event != "ticker":
            return
        data = json.loads(event.data)
        stamp = datetime.fromisoformat(str(data["timestamp"]).replace("Z", "+00:00"))
        Decimal(str(data["price"]))  # a ticker without a valid price is refused (raises)
        tracker.record(str(data["symbol"]), stamp)

    return on_event


def _feed_probe(feed: EventFeedClient | None) -> Any:
    def probe() -> dict[str, Any] | None:
        if feed is None:
            return {"configured": False, "code": ErrorCode.NOT_CONFIGURED.value}
        return {
            "configured": True,
            "connected": feed.connected,
            "consecutive_failures": feed.consecutive_failures,
            "lockdowns": feed.lockdowns,
        }

    return probe


def _exchange_probe(exchange: MonitoredExchange) -> Any:
    def probe() -> dict[str, Any] | None:
        reachability = exchange.reachability
        return None if reachability is None else reachability.snapshot().to_dict()

    return probe


def _safeguards(settings: Settings) -> Any:
    def probe() -> dict[str, str]:
        return {
            "budget_report": "CONFIGURED" if settings.budget_report else "NOT_CONFIGURED",
            "event_feed": "CONFIGURED" if settings.event_feed_url else "NOT_CONFIGURED",
            "operator_token": "CONFIGURED" if settings.operator_token else "NOT_CONFIGURED",
            "webhook_secret": "CONFIGURED" if settings.webhook_secret else "NOT_CONFIGURED",
            "alerts": "CONFIGURED" if settings.alert_urls else "NOT_CONFIGURED",
        }

    return probe


def _exchange(
    settings: Settings, clock: Clock, market_data: MarketDataTracker, changes: HealthChanges
) -> tuple[MonitoredExchange, dict[str, Decimal]]:
    prices: dict[str, Decimal] = {}

    def on_ticker(ticker: Ticker) -> None:
        prices[ticker.symbol] = ticker.price
        market_data.record(ticker.symbol, ticker.timestamp_utc)

    inner = create_exchange(settings, clock)
    # In-process calls (the paper exchange without latency) cannot hang on a network: only
    # remote calls are timed against the probe timeout.
    in_process = bool(getattr(inner, "in_process", False))
    reachability = ExchangeReachability(
        clock, call_timeout_s=None if in_process else settings.exchange_probe_timeout_seconds
    )
    reachability.add_listener(changes.notify)
    exchange = MonitoredExchange(inner, clock, on_ticker=on_ticker, reachability=reachability)
    return exchange, prices


def _starting_equity(settings: Settings, exchange: ExchangeClient) -> Decimal:
    """Return the equity the risk governor measures drawdown from.

    Paper and DRY_RUN trade the paper balance. LIVE reads the account's balance in the quote
    currency of the first traded symbol; when it cannot be read the equity is zero, which makes
    the first loss a full drawdown (RISK CRITICAL, HALT): unknown equity fails closed.
    """
    if settings.exchange == "paper" or not settings.is_live:
        return settings.paper_quote_balance
    symbol = settings.symbols[0] if settings.symbols else ""
    try:
        balances = exchange.balances()
    except TradeGuardError as error:
        _log.warning("starting_equity_unknown", code=error.code, detail=error.message)
        return _ZERO
    quote = [b for b in balances if b.currency and symbol.endswith(b.currency)]
    if not quote:
        _log.warning("starting_equity_unknown", code=ErrorCode.RISK_DRAWDOWN, symbol=symbol)
        return _ZERO
    return max(quote, key=lambda b: len(b.currency)).total


def _send_guard(breaker: CircuitBreaker, latch_store: LatchStore | None) -> Any:
    """Stop every new order while the kill switch is engaged or a HALT is latched.

    An unreadable kill switch raises (the executor counts it as engaged); an unreadable latch
    counts as latched, as the policy counts it. ``latch_store`` is None when the policy layer
    is disabled: the latch is then not consulted, only the kill switch.
    """
    engaged = PolicyReasonCode.HALT_KILL_SWITCH.value
    latched = PolicyReasonCode.HALT_LATCHED.value

    def guard() -> str | None:
        if breaker.is_active():
            return engaged
        if latch_store is None:
            return None
        try:
            phase = latch_store.load().phase
        except Exception:  # the policy treats an unreadable latch as held: so do we
            return latched
        return latched if phase is LatchPhase.LATCHED else None

    return guard


def order_limits(settings: Settings) -> OrderLimits:
    """Return the pre-trade order control limits the settings ask for."""
    return OrderLimits(
        price_collar_pct=settings.price_collar_pct,
        max_order_notional=settings.max_order_notional,
        max_orders_per_symbol=settings.max_orders_per_symbol,
        max_orders_per_account=settings.max_orders_per_account,
        rate_window_seconds=settings.order_rate_window_seconds,
        duplicate_window_seconds=settings.duplicate_order_window_seconds,
    )


def _price_lookup(exchange: ExchangeClient, prices: dict[str, Decimal]) -> Any:
    def lookup(symbol: str) -> Decimal:
        price = prices.get(symbol)
        return price if price is not None else exchange.ticker(symbol).price

    return lookup


def _health(
    settings: Settings,
    clock: Clock,
    exchange: MonitoredExchange,
    market_data: MarketDataTracker,
    time_sync: ExchangeTimeSynchronizer,
    feed_connected: Any,
    reconciliation_pending: Any,
    store: AuditStore,
    account: ExchangeAccountMonitor | None = None,
) -> HealthVerificationModule:
    return HealthVerificationModule(
        [
            ExchangeReachableCheck(
                lambda: exchange.last_success_monotonic,
                clock,
                settings.exchange_timeout_seconds,
                reachability=exchange.reachability,
            ),
            MarketDataFreshCheck(
                market_data, settings.symbols, settings.max_market_data_age_seconds
            ),
            ClockSyncCheck(time_sync),
            EventFeedCheck(feed_connected),
            ReconciliationCheck(reconciliation_pending),
            AuditWritableCheck(store.ping, monotonic=clock.monotonic),
            *(
                ()
                if account is None
                else (ExchangeAccountCheck(account, clock, _account_max_age(settings)),)
            ),
        ]
    )


def _account_max_age(settings: Settings) -> float:
    # A successful account read counts for three intervals (or the exchange timeout if
    # longer): one failed read alone is seen through the read's own state, not its age.
    return max(3 * settings.account_check_interval_seconds, settings.exchange_timeout_seconds)


def _account_configured(settings: Settings) -> bool:
    # DRY_RUN on a real adapter may run without keys (public reads only): no account to read.
    return settings.exchange == "paper" or settings.is_live or settings.exchange_api_key is not None


BUDGET_ACTOR = "system:budget-guard"


def _record_budget_corruption(store: AuditStore, clock: Clock) -> Any:
    """Write every newly seen corrupt budget report to ``operator_audit`` as a system event."""

    def record(evaluation: BudgetEvaluation) -> None:
        store.record_operator_action(
            OperatorActionRecord(
                action=ErrorCode.BUDGET_DATA_CORRUPT,
                correlation_id=new_correlation_id(),
                operator_id=BUDGET_ACTOR,
                reason=evaluation.detail or "budget report is corrupt",
                timestamp_utc=clock.now(),
                details={"source": evaluation.source, "signal": evaluation.signal.value},
            )
        )

    return record


def _shared_book(
    settings: Settings, clock: Clock, starting_equity: Decimal, price_lookup: Any
) -> PositionBook | None:
    """On PostgreSQL, the book every process on the database shares; else None (in memory)."""
    if not shares_account_state(settings.database_url):
        return None
    try:
        book = SharedPositionBook(
            clock,
            settings.database_url,
            account=account_key(settings.exchange, settings.execution_mode),
            lease_seconds=settings.shared_lease_seconds,
            # A paper exchange lives in the process: its resting orders die with it.
            resting_outlives_process=settings.exchange != "paper",
            starting_equity=starting_equity,
            price_lookup=price_lookup,
            max_gross_exposure=settings.max_gross_exposure,
            max_open_orders=settings.max_open_orders,
        )
    except TradeGuardError as exc:
        raise AuditUnavailableError(exc.code, exc.message) from exc
    book.start()
    return book


def _decider(
    settings: Settings, gate: Gate, store: AuditStore, positions: PositionBook, clock: Clock
) -> DecideService:
    """On PostgreSQL, permits every process on the database shares; else in this process."""
    if not shares_account_state(settings.database_url):
        return DecideService(gate, store, positions, clock, ttl_seconds=settings.permit_ttl_seconds)
    return SharedDecideService(
        gate,
        store,
        positions,
        clock,
        url=settings.database_url,
        account=account_key(settings.exchange, settings.execution_mode),
        ttl_seconds=settings.permit_ttl_seconds,
    )


def build_container(settings: Settings, clock: Clock | None = None) -> Container:
    """Build every component from ``settings``.

    Args:
        settings: Validated settings.
        clock: Injected clock (tests, simulator); the system clock by default.

    Raises:
        LiveModeRefusedError: LIVE without a required safeguard (LIVE_MODE_REFUSED).
        ConfigurationError: An invalid adapter configuration.
        AuditUnavailableError: The database cannot be opened.
    """
    warnings = tuple(check_live_preconditions(settings))
    clock = clock if clock is not None else SystemClock()
    metrics = ServiceMetrics()
    alerts = build_alert_dispatcher(settings, clock, metrics.alert_outcome)
    store: AuditStore = MeteredAuditStore(open_audit_store(settings.database_url), metrics)
    latch_store = store.latch_store()
    policy = TradePermissionPolicy(
        settings.latch_reset_window_seconds, clock=clock, latch_store=latch_store
    )
    changes = HealthChanges()
    market_data = MarketDataTracker(
        clock, max_age_s=settings.max_market_data_age_seconds, on_change=changes.notify
    )
    exchange, prices = _exchange(settings, clock, market_data, changes)
    starting_equity = _starting_equity(settings, exchange)
    lookup = _price_lookup(exchange, prices)
    execution = build_execution(
        exchange,
        store,
        clock,
        starting_equity=starting_equity,
        price_lookup=lookup,
        max_gross_exposure=settings.max_gross_exposure,
        max_open_orders=settings.max_open_orders,
        positions=_shared_book(settings, clock, starting_equity, lookup),
        symbol_rules=True,
        order_limits=order_limits(settings),
    )
    if execution.symbol_rules is not None:  # read once at start; retried by the order path
        execution.symbol_rules.warm(settings.symbols)
    breaker = CircuitBreaker(
        store.kill_switch_store(),
        clock,
        on_engage=execution.executor.cancel_all_resting,
        alerts=alerts,
    )
    execution.reconciler.alerts = alerts
    exchange.alerts = alerts
    execution.executor.send_guard = _send_guard(
        breaker, latch_store if settings.policy_enabled else None
    )
    auth_latch = AuthFailureLatch(breaker)
    account = ExchangeAccountMonitor(
        exchange,
        clock,
        on_auth_failure=auth_latch.engage,
        configured=_account_configured(settings),
    )
    exchange.on_auth_failure = account.note_auth_failure
    time_sync = ExchangeTimeSynchronizer(
        exchange,
        clock,
        settings.max_clock_drift_ms,
        settings.sync_interval_seconds,
        on_result=_each(_on_time_sync(metrics), DriftAlerts(alerts)),
    )
    feed_holder: list[EventFeedClient] = []
    health = _health(
        settings,
        clock,
        exchange,
        market_data,
        time_sync,
        (lambda: bool(feed_holder) and feed_holder[0].connected)
        if settings.event_feed_url
        else None,
        execution.reconciler.pending,
        store,
        account,
    )
    budget = BudgetGuard(
        settings.budget_report,
        clock,
        settings.budget_max_age_seconds,
        refresh_interval_s=settings.budget_refresh_seconds,
        on_corrupt=_record_budget_corruption(store, clock),
    )
    risk = RiskGovernor(execution.positions, RiskLimits.from_settings(settings))
    builder = PolicyContextBuilder(
        breaker, budget, health, risk, clock, settings.source_timeout_ms / 1000
    )
    # A partial fill makes the health NEUTRAL at once, not when the cached sample expires.
    execution.reconciler.on_change(lambda: builder.invalidate(GateName.HEALTH))
    # The same for the exchange, market data and the event feed: the moment one changes, the
    # next decision (and ``status``) asks the health checks again.
    changes.subscribe(lambda: builder.invalidate(GateName.HEALTH))
    if exchange.reachability is not None:
        exchange.reachability.add_listener(metrics.exchange_reachable.set)
    account.on_change(lambda: builder.invalidate(GateName.HEALTH))
    gate = Gate(
        builder=builder,
        policy=policy,
        audit=store,
        executor=execution.executor,
        authority=execution.authority,
        positions=execution.positions,
        clock=clock,
        policy_enabled=settings.policy_enabled,
        legacy_min_confidence=settings.legacy_min_confidence,
    )
    lockdown = LockdownController(breaker)
    feed = None
    if settings.event_feed_url:
        feed = EventFeedClient(
            settings.event_feed_url,
            on_event=_feed_event_handler(market_data),
            on_exhausted=lockdown.enter,
            on_attempt=metrics.feed_attempt,
            backoff_initial_seconds=settings.feed_backoff_initial_seconds,
            backoff_max_seconds=settings.feed_backoff_max_seconds,
            on_connection_change=changes.notify,
        )
        feed_holder.append(feed)
    operator = OperatorService(
        settings=settings,
        clock=clock,
        audit_store=store,
        policy=policy,
        latch_store=latch_store,
        circuit_breaker=breaker,
        builder=builder,
        health=health,
        probes=StatusProbes(
            clock_drift_ms=lambda: (
                None if time_sync.last_result is None else time_sync.last_result.drift_ms
            ),
            feed=_feed_probe(feed),
            safeguards=_safeguards(settings),
            exchange=_exchange_probe(exchange),
        ),
        alerts=alerts,
    )
    return Container(
        settings=settings,
        clock=clock,
        metrics=metrics,
        audit_store=store,
        policy=policy,
        circuit_breaker=breaker,
        budget=budget,
        health=health,
        risk=risk,
        time_sync=time_sync,
        market_data=market_data,
        builder=builder,
        exchange=exchange,
        execution=execution,
        executor=execution.executor,
        gate=gate,
        dispatcher=SignalDispatcher(gate),
        operator=operator,
        lockdown=lockdown,
        decider=_decider(settings, gate, store, execution.positions, clock),
        feed=feed,
        warnings=warnings,
        alerts=alerts,
        health_changes=changes,
        account=account,
        auth_latch=auth_latch,
    )


__all__ = ["Container", "build_container", "order_limits"]
