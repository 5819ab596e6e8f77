"""Signals decided and refused per minute, read from the audit trail (the dashboard's chart).

Counts come from ``signal_audit``: one row per received signal, written with the decision
before any order leaves. Per minute (UTC) they give

- ``decisions``: signals the gate answered (a repeated ``signal_id`` answered with its first
  result, outcome ``DUPLICATE``, is not a new decision and is not counted);
- ``refused``: signals refused (outcome ``REFUSED``: the policy said no, an order control
  refused it, or a replayed ``signal_id`` carried different content);
- ``accepted``: ``decisions - refused``;
- ``by_decision``: the decisions by label (ALLOW, NEUTRAL, HALT, ...).

Reading an hour of rows on every poll would cost as much as the hour's traffic, so minutes that
ended more than ``SETTLE_SECONDS`` ago are kept once counted; a poll reads only the rows of the
minutes not yet kept (usually the current one and the one before). A scan reads at most
``max_rows`` rows, newest first; minutes it could not reach are reported as ``null`` with
``truncated: true`` rather than as a count that would be too low.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .audit.records import AuditTable
from .policy import Clock, format_utc
from .ports import AuditStore

MINUTE = timedelta(minutes=1)
SETTLE_SECONDS = 10.0
MAX_MINUTES = 24 * 60
DEFAULT_MAX_ROWS = 50_000
_DUPLICATE = "DUPLICATE"
_REFUSED = "REFUSED"
_FIELDS = ("decisions", "accepted", "refused", "by_decision")


@dataclass(slots=True)
class MinuteCounts:
    """What happened to the signals of one minute."""

    decisions: int = 0
    refused: int = 0
    by_decision: Counter[str] = field(default_factory=Counter)

    def add(self, decision: str, outcome: str) -> None:
        """Count one ``signal_audit`` row."""
        if outcome == _DUPLICATE:
            return
        self.decisions += 1
        if outcome == _REFUSED:
            self.refused += 1
        self.by_decision[decision] += 1

    def to_dict(self, minute: datetime) -> dict[str, Any]:
        """Return the minute as JSON-ready values."""
        return {
            "minute": format_utc(minute),
            "decisions": self.decisions,
            "accepted": self.decisions - self.refused,
            "refused": self.refused,
            "by_decision": dict(sorted(self.by_decision.items())),
        }


def minute_of(moment: datetime) -> datetime:
    """Return the start of the UTC minute holding ``moment``."""
    return moment.replace(second=0, microsecond=0)


def _parse_stamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


class DecisionActivity:
    """Counts signals decided and refused per minute; safe to call from several threads."""

    def __init__(self, store: AuditStore, clock: Clock, *, max_rows: int = DEFAULT_MAX_ROWS):
        """Read ``store``'s signal rows; ``clock`` says what "now" is."""
        self._store = store
        self._clock = clock
        self._max_rows = max(1, int(max_rows))
        self._settled: dict[datetime, MinuteCounts] = {}
        self._lock = threading.Lock()

    def per_minute(self, minutes: int = 60) -> dict[str, Any]:
        """Return the last ``minutes`` minutes (the current one last) with their counts."""
        span = max(1, min(int(minutes), MAX_MINUTES))
        now = self._clock.now()
        current = minute_of(now)
        window = [current - MINUTE * back for back in range(span - 1, -1, -1)]
        with self._lock:
            settled_before = now - timedelta(seconds=SETTLE_SECONDS)
            missing = [m for m in window if m not in self._settled]
            fresh, reached = self._scan(missing[0]) if missing else ({}, None)
            truncated = reached is not None
            for minute in missing:
                complete = reached is None or minute > reached
                if complete and minute + MINUTE <= settled_before:
                    self._settled[minute] = fresh.get(minute, MinuteCounts())
            self._forget_before(current - MINUTE * MAX_MINUTES)
            rows = [self._entry(m, fresh, reached) for m in window]
        return {
            "since": format_utc(window[0]),
            "until": format_utc(now),
            "minutes": rows,
            "truncated": truncated,
            "totals": _totals(rows),
        }

    def _entry(
        self, minute: datetime, fresh: dict[datetime, MinuteCounts], reached: datetime | None
    ) -> dict[str, Any]:
        counts = self._settled.get(minute) or fresh.get(minute)
        if reached is not None and minute <= reached and minute not in self._settled:
            unknown: dict[str, Any] = dict.fromkeys(_FIELDS)
            return {"minute": format_utc(minute), **unknown}
        return (counts or MinuteCounts()).to_dict(minute)

    def _scan(self, since: datetime) -> tuple[dict[datetime, MinuteCounts], datetime | None]:
        """Count rows since ``since``, newest first; return the counts and, when the row cap
        stopped the scan, the (incomplete) minute where it stopped."""
        counts: dict[datetime, MinuteCounts] = {}
        seen = 0
        oldest: datetime | None = None
        rows = self._store.rows(
            AuditTable.SIGNAL, since=since, limit=self._max_rows + 1, newest_first=True
        )
        for row in rows:
            seen += 1
            if seen > self._max_rows:
                return counts, None if oldest is None else minute_of(oldest)
            stamp = _parse_stamp(row.get("timestamp_utc"))
            if stamp is None:
                continue
            oldest = stamp if oldest is None else min(oldest, stamp)
            bucket = counts.setdefault(minute_of(stamp), MinuteCounts())
            bucket.add(str(row.get("decision")), str(row.get("outcome")))
        return counts, None

    def _forget_before(self, first: datetime) -> None:
        for minute in [m for m in self._settled if m < first]:
            del self._settled[minute]


def _totals(rows: list[dict[str, Any]]) -> dict[str, int]:
    totals = {"decisions": 0, "accepted": 0, "refused": 0}
    for row in rows:
        for key in totals:
            totals[key] += int(row[key] or 0)
    return totals


__all__ = ["DecisionActivity", "MinuteCounts", "minute_of"]
