"""Signals decided and refused per minute (the dashboard's chart), read from signal_audit."""

from __future__ import annotations

import dataclasses
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.audit_factories import signal
from tradeguard.activity import DecisionActivity, minute_of
from tradeguard.audit.memory import MemoryAuditStore
from tradeguard.audit.records import SignalRecord
from tradeguard.clock import FakeClock
from tradeguard.policy import format_utc

NOW = datetime(2026, 3, 1, 12, 30, 20, tzinfo=UTC)


def at(moment: datetime, *, decision: str = "ALLOW", outcome: str = "ACCEPTED") -> SignalRecord:
    record = signal(f"sig-{uuid.uuid4()}", decision=decision, outcome=outcome)
    return dataclasses.replace(record, timestamp_utc=moment)


def by_minute(answer: dict[str, object]) -> dict[str, dict[str, object]]:
    return {row["minute"]: row for row in answer["minutes"]}  # type: ignore[attr-defined]


def test_counts_decisions_and_refusals_per_minute_and_skips_duplicates() -> None:
    store = MemoryAuditStore()
    clock = FakeClock(NOW)
    store.record_many(
        [
            at(NOW - timedelta(minutes=2)),
            at(NOW - timedelta(minutes=2), decision="HALT", outcome="REFUSED"),
            at(NOW - timedelta(seconds=5), decision="NEUTRAL", outcome="REFUSED"),
            at(NOW - timedelta(seconds=4), decision="NOT_EVALUATED", outcome="DUPLICATE"),
            at(NOW - timedelta(minutes=90)),  # outside the hour
        ]
    )
    answer = DecisionActivity(store, clock).per_minute(60)
    rows = by_minute(answer)
    assert len(answer["minutes"]) == 60
    assert answer["minutes"][-1]["minute"] == "2026-03-01T12:30:00.000000Z"
    two_ago = rows["2026-03-01T12:28:00.000000Z"]
    assert (two_ago["decisions"], two_ago["accepted"], two_ago["refused"]) == (2, 1, 1)
    assert two_ago["by_decision"] == {"ALLOW": 1, "HALT": 1}
    current = rows["2026-03-01T12:30:00.000000Z"]
    assert (current["decisions"], current["refused"]) == (1, 1)
    assert answer["totals"] == {"decisions": 3, "accepted": 1, "refused": 2}
    assert answer["truncated"] is False


def test_a_row_of_the_current_minute_shows_on_the_next_poll() -> None:
    store = MemoryAuditStore()
    clock = FakeClock(NOW)
    activity = DecisionActivity(store, clock)
    assert activity.per_minute(5)["totals"]["decisions"] == 0
    store.record_signal(at(NOW))
    clock.advance(1)
    assert activity.per_minute(5)["totals"]["decisions"] == 1


def test_settled_minutes_are_kept_and_not_read_again() -> None:
    store = MemoryAuditStore()
    clock = FakeClock(NOW)
    store.record_many([at(NOW - timedelta(minutes=m)) for m in range(2, 30)])
    reads: list[datetime | None] = []
    original = store.rows

    def counting_rows(table, **kwargs):  # type: ignore[no-untyped-def]
        reads.append(kwargs.get("since"))
        return original(table, **kwargs)

    store.rows = counting_rows  # type: ignore[method-assign]
    activity = DecisionActivity(store, clock)
    first = activity.per_minute(60)
    clock.advance(30)
    second = activity.per_minute(60)
    assert first["totals"]["decisions"] == second["totals"]["decisions"] == 28
    # the second poll read only from the minute that had not settled yet
    assert reads[0] == minute_of(NOW) - timedelta(minutes=59)
    assert reads[1] is not None and reads[1] >= minute_of(NOW) - timedelta(minutes=1)


def test_a_capped_scan_reports_unreached_minutes_as_unknown_then_fills_them_in() -> None:
    store = MemoryAuditStore()
    clock = FakeClock(NOW)
    store.record_many([at(NOW - timedelta(minutes=m, seconds=1)) for m in reversed(range(10))])
    activity = DecisionActivity(store, clock, max_rows=4)
    answer = activity.per_minute(60)
    assert answer["truncated"] is True
    rows = answer["minutes"]
    known = [row for row in rows if row["decisions"] is not None]
    unknown = [row for row in rows if row["decisions"] is None]
    assert unknown and unknown[-1]["minute"] < known[0]["minute"]  # the newest are known
    assert answer["totals"]["decisions"] == sum(row["decisions"] for row in known) <= 4
    polls = 1
    while answer["truncated"]:
        clock.advance(1)
        answer = activity.per_minute(60)
        polls += 1
        assert polls < 10, "the unreached minutes are never filled in"
    assert answer["totals"]["decisions"] == 10


LABELS = ("ALLOW", "NEUTRAL", "HALT")
outcomes = st.sampled_from(["ACCEPTED", "REFUSED", "DUPLICATE"])
decisions = st.sampled_from(LABELS)
# seconds after NOW - 75 min: some rows fall before the hour, some between the polls
offsets = st.one_of(
    st.integers(min_value=0, max_value=75 * 60 + 200),
    st.integers(min_value=75 * 60 - 60, max_value=75 * 60 + 200),  # near and between polls
)


@settings(max_examples=100, deadline=None)
@given(
    rows=st.lists(st.tuples(offsets, decisions, outcomes), max_size=40),
    polls=st.lists(st.integers(min_value=0, max_value=200), min_size=2, max_size=5),
    max_rows=st.one_of(st.just(1000), st.integers(min_value=1, max_value=12)),
)
def test_for_any_signals_poll_times_and_row_cap_the_counts_equal_a_plain_recount(
    rows: list[tuple[int, str, str]], polls: list[int], max_rows: int
) -> None:
    # Rows arrive in time order, each before the poll that follows its time. A minute the row
    # cap kept from being counted is null; every minute with a number has the true number.
    store = MemoryAuditStore()
    clock = FakeClock(NOW - timedelta(seconds=75 * 60))
    activity = DecisionActivity(store, clock, max_rows=max_rows)
    start = clock.now()
    events = sorted((start + timedelta(seconds=off), d, o) for off, d, o in rows)
    poll_times = sorted(NOW + timedelta(seconds=p) for p in polls)
    pending = list(events)
    for moment in poll_times:
        while pending and pending[0][0] <= moment:
            stamp, decision, outcome = pending.pop(0)
            store.record_signal(at(stamp, decision=decision, outcome=outcome))
        clock.set(moment)
        answer = activity.per_minute(60)
        first = minute_of(moment) - timedelta(minutes=59)
        expected: dict[str, Counter[str]] = {}
        for stamp, decision, outcome in events:
            if first <= stamp <= moment and outcome != "DUPLICATE":
                minute = expected.setdefault(format_utc(minute_of(stamp)), Counter())
                minute["decisions"] += 1
                minute["refused"] += outcome == "REFUSED"
                minute[decision] += 1
        assert len(answer["minutes"]) == 60
        for row in answer["minutes"]:
            if row["decisions"] is None:
                assert answer["truncated"] is True and max_rows < 1000
                continue
            want = expected.get(row["minute"], Counter())
            assert (row["decisions"], row["refused"]) == (want["decisions"], want["refused"])
            assert row["by_decision"] == {k: v for k, v in want.items() if k in LABELS}
        if max_rows == 1000:
            assert answer["truncated"] is False
