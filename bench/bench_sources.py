"""Policy context cost: ``PolicyContextBuilder.build()`` with every source healthy and with one
source hung forever, plus each source's own read.

Real sources: the kill switch over the SQLite audit store, the budget guard over a report file,
the six health checks, the risk governor over a fixed portfolio. ``build`` timings are taken
call by call (``perf_counter_ns``) so the p99 is a real per-call percentile.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from tradeguard.audit import open_audit_store
from tradeguard.clock import SystemClock
from tradeguard.feeds.market_data import MarketDataTracker
from tradeguard.sources import (
    AuditWritableCheck,
    BudgetGuard,
    CircuitBreaker,
    ClockSyncCheck,
    EventFeedCheck,
    ExchangeReachableCheck,
    ExchangeTimeSynchronizer,
    HealthVerificationModule,
    MarketDataFreshCheck,
    PolicyContextBuilder,
    PortfolioSnapshot,
    ReconciliationCheck,
    RiskEvaluation,
    RiskGovernor,
    RiskLimits,
)

from .common import per_call_ns, summarize_ns, write_result

BUILDS = 200_000
FRESH_BUILDS = 5_000
HUNG_BUILDS = 12
TIMEOUT_S = 0.25


class _ExchangeClock:
    name = "bench"

    def server_time(self) -> datetime:
        return datetime.now(UTC)


class _Portfolio:
    def snapshot(self) -> PortfolioSnapshot:
        return PortfolioSnapshot(
            Decimal(10000), Decimal(10100), Decimal(-20), Decimal(5), Decimal(2500), 3
        )


class _HungRisk:
    def __init__(self, release: threading.Event) -> None:
        self._release = release

    def assess(self) -> RiskEvaluation:
        self._release.wait()
        raise RuntimeError("released")


def _sources(workdir: Path) -> dict[str, Any]:
    clock = SystemClock()
    store = open_audit_store(f"sqlite:///{workdir / 'audit.db'}")
    report = workdir / "budget.json"
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    report.write_text(
        json.dumps(
            {
                "generated_at": stamp,
                "currency": "USD",
                "monthly_budget": 3000,
                "month_to_date_spend": 1200,
                "recommended_daily_spend": 100,
                "today_spend": 40,
                "risk_level": "OK",
            }
        )
    )
    tracker = MarketDataTracker(clock)
    tracker.record("BTCUSDT", datetime.now(UTC))
    sync = ExchangeTimeSynchronizer(_ExchangeClock(), clock)  # type: ignore[arg-type]
    sync.sync_time(str(uuid.uuid4()))
    started = clock.monotonic()
    health = HealthVerificationModule(
        [
            ExchangeReachableCheck(lambda: started + 3600, clock, 10),
            MarketDataFreshCheck(tracker, ["BTCUSDT"], 3600),
            ClockSyncCheck(sync),
            EventFeedCheck(lambda: True),
            ReconciliationCheck(lambda: False),
            AuditWritableCheck(store.ping),
        ]
    )
    return {
        "store": store,
        "breaker": CircuitBreaker(store.kill_switch_store(), clock),
        "budget": BudgetGuard(str(report), clock, 86400, 1.0, refresh_interval_s=3600),
        "health": health,
        "risk": RiskGovernor(
            _Portfolio(),
            RiskLimits(Decimal(5), Decimal(10), Decimal(1000), Decimal(100000), 50),
        ),
        "clock": clock,
    }


def _timed_builds(builder: PolicyContextBuilder, count: int) -> list[float]:
    cid = str(uuid.uuid4())
    clock = time.perf_counter_ns
    samples: list[float] = []
    for _ in range(count):
        start = clock()
        builder.build(cid)
        samples.append(clock() - start)
    return samples


def _hung(src: dict[str, Any]) -> dict[str, Any]:
    release = threading.Event()
    builder = PolicyContextBuilder(
        src["breaker"], src["budget"], src["health"], _HungRisk(release), src["clock"], TIMEOUT_S
    )
    seconds: list[float] = []
    incomplete: set[str] = set()
    for _ in range(HUNG_BUILDS):
        start = time.perf_counter()
        context = builder.build(str(uuid.uuid4()))
        seconds.append(time.perf_counter() - start)
        incomplete.update(g.value for g in context.incomplete_sources)
    release.set()
    builder.close()
    return {
        "timeout_s": TIMEOUT_S,
        "builds": HUNG_BUILDS,
        "max_s": max(seconds),
        "median_s": statistics.median(seconds),
        "per_build_s": [round(s, 4) for s in seconds],
        "incomplete_sources": sorted(incomplete),
        "overrun_over_timeout_ms": (max(seconds) - TIMEOUT_S) * 1000,
    }


def run() -> dict[str, Any]:
    """Measure and return the results."""
    with tempfile.TemporaryDirectory() as tmp:
        src = _sources(Path(tmp))
        results: dict[str, Any] = {}
        builder = PolicyContextBuilder(
            src["breaker"], src["budget"], src["health"], src["risk"], src["clock"], TIMEOUT_S
        )
        builder.build(str(uuid.uuid4()))
        results["build_healthy_cached"] = summarize_ns(_timed_builds(builder, BUILDS))
        builder.close()
        fresh = PolicyContextBuilder(
            src["breaker"],
            src["budget"],
            src["health"],
            src["risk"],
            src["clock"],
            TIMEOUT_S,
            max_sample_age_s=0,
        )
        results["build_healthy_fresh_reads"] = summarize_ns(_timed_builds(fresh, FRESH_BUILDS))
        fresh.close()
        for name, read in (
            ("kill_switch_is_active_sqlite", src["breaker"].is_active),
            ("budget_current", src["budget"].current),
            ("health_report_six_checks", src["health"].report),
            ("risk_assess", src["risk"].assess),
        ):
            results[f"source_{name}"] = summarize_ns(per_call_ns(read, 50_000, batch=500))
        results["build_one_source_hung"] = _hung(src)
        src["budget"].close()
        src["store"].close()
    cached = results["build_healthy_cached"]
    hung = results["build_one_source_hung"]
    results["summary"] = {
        "build_healthy_median_ns": cached["median_ns"],
        "build_healthy_p99_ns": cached["p99_ns"],
        "build_fresh_reads_median_ns": results["build_healthy_fresh_reads"]["median_ns"],
        "build_fresh_reads_p99_ns": results["build_healthy_fresh_reads"]["p99_ns"],
        "build_one_hung_max_s": hung["max_s"],
        "build_one_hung_timeout_s": hung["timeout_s"],
        "targets": {"build_healthy_median_ns": 50_000, "build_one_hung_max_s": TIMEOUT_S + 0.05},
    }
    return results


def write(result: dict[str, Any]) -> Any:
    """Write ``bench/results/sources.json``."""
    return write_result("sources", result)
