"""The service's background work, started and stopped with the container.

- **Heartbeat** (every ``heartbeat_interval_seconds``): build a context, evaluate the policy
  (which keeps the latch moving: HALT latches, the re-validation window elapses), and write a
  ``policy_decision_audit`` row with origin ``heartbeat`` only when the decision or the reason
  code changed since the last recorded one, so the trail shows every transition with the
  context that caused it. It also mirrors the latch, kill switch and lockdown into metrics,
  cancels resting orders when it sees the kill switch become engaged (engaged by another
  process), and retries a lockdown the store could not record.
- **Permit expiry** (decide API) at least every second: unreported permits past their TTL
  free their reservation, so signals are not held back by a bot that went away.
- **Time sync** every ``sync_interval_seconds``; **budget refresh** every
  ``budget_refresh_seconds``; **ticker polling** for market data freshness; **event feed**.
- **Exchange liveness probe** every ``exchange_probe_interval_seconds`` (backing off while the
  exchange is unreachable). Every health change (a failed exchange call, a tick turning stale,
  the feed dropping) wakes the heartbeat at once, so the trail records the transition at the
  moment it is known rather than at the next beat.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from .alerts import AlertDispatcher, LatchAlerts
from .codes import ErrorCode
from .errors import DependencyUnavailableError, TradeGuardError
from .exchange.reachability import ExchangeProber, ExchangeReachability
from .execution import Executor
from .execution.decide import DecideService
from .execution.startup import StartReport, start_from_exchange
from .feeds.lockdown import LockdownController, is_lockdown
from .feeds.market_data import MarketDataTracker
from .feeds.sse import EventFeedClient
from .ids import new_correlation_id
from .logging import get_logger
from .metrics import ServiceMetrics
from .policy import Clock, Decision, PolicyDecision, PolicyDecisionRecord, TradePermissionPolicy
from .ports import AuditStore, ExchangeClient
from .settings import Settings
from .sources.account import AccountState, AuthFailureLatch, ExchangeAccountMonitor
from .sources.budget import BudgetGuard
from .sources.builder import PolicyContextBuilder
from .sources.changes import HealthChanges
from .sources.circuit_breaker import CircuitBreaker
from .sources.clock_sync import ExchangeTimeSynchronizer
from .sources.periodic import PeriodicTask


class Container(Protocol):
    """The parts of the composition root's container the background work uses."""

    settings: Settings
    clock: Clock
    metrics: ServiceMetrics
    audit_store: AuditStore
    policy: TradePermissionPolicy
    circuit_breaker: CircuitBreaker
    budget: BudgetGuard
    time_sync: ExchangeTimeSynchronizer
    market_data: MarketDataTracker
    builder: PolicyContextBuilder
    executor: Executor
    lockdown: LockdownController
    decider: DecideService
    feed: EventFeedClient | None
    alerts: AlertDispatcher | None
    health_changes: HealthChanges
    account: ExchangeAccountMonitor | None
    auth_latch: AuthFailureLatch | None

    @property
    def exchange(self) -> ExchangeClient:
        """The (monitored) exchange adapter."""
        ...


_log = get_logger("tradeguard.background")

HEARTBEAT_ORIGIN = "heartbeat"
ALERT_DRAIN_SECONDS = 5.0


class Heartbeat:
    """Evaluate the policy now and record it when the decision or reason changed."""

    def __init__(self, container: Container) -> None:
        self._c = container
        self._last: tuple[str, str] | None = None
        self._kill_seen = False
        self._latch_alerts = LatchAlerts(container.alerts)

    def __call__(self) -> PolicyDecision:
        """Run one heartbeat evaluation; return the decision."""
        return self.beat()

    def beat(self, origin: str = HEARTBEAT_ORIGIN) -> PolicyDecision:
        """Evaluate once; record a row when the (decision, reason code) pair changed."""
        c = self._c
        c.lockdown.retry_pending()
        if c.auth_latch is not None:
            c.auth_latch.retry_pending()
        correlation_id = new_correlation_id()
        context = c.builder.build(correlation_id)
        decision = c.policy.evaluate(context)
        key = (decision.decision.value, decision.reason_code.value)
        if key != self._last:
            record = PolicyDecisionRecord.from_decision(
                context, decision, timestamp_utc=c.clock.now(), origin=origin
            )
            try:
                c.audit_store.record_decision(record)
            except TradeGuardError as exc:  # logged; retried at the next beat
                _log.error("heartbeat_record_failed", code=exc.code, correlation_id=correlation_id)
            else:
                _log.info(
                    "decision_changed",
                    code=decision.reason_code.value,
                    correlation_id=correlation_id,
                    decision=decision.decision.value,
                    previous=None if self._last is None else self._last[0],
                    is_latched=decision.is_latched,
                )
                c.metrics.record_decision(key[0], key[1], origin)
                self._last = key
        self._mirror(decision, context.kill_switch_active, correlation_id)
        self._latch_alerts.observe(decision, correlation_id)  # after its row was recorded
        return decision

    def _mirror(self, decision: PolicyDecision, kill_active: bool, correlation_id: str) -> None:
        c = self._c
        c.metrics.latch.set(1 if decision.is_latched else 0)
        c.metrics.kill_switch.set(1 if kill_active else 0)
        try:
            lockdown = is_lockdown(c.circuit_breaker.state())
        except TradeGuardError:
            lockdown = False
        c.metrics.lockdown.set(1 if lockdown else 0)
        if kill_active and not self._kill_seen:
            try:
                c.executor.cancel_all_resting(correlation_id)
            except Exception as exc:  # logged; the kill switch blocks new orders regardless
                _log.error(
                    "cancel_resting_failed",
                    code=ErrorCode.EXCHANGE_ERROR,
                    correlation_id=correlation_id,
                    error=repr(exc),
                )
        self._kill_seen = kill_active and decision.decision is Decision.HALT


def poll_tickers(container: Container) -> None:
    """Read every traded symbol's ticker once (feeds market data freshness)."""
    for symbol in container.settings.symbols:
        ticker = container.exchange.ticker(symbol)
        container.market_data.record(symbol, ticker.timestamp_utc)


def sync_time(container: Container) -> None:
    """Measure the exchange clock drift once."""
    container.time_sync.sync_time(str(uuid.uuid4()))


def read_account(container: Container) -> None:
    """Read the exchange account once (balances, open orders) for ``exchange_account``.

    The open orders read settle the resting orders the position book holds (on a shared
    book, those the exchange no longer lists stop counting for every process).
    """
    if container.account is not None and container.account.configured:
        started = container.clock.now()
        reading = container.account.read()
        if reading.state is AccountState.OK:
            container.executor.settle_resting(reading.open_orders, started)


def prime_sources(container: Container) -> None:
    """Read each source once (no writes): tickers, exchange time, budget report, account."""
    for name, action in (
        ("tickers", lambda: poll_tickers(container)),
        ("time_sync", lambda: sync_time(container)),
        ("budget", container.budget.refresh),
        ("account", lambda: read_account(container)),
    ):
        try:
            action()
        except TradeGuardError as exc:  # the sources report their own state
            _log.warning("prime_source_failed", source=name, code=exc.code)


@dataclass
class Background:
    """The running background tasks of one container."""

    container: Container
    heartbeat: Heartbeat
    tasks: list[PeriodicTask] = field(default_factory=list)
    prober: ExchangeProber | None = None
    wake: Callable[[], object] | None = None

    def stop(self) -> None:
        """Stop the feed, the probe and every periodic task."""
        if self.wake is not None:
            self.container.health_changes.unsubscribe(self.wake)
        if self.container.feed is not None:
            self.container.feed.stop()
        if self.prober is not None:
            self.prober.stop()
        for task in self.tasks:
            task.stop()
        if self.container.alerts is not None:
            self.container.alerts.close(ALERT_DRAIN_SECONDS)


def _prober(container: Container) -> ExchangeProber | None:
    probe = getattr(container.exchange, "probe", None)
    reachability = getattr(container.exchange, "reachability", None)
    if not callable(probe) or not isinstance(reachability, ExchangeReachability):
        return None
    settings = container.settings
    return ExchangeProber(
        probe,
        reachability,
        interval_s=settings.exchange_probe_interval_seconds,
        backoff_max_s=settings.exchange_probe_backoff_max_seconds,
    )


def start_from_exchange_truth(container: Container, *, required: bool) -> StartReport | None:
    """Before the first decision: read the account, adopt its resting orders, reconcile.

    Args:
        container: The built container.
        required: LIVE: an account that cannot be read raises instead of being logged.

    Raises:
        DependencyUnavailableError: ``required`` and the account (``START_STATE_UNREADABLE``)
            or the audit trail could not be read.
    """
    monitor = container.account
    if monitor is None or not monitor.configured or monitor.adopted:
        return None
    started = container.clock.now()
    reading = monitor.read()
    try:
        if reading.state is not AccountState.OK:
            raise DependencyUnavailableError(
                ErrorCode.START_STATE_UNREADABLE,
                f"resting orders and balances could not be read ({reading.code}): {reading.detail}",
                hint="restore the exchange connection and the API keys, then start again",
            )
        report = start_from_exchange(
            open_orders=reading.open_orders,
            balances=reading.balances,
            executor=container.executor,
            audit=container.audit_store,
            clock=container.clock,
            exchange_name=container.exchange.name,
        )
        container.executor.settle_resting(reading.open_orders, started)
    except TradeGuardError as exc:
        if required:
            raise
        _log.warning("start_from_exchange_failed", code=exc.code, detail=exc.message)
        return None
    monitor.adopted = True
    _log.info("started_from_exchange", **report.to_dict())
    return report


def start_account_watch(container: Container) -> PeriodicTask | None:
    """Arm the credentials latch, start from the exchange's truth, read the account regularly.

    Once per process: the leader's background (on PostgreSQL) and every follower each watch
    their own account reads, so the ``exchange_account`` check of every process is current.
    Returns the started task, or None when this process already watches (or has no account).

    Raises:
        DependencyUnavailableError: LIVE and the account cannot be read at start.
    """
    if container.auth_latch is not None:
        container.auth_latch.armed = True
    start_from_exchange_truth(container, required=container.settings.is_live)
    monitor = container.account
    if monitor is None or not monitor.configured or monitor.watched:
        return None
    monitor.watched = True
    task = PeriodicTask(
        "exchange_account",
        container.settings.account_check_interval_seconds,
        lambda: read_account(container),
        code=ErrorCode.EXCHANGE_ACCOUNT_UNREADABLE,
    )
    task.start()
    return task


def start_background(container: Container) -> Background:
    """Start the heartbeat, time sync, budget refresh, ticker polling and the event feed."""
    settings = container.settings
    if container.alerts is not None:
        container.alerts.start()
    heartbeat = Heartbeat(container)
    container.lockdown.on_locked = lambda _cid: heartbeat.beat("lockdown")
    if container.auth_latch is not None:
        container.auth_latch.on_engaged = lambda _cid: heartbeat.beat("exchange-auth")
    account_task = start_account_watch(container)
    prime_sources(container)
    # Frozen or stale tickers are known when a ticker arrives: poll at least every second.
    ticker_interval = max(0.2, min(1.0, settings.max_market_data_age_seconds / 3))
    beat = PeriodicTask("heartbeat", settings.heartbeat_interval_seconds, heartbeat, code="TPP-001")
    tasks = [
        PeriodicTask("tickers", ticker_interval, lambda: poll_tickers(container)),
        PeriodicTask(
            "time_sync",
            settings.sync_interval_seconds,
            lambda: sync_time(container),
            code=ErrorCode.EXCHANGE_TIME_UNAVAILABLE,
        ),
        beat,
        PeriodicTask(
            "permits",
            min(1.0, settings.permit_ttl_seconds / 4),
            container.decider.expire_due,
            code=ErrorCode.PERMIT_EXPIRED,
        ),
    ]
    if account_task is not None:
        tasks.append(account_task)
    if settings.budget_report:
        tasks.insert(
            0,
            PeriodicTask(
                "budget",
                settings.budget_refresh_seconds,
                container.budget.refresh,
                code=ErrorCode.BUDGET_REPORT_UNAVAILABLE,
            ),
        )
    for task in tasks:
        task.start()
    container.health_changes.subscribe(beat.wake)
    prober = _prober(container)
    if prober is not None:
        prober.start()
    if container.feed is not None:
        container.feed.start()
    _log.info("background_started", tasks=[task.name for task in tasks])
    return Background(container, heartbeat, tasks, prober, beat.wake)


def stop_background(background: Background) -> None:
    """Stop what :func:`start_background` started."""
    background.stop()


__all__ = [
    "Background",
    "Heartbeat",
    "poll_tickers",
    "prime_sources",
    "read_account",
    "start_account_watch",
    "start_background",
    "start_from_exchange_truth",
    "stop_background",
    "sync_time",
]
