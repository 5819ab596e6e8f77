"""The six scenario bodies of SPEC §8, each working on a started :class:`ScenarioRun`.

The two whose unsafe state latches (budget corruption → HALT, feed storm → L6 lockdown) live
in :mod:`.latching`; they are re-exported here.

Every body injects its fault through a loopback control surface, observes the state from
outside, removes the fault and observes again; the common checks (expected state, trades
during unsafe conditions, log stamping) are added by the simulator around it.
"""

from __future__ import annotations

import time
from decimal import Decimal

from ..codes import ErrorCode
from . import assertions as rules
from .latching import budget_corruption, disconnect_storm
from .pipeline import SYMBOL
from .results import ScenarioAbortedError, SystemState
from .run import ScenarioRun

BASE_CURRENCY = SYMBOL.removesuffix("USDT")


def exchange_downtime(run: ScenarioRun, duration_s: float) -> None:
    """The exchange stops answering for at least ``duration_s`` (held until detected).

    NEUTRAL must show within ``downtime_reaction_limit_s`` (1 s, SPEC §10 Detection), or the
    general reaction limit when that is tighter.
    """
    if duration_s <= 0:
        raise ScenarioAbortedError(f"duration_s must be > 0, got {duration_s}")
    run.expected_state = SystemState.NEUTRAL.value
    limit = min(run.limits.reaction_limit_s, run.limits.downtime_reaction_limit_s)
    injected = run.inject("exchange down", lambda: run.control.set_faults({"down": True}))
    run.detect(SystemState.NEUTRAL, injected, limit)
    # The outage lasts at least ``duration_s`` and until the exchange_reachable check has
    # reported it, within the reaction limit.
    run.observer.wait_for(
        lambda o: o.check_code("exchange_reachable") == ErrorCode.EXCHANGE_UNREACHABLE,
        max(0.0, injected + run.limits.reaction_limit_s - time.monotonic()),
        injected,
    )
    remaining = duration_s - (time.monotonic() - injected)
    time.sleep(max(remaining, run.limits.hold_s))
    now = time.monotonic()
    run.actual_state = run.worst_between(injected, now)
    run.add(
        run.check_reported(
            "exchange_unreachable_reported",
            "exchange_reachable",
            ErrorCode.EXCHANGE_UNREACHABLE,
            injected,
            now,
            "the exchange_reachable health check reports EXCHANGE_UNREACHABLE during downtime",
        )
    )
    recovered = run.recover("exchange up", run.control.clear_faults)
    run.recover_to_allow(recovered)


def partial_fill(run: ScenarioRun, fill_pct: float) -> None:
    """The exchange fills only ``fill_pct`` % of each order and cancels the rest."""
    if not 0 < fill_pct < 100:
        raise ScenarioAbortedError(f"fill_pct must be within (0, 100), got {fill_pct}")
    ratio = (Decimal(str(fill_pct)) / 100).normalize()
    run.expected_state = SystemState.ALLOW.value
    faults = {"partial_fill_ratio": str(ratio), "partial_fill_remainder": "cancel"}
    injected = run.inject(f"partial fills at {ratio}", lambda: run.control.set_faults(faults))
    deadline = injected + run.limits.reaction_limit_s
    while run.logged(ErrorCode.PARTIAL_FILL_DISCREPANCY) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    found = run.logged(ErrorCode.PARTIAL_FILL_DISCREPANCY)
    run.reaction_time_ms = (time.monotonic() - injected) * 1000 if found else None
    time.sleep(run.limits.hold_s)
    run.recover("full fills", run.control.clear_faults)
    run.producer.stop()
    execution = run.pipeline.require().execution
    idle = execution.reconciler.wait_idle(run.limits.recovery_limit_s)
    settled = time.monotonic()
    final = run.wait_state(SystemState.ALLOW, run.limits.recovery_limit_s, settled)
    run.recovery_time_ms = None if final is None else (final.monotonic - injected) * 1000
    latest = final or run.observer.latest()
    run.actual_state = "UNOBSERVED" if latest is None else latest.state.value
    book, exchange = run.pipeline.position(), _exchange_position(run)
    reconciled = run.logged(ErrorCode.RECONCILIATION_COMPLETE)
    run.notes.update(
        partial_fill_discrepancies=found,
        reconciliations_complete=reconciled,
        position_book=str(book),
        exchange_position=str(exchange),
    )
    run.add(
        rules.check(
            "partial_fill_discrepancy_logged",
            found > 0,
            "PARTIAL_FILL_DISCREPANCY logged",
            f"{found} lines",
            "a partial fill logs PARTIAL_FILL_DISCREPANCY",
        )
    )
    run.add(
        rules.check(
            "reconciliation_ran",
            reconciled > 0 and idle,
            "reconciliation completed, nothing pending",
            f"{reconciled} completed, pending={not idle}",
            "reconciliation runs after a partial fill and completes",
        )
    )
    run.add(
        rules.check(
            "position_book_equals_exchange",
            book == exchange,
            f"book = exchange ({exchange})",
            f"book {book}",
            "after reconciliation the position book equals the exchange's position",
        )
    )


def _exchange_position(run: ScenarioRun) -> Decimal:
    # Net position = the exchange's base-currency balance minus its starting balance (the
    # simulator charges no fees), read through the exchange's own balances endpoint.
    from ..exchange.simulator.state import DEFAULT_BALANCES

    balances = run.pipeline.require().exchange.balances()
    total = next((b.total for b in balances if b.currency == BASE_CURRENCY), None)
    if total is None:
        raise ScenarioAbortedError(f"the exchange reports no {BASE_CURRENCY} balance")
    return Decimal(total) - DEFAULT_BALANCES[BASE_CURRENCY]


def stale_market_data(run: ScenarioRun, age_hours: float) -> None:
    """Ticker timestamps are frozen ``age_hours`` in the past (and the price stops moving).

    Frozen timestamps never advance, so the data is stale at once when ``age_hours`` exceeds
    ``max_market_data_age_seconds`` and within ``max_age - age`` seconds otherwise (the
    scenario pipeline's 3 s maximum age keeps that inside the 5 s reaction limit): the
    expected state is NEUTRAL for every age.
    """
    if age_hours < 0:
        raise ScenarioAbortedError(f"age_hours must be >= 0, got {age_hours}")
    run.expected_state = SystemState.NEUTRAL.value
    faults = {"ticker_frozen_seconds": age_hours * 3600}
    injected = run.inject(f"tickers {age_hours} h old", lambda: run.control.set_faults(faults))
    if run.detect(SystemState.NEUTRAL, injected):
        first = rules.first_reading(run.readings(), injected, lambda o: o.state.is_unsafe)
        time.sleep(run.limits.hold_s)
        now = time.monotonic()
        start = now if first is None else first.monotonic
        opened = [
            s for s in run.producer.sent() if start <= s.monotonic <= now and s.intent == "OPEN"
        ]
        accepted = [s.signal_id for s in opened if s.accepted or s.decision == "ALLOW"]
        run.add(
            rules.check(
                "new_risk_refused_while_stale",
                bool(opened) and not accepted,
                "every OPEN refused while the data is stale",
                f"{len(opened)} sent, {len(accepted)} accepted {accepted[:3]}",
                "every new-risk signal is refused until fresh data arrives",
            )
        )
        run.add(
            run.check_reported(
                "market_data_stale_reported",
                "market_data_fresh",
                ErrorCode.MARKET_DATA_STALE,
                injected,
                now,
                "the market_data_fresh health check reports MARKET_DATA_STALE",
            )
        )
    run.actual_state = run.worst_between(injected, time.monotonic())
    recovered = run.recover("fresh tickers", run.control.clear_faults)
    run.recover_to_allow(recovered)


def clock_drift(run: ScenarioRun, drift_ms: int) -> None:
    """The exchange's clock is skewed by ``drift_ms``."""
    tolerance = run.pipeline.timings.max_clock_drift_ms
    exceeded = abs(drift_ms) > tolerance
    expected = SystemState.NEUTRAL if exceeded else SystemState.ALLOW
    run.expected_state = expected.value
    faults = {"clock_skew_ms": int(drift_ms)}
    injected = run.inject(
        f"exchange clock {drift_ms:+d} ms", lambda: run.control.set_faults(faults)
    )
    if exceeded:
        run.detect(SystemState.NEUTRAL, injected)
        time.sleep(run.limits.hold_s)
        now = time.monotonic()
        run.add(
            run.check_reported(
                "exchange_time_drift_reported",
                "clock_sync",
                ErrorCode.EXCHANGE_TIME_DRIFT,
                injected,
                now,
                f"a drift of {drift_ms} ms (> {tolerance}) reports EXCHANGE_TIME_DRIFT",
            )
        )
    else:
        run.stays_allow(injected, f"a drift of {drift_ms} ms (<= {tolerance}) stays ALLOW")
    drift = run.pipeline.require().time_sync.last_result
    run.notes["measured_drift_ms"] = None if drift is None else drift.drift_ms
    run.actual_state = run.worst_between(injected, time.monotonic())
    recovered = run.recover("exchange clock in sync", run.control.clear_faults)
    run.recover_to_allow(recovered)


__all__ = [
    "budget_corruption",
    "clock_drift",
    "disconnect_storm",
    "exchange_downtime",
    "partial_fill",
    "stale_market_data",
]
