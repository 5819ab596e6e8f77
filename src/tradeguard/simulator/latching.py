"""The scenarios whose unsafe state latches: budget corruption (HALT) and the feed storm (L6).

After the budget report is repaired the HALT latch must *hold* for the re-validation window
and then clear by itself (no operator reset is used). L6 lockdown never clears by itself, so
the storm scenario asserts it persists after the feed reconnects.
"""

from __future__ import annotations

import time

from ..audit.records import AuditTable
from ..codes import ErrorCode
from ..feeds.lockdown import LOCKDOWN_ACTOR
from . import assertions as rules
from .pipeline import corrupt_budget_report
from .results import AssertionResult, ScenarioAbortedError, SystemState
from .run import ScenarioRun

LOCKDOWN_FAILURES = 5


def budget_corruption(run: ScenarioRun, mode: str) -> None:
    """The budget report is corrupted; HALT latches until the re-validation window passes."""
    try:
        data = corrupt_budget_report(mode, run.pipeline.clock.now())
    except ValueError as exc:
        raise ScenarioAbortedError(str(exc)) from exc
    run.expected_state = SystemState.HALT.value
    injected = run.inject(
        f"budget report {mode}", lambda: run.pipeline.write_budget(data, atomic=mode != "truncated")
    )
    run.detect(SystemState.HALT, injected)
    deadline = injected + run.limits.reaction_limit_s
    tables = run.audit_contains(ErrorCode.BUDGET_DATA_CORRUPT)
    while not tables and time.monotonic() < deadline:
        time.sleep(0.05)
        tables = run.audit_contains(ErrorCode.BUDGET_DATA_CORRUPT)
    run.add(
        rules.check(
            "budget_data_corrupt_in_audit_trail",
            bool(tables),
            "a BUDGET_DATA_CORRUPT row in the audit trail",
            f"found in {tables}" if tables else "no row mentions BUDGET_DATA_CORRUPT",
            "a corrupt budget report is recorded as BUDGET_DATA_CORRUPT in the audit trail",
        )
    )
    time.sleep(run.limits.hold_s)
    run.actual_state = run.worst_between(injected, time.monotonic())
    window = run.pipeline.timings.latch_reset_window_seconds
    recovered = run.recover("valid budget report", run.pipeline.restore_budget)
    reading = run.wait_state(SystemState.ALLOW, window + run.limits.recovery_limit_s, recovered)
    early = rules.first_reading(
        run.readings(),
        recovered,
        lambda o: o.state is SystemState.ALLOW and o.monotonic < recovered + window,
    )
    run.add(
        rules.check(
            "latch_holds_after_repair",
            early is None,
            f"HALT for at least the {window:g} s re-validation window after the repair",
            "held"
            if early is None
            else f"ALLOW after {(early.monotonic - recovered) * 1000:.0f} ms",
            "the HALT latch holds after the budget report is repaired (monotonic severity)",
        )
    )
    if reading is not None:
        run.recover_to_allow(recovered)
        return
    run.add(
        rules.check(
            "allow_after_recovery",
            False,
            f"ALLOW within {window + run.limits.recovery_limit_s:.0f} s of the repair",
            "never",
            "the latch clears through the re-validation window once the budget is valid",
        )
    )


def disconnect_storm(run: ScenarioRun, count: int) -> None:
    """The SSE server refuses the next ``count`` connections after dropping the stream."""
    if count < 0:
        raise ScenarioAbortedError(f"count must be >= 0, got {count}")
    locks = count >= LOCKDOWN_FAILURES
    run.expected_state = (SystemState.L6_LOCKDOWN if locks else SystemState.ALLOW).value
    before = len(run.capture.lines())

    def storm() -> None:
        if count:
            run.control.refuse_feed(count)
            run.control.drop_feed()

    injected = run.inject(f"{count} refused connections", storm)
    if locks:
        run.detect(SystemState.L6_LOCKDOWN, injected)
    _wait_refusals_consumed(run, run.limits.reaction_limit_s)
    storm_over = time.monotonic()
    # Once the feed is connected again every failed attempt has been handled (and logged).
    reconnected = _wait_streams(run, run.limits.recovery_limit_s)
    _check_lockdown_attempt(run, run.capture.lines()[before:], locks)
    if locks:
        run.add(_lockdown_recorded(run))
        time.sleep(run.limits.hold_s)
        latest = run.observer.latest()
        still = latest is not None and latest.state is SystemState.L6_LOCKDOWN
        run.add(
            rules.check(
                "lockdown_persists_after_feed_recovers",
                still and reconnected,
                "L6_LOCKDOWN after the feed reconnects",
                f"{None if latest is None else latest.state} (reconnected={reconnected})",
                "L6 lockdown never clears by itself",
            )
        )
        run.actual_state = run.worst_between(injected, time.monotonic())
        return
    run.add(
        rules.never_reached(
            "no_lockdown",
            SystemState.L6_LOCKDOWN,
            run.readings(),
            injected,
            f"{count} failed reconnects (< 5) never lock the system down",
        )
    )
    run.recovered_at = storm_over
    run.recover_to_allow(storm_over)
    latest = run.observer.latest()
    run.actual_state = "UNOBSERVED" if latest is None else latest.state.value


def _wait_refusals_consumed(run: ScenarioRun, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and run.control.feed_stats()["pending_refusals"]:
        time.sleep(0.02)


def _wait_streams(run: ScenarioRun, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    start = run.control.feed_stats()["streams_opened"]
    while time.monotonic() < deadline:
        if run.control.feed_stats()["pending_refusals"] == 0:
            feed = run.pipeline.require().feed
            if feed is not None and feed.connected:
                return True
        time.sleep(0.02)
    return bool(run.control.feed_stats()["streams_opened"] > start)


def _check_lockdown_attempt(run: ScenarioRun, lines: list[dict[str, object]], locks: bool) -> None:
    failures_before = 0
    lockdown_failures: object = None
    for line in lines:
        if line.get("event") == "event_feed_attempt_failed":
            failures_before += 1
        elif line.get("event") == "l6_lockdown":
            lockdown_failures = line.get("failures")
            break
    if not locks:
        run.add(
            rules.check(
                "no_lockdown_logged",
                lockdown_failures is None,
                "no l6_lockdown",
                "none" if lockdown_failures is None else "l6_lockdown logged",
                "fewer than 5 failed reconnects never engage the lockdown",
            )
        )
        return
    at_fifth = lockdown_failures == LOCKDOWN_FAILURES and failures_before == LOCKDOWN_FAILURES
    run.notes["failed_attempts_before_lockdown"] = failures_before
    run.add(
        rules.check(
            "lockdown_at_fifth_failed_attempt",
            at_fifth,
            "l6_lockdown right after the 5th consecutive failed attempt",
            f"after {failures_before} failed attempts (failures={lockdown_failures})",
            "L6_LOCKDOWN is entered at exactly the 5th failed reconnection attempt",
        )
    )


def _lockdown_recorded(run: ScenarioRun) -> AssertionResult:
    store = run.pipeline.require().audit_store
    rows = [
        row
        for row in store.rows(AuditTable.OPERATOR)
        if LOCKDOWN_ACTOR in str(row) and ErrorCode.SSE_RECONNECT_EXHAUSTED in str(row)
    ]
    return rules.check(
        "lockdown_recorded",
        len(rows) == 1,
        "one operator_audit row by system:event-feed with SSE_RECONNECT_EXHAUSTED",
        f"{len(rows)} rows",
        "the lockdown engages the kill switch once, recorded in operator_audit",
    )


__all__ = ["LOCKDOWN_FAILURES", "budget_corruption", "disconnect_storm"]
