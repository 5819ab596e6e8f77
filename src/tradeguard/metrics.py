"""Prometheus metrics of the service (SPEC §7), one registry per container: no global state."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from .audit.records import (
    AuditRecord,
    AuditTable,
    OperatorActionRecord,
    OrderEventRecord,
    PolicyDecisionRecord,
    SignalRecord,
)
from .policy import LatchStore
from .ports import AuditStore, ChainHead, KillSwitchStore, VerifyReport

T = TypeVar("T")

_STATES = ("ALLOW", "NEUTRAL", "HALT", "L6_LOCKDOWN")
_HEALTH_LEVEL = {"GREEN": 0, "YELLOW": 1, "RED": 2}

_LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)


ALERT_OUTCOMES = ("sent", "failed", "dropped", "folded", "filtered")


class ServiceMetrics:
    """Every metric the service exports, registered in its own ``CollectorRegistry``."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.decisions = Counter(
            "tradeguard_decisions",
            "Policy decisions by decision and reason code.",
            ["decision", "reason_code", "origin"],
            registry=r,
        )
        self.decision_latency = Histogram(
            "tradeguard_decision_latency_seconds",
            "Time from a signal's arrival to its recorded answer.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.latch = Gauge("tradeguard_latch_active", "1 while the HALT latch holds.", registry=r)
        self.kill_switch = Gauge(
            "tradeguard_kill_switch_active", "1 while the kill switch is engaged.", registry=r
        )
        self.lockdown = Gauge("tradeguard_lockdown_active", "1 during L6 lockdown.", registry=r)
        self.clock_drift = Gauge(
            "tradeguard_clock_drift_ms", "Last measured exchange clock drift (ms).", registry=r
        )
        self.audit_append = Histogram(
            "tradeguard_audit_append_seconds",
            "Durable audit append latency.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.signals = Counter(
            "tradeguard_signals", "Signals received by outcome.", ["outcome"], registry=r
        )
        self.feed_reconnects = Counter(
            "tradeguard_feed_reconnects",
            "Event feed connection attempts by result.",
            ["result"],
            registry=r,
        )
        self.alerts = Counter(
            "tradeguard_alerts",
            "Alerts by outcome: sent, failed and dropped per target; folded and filtered.",
            ["outcome"],
            registry=r,
        )
        for outcome in ALERT_OUTCOMES:
            self.alerts.labels(outcome=outcome)

        self.exchange_reachable = Gauge(
            "tradeguard_exchange_reachable",
            "1 while the exchange answers; 0 from a failed or overdue call until a probe answers.",
            registry=r,
        )
        self.exchange_reachable.set(1)
        self.state = Gauge(
            "tradeguard_state",
            "1 for the state the gate decides on now (ALLOW, NEUTRAL, HALT, L6_LOCKDOWN).",
            ["state"],
            registry=r,
        )
        self.health_status = Gauge(
            "tradeguard_health_status",
            "Health now: 0 GREEN, 1 YELLOW, 2 RED (the HEALTH gate's input).",
            registry=r,
        )

    def observe_status(self, status: dict[str, Any]) -> None:
        """Mirror a ``status`` reading (the gate's own sources) into the state gauges."""
        current = str(status.get("state"))
        for state in _STATES:
            self.state.labels(state=state).set(1 if state == current else 0)
        self.health_status.set(_HEALTH_LEVEL.get(str(status.get("health_status")), 2))
        exchange = status.get("exchange_reachability")
        if isinstance(exchange, dict) and "reachable" in exchange:
            self.exchange_reachable.set(1 if exchange["reachable"] is True else 0)

    def record_decision(self, decision: str, reason_code: str, origin: str) -> None:
        """Count one decision."""
        self.decisions.labels(decision=decision, reason_code=reason_code, origin=origin).inc()

    def feed_attempt(self, succeeded: bool, _reason: str) -> None:
        """Count one event feed connection attempt."""
        self.feed_reconnects.labels(result="connected" if succeeded else "failed").inc()

    def alert_outcome(self, outcome: str) -> None:
        """Count one alert outcome (``ALERT_OUTCOMES``)."""
        self.alerts.labels(outcome=outcome).inc()

    def render(self) -> bytes:
        """Return the exposition text."""
        return generate_latest(self.registry)


class MeteredAuditStore:
    """An ``AuditStore`` that times every durable append into ``audit_append``."""

    def __init__(self, inner: AuditStore, metrics: ServiceMetrics) -> None:
        self.inner = inner
        self._histogram = metrics.audit_append

    def _timed(self, call: Callable[[], T]) -> T:
        started = time.perf_counter()
        try:
            return call()
        finally:
            self._histogram.observe(time.perf_counter() - started)

    def record_decision(self, record: PolicyDecisionRecord) -> int:
        """Append a decision row (timed)."""
        return self._timed(lambda: self.inner.record_decision(record))

    def record_signal(self, record: SignalRecord) -> int:
        """Append a signal row (timed)."""
        return self._timed(lambda: self.inner.record_signal(record))

    def record_order_event(self, record: OrderEventRecord) -> int:
        """Append an order event row (timed)."""
        return self._timed(lambda: self.inner.record_order_event(record))

    def record_operator_action(self, record: OperatorActionRecord) -> int:
        """Append an operator action row (timed)."""
        return self._timed(lambda: self.inner.record_operator_action(record))

    def record_many(self, records: list[AuditRecord]) -> list[int]:
        """Append several rows in one transaction (timed)."""
        return self._timed(lambda: self.inner.record_many(records))

    async def arecord_many(self, records: list[AuditRecord]) -> list[int]:
        """Append several rows in one transaction, awaited on the event loop (timed)."""
        started = time.perf_counter()
        try:
            return await self.inner.arecord_many(records)
        finally:
            self._histogram.observe(time.perf_counter() - started)

    def find_signal(self, signal_id: str) -> dict[str, Any] | None:
        """Return the first row of ``signal_id``."""
        return self.inner.find_signal(signal_id)

    def find_signals(self, signal_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Return the first row of each of ``signal_ids`` that has one."""
        return self.inner.find_signals(signal_ids)

    def rows(self, table: AuditTable, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Yield stored rows."""
        return self.inner.rows(table, **kwargs)

    def heads(self) -> tuple[ChainHead, ...]:
        """Return every chain head."""
        return self.inner.heads()

    def verify(self) -> VerifyReport:
        """Re-compute every chain."""
        return self.inner.verify()

    def latch_store(self) -> LatchStore:
        """Return the durable latch store."""
        return self.inner.latch_store()

    def kill_switch_store(self) -> KillSwitchStore:
        """Return the durable kill switch store."""
        return self.inner.kill_switch_store()

    def ping(self) -> None:
        """Raise unless the store can be written."""
        self.inner.ping()

    def close(self) -> None:
        """Close the store."""
        self.inner.close()


__all__ = ["MeteredAuditStore", "ServiceMetrics"]
