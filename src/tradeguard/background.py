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
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Protocol

from .alerts import AlertDispatcher, LatchAlerts
from .codes import ErrorCode
from .errors import TradeGuardError
from .execution import Executor
from .execution.decide import DecideService
from .feeds.lockdown import LockdownController, is_lockdown
from .feeds.market_data import MarketDataTracker
from .feeds.sse import EventFeedClient
from .ids import new_correlation_id
from .logging import get_logger
from .metrics import ServiceMetrics
from .policy import Clock, Decision, PolicyDecision, PolicyDecisionRecord, TradePermissionPolicy
from .ports import AuditStore, ExchangeClient
from .settings import Settings
from .sources.budget import BudgetGuard
from .sources.builder import PolicyContextBuilder
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


def prime_sources(container: Container) -> None:
    """Read each source once (no writes): tickers, exchange time, budget report."""
    for name, action in (
        ("tickers", lambda: poll_tickers(container)),
        ("time_sync", lambda: sync_time(container)),
        ("budget", container.budget.refresh),
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

    def stop(self) -> None:
        """Stop the feed and every periodic task."""
        if self.container.feed is not None:
            self.container.feed.stop()
        for task in self.tasks:
            task.stop()
        if self.container.alerts is not None:
            self.container.alerts.close(ALERT_DRAIN_SECONDS)


def start_background(container: Container) -> Background:
    """Start the heartbeat, time sync, budget refresh, ticker polling and the event feed."""
    settings = container.settings
    if container.alerts is not None:
        container.alerts.start()
    heartbeat = Heartbeat(container)
    container.lockdown.on_locked = lambda _cid: heartbeat.beat("lockdown")
    prime_sources(container)
    ticker_interval = max(0.2, min(5.0, settings.max_market_data_age_seconds / 3))
    tasks = [
        PeriodicTask("tickers", ticker_interval, lambda: poll_tickers(container)),
        PeriodicTask(
            "time_sync",
            settings.sync_interval_seconds,
            lambda: sync_time(container),
            code=ErrorCode.EXCHANGE_TIME_UNAVAILABLE,
        ),
        PeriodicTask("heartbeat", settings.heartbeat_interval_seconds, heartbeat, code="TPP-001"),
        PeriodicTask(
            "permits",
            min(1.0, settings.permit_ttl_seconds / 4),
            container.decider.expire_due,
            code=ErrorCode.PERMIT_EXPIRED,
        ),
    ]
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
    if container.feed is not None:
        container.feed.start()
    _log.info("background_started", tasks=[task.name for task in tasks])
    return Background(container, heartbeat, tasks)


def stop_background(background: Background) -> None:
    """Stop what :func:`start_background` started."""
    background.stop()


__all__ = [
    "Background",
    "Heartbeat",
    "poll_tickers",
    "prime_sources",
    "start_background",
    "stop_background",
    "sync_time",
]
