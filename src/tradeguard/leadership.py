"""Background work once per account when several processes share one PostgreSQL database.

Every process (an instance, or a worker of ``tradeguard run --workers N``) runs a
:class:`LeaderElection`: a thread that tries to take a PostgreSQL session advisory lock keyed
by the schema and the account. The one that holds it is the leader and runs the account's
background work (:func:`tradeguard.background.start_background`: ticker polling, time sync,
the heartbeat that records decision changes, the budget refresh, the event feed) and publishes
what the gate of every process needs from it into ``shared_status`` (:func:`publish_status`):
the newest tick stamp of each symbol, the last exchange time check, how long ago the exchange
last answered, whether the event feed is connected.

The others follow (:func:`follow_status`): they copy a fresh publication into their own
trackers, so their health checks read the leader's observations, and they watch the kill
switch to cancel their own resting orders. A publication older than ``stale_after`` is not
copied: the trackers then age as they would without data and the health gate turns NEUTRAL
(fail closed), and the feed counts as disconnected. When the leader dies its session ends, the
lock is free, and the next follower to try takes it within one election interval.

Each process keeps its own reconciliation (of its own orders) and its own budget refresh (a
local file read); the position book and the kill switch are shared through the database.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg

from .background import Background, Container, start_background
from .codes import ErrorCode
from .ids import new_correlation_id
from .logging import get_logger
from .sources.clock_sync import TimeSyncResult
from .sources.periodic import PeriodicTask

_log = get_logger("tradeguard.leadership")

ELECTION_INTERVAL_SECONDS = 0.5
PUBLISH_INTERVAL_SECONDS = 0.5
FOLLOW_INTERVAL_SECONDS = 0.2
"""Followers read often enough that the leader's detection reaches them well within 1 s."""
STALE_AFTER_SECONDS = 3.0

_PUBLISH = (
    "INSERT INTO shared_status (account, holder, payload, published_at) VALUES (%s, %s, %s, %s) "
    "ON CONFLICT (account) DO UPDATE SET holder = excluded.holder, payload = excluded.payload, "
    "published_at = excluded.published_at"
)
_READ = "SELECT payload, published_at FROM shared_status WHERE account = %s"


def shares_account_state(database_url: str) -> bool:
    """Return True when processes on ``database_url`` share the account state (PostgreSQL)."""
    return database_url.startswith(("postgresql://", "postgres://"))


def account_key(exchange: str, execution_mode: str) -> str:
    """Return the key of the account that processes trading ``exchange`` in a mode share."""
    return f"{exchange}:{execution_mode}"


def _connect(url: str) -> psycopg.Connection[Any]:
    return psycopg.connect(url, autocommit=True, connect_timeout=5)


def leader_key(schema: str, account: str) -> int:
    """Return the advisory lock key of the leader of ``account`` in ``schema``."""
    digest = hashlib.sha256(f"tradeguard:leader:{schema}:{account}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class LeaderElection:
    """Hold the account's leader lock when free; tell when it is won or lost.

    Args:
        url: The PostgreSQL URL.
        account: Whose leader this elects.
        on_elected: Called (on the election thread) when this process becomes the leader.
        on_lost: Called when it stops being the leader (its session failed).
        interval_s: How often a follower tries to take the lock and a leader checks it.
    """

    def __init__(
        self,
        url: str,
        account: str,
        *,
        on_elected: Callable[[], None],
        on_lost: Callable[[], None],
        interval_s: float = ELECTION_INTERVAL_SECONDS,
    ) -> None:
        self.url = url
        self.account = account
        self.is_leader = False
        self._on_elected = on_elected
        self._on_lost = on_lost
        self._interval_s = interval_s
        self._conn: psycopg.Connection[Any] | None = None
        self._key: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def try_once(self) -> bool:
        """Take the lock if free (or check that it is still held); return is_leader."""
        try:
            if self._conn is None or self._conn.closed:
                self._conn = _connect(self.url)
                schema = self._conn.execute("SELECT current_schema()").fetchone()
                self._key = leader_key(str(schema[0]) if schema else "public", self.account)
            if self.is_leader:
                self._conn.execute("SELECT 1")
                return True
            row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", (self._key,)).fetchone()
        except psycopg.Error as exc:
            self._lost(str(exc))
            return False
        if row is not None and row[0]:
            self.is_leader = True
            _log.info("leader_elected", account=self.account)
            self._on_elected()
        return self.is_leader

    def _lost(self, error: str) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            conn.close()
        if self.is_leader:
            self.is_leader = False
            _log.error(
                "leader_lost",
                code=ErrorCode.SHARED_STATE_UNAVAILABLE,
                account=self.account,
                error=error,
            )
            self._on_lost()

    def start(self) -> None:
        """Try once now, then keep trying (or checking) on a thread."""
        self.try_once()
        self._thread = threading.Thread(target=self._loop, name="tradeguard-election", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval_s):
            self.try_once()

    def stop(self) -> None:
        """Stop trying and give the lock up (closing the session frees it)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            conn.close()
        self.is_leader = False


def status_payload(container: Container) -> dict[str, Any]:
    """Return what the leader observed, for the followers' health checks."""
    now_monotonic = container.clock.monotonic()
    last = container.time_sync.last_result
    age = container.time_sync.result_age_seconds()
    success = getattr(container.exchange, "last_success_monotonic", None)
    return {
        "ticks": {
            symbol: tick.timestamp_utc.isoformat()
            for symbol, tick in container.market_data.snapshot().items()
        },
        "time_sync": None if last is None or age is None else {**last.to_dict(), "age": age},
        "exchange_success_age": None if success is None else now_monotonic - success,
        "exchange_reachability": _reachability(container),
        "feed_connected": None if container.feed is None else container.feed.connected,
    }


def _reachability(container: Container) -> dict[str, Any] | None:
    reachability = getattr(container.exchange, "reachability", None)
    return None if reachability is None else reachability.snapshot().to_dict()


def _adopt_reachability(container: Container, payload: dict[str, Any], delay: float) -> None:
    # The leader's probe is the followers' probe: its state (and recovery) is copied, unless
    # this follower saw a failure of its own after the publication.
    seen = payload.get("exchange_reachability")
    reachability = getattr(container.exchange, "reachability", None)
    if isinstance(seen, dict) and reachability is not None:
        reachability.adopt(seen.get("reachable") is True, delay, str(seen.get("detail", "")))


def publish_status(container: Container, conn: psycopg.Connection[Any], account: str) -> None:
    """Write the leader's observations now (one upsert)."""
    payload = json.dumps(status_payload(container))
    conn.execute(_PUBLISH, (account, new_correlation_id(), payload, container.clock.now()))


def _time_result(data: dict[str, Any]) -> TimeSyncResult:
    def moment(name: str) -> datetime | None:
        value = data.get(name)
        return None if value is None else datetime.fromisoformat(str(value).replace("Z", "+00:00"))

    local, stamp = moment("local_time_utc"), moment("timestamp_utc")
    if local is None or stamp is None:
        raise ValueError("time sync result without its times")
    return TimeSyncResult(
        local_time_utc=local,
        exchange_time_utc=moment("exchange_time_utc"),
        drift_ms=data.get("drift_ms"),
        rtt_ms=data.get("rtt_ms"),
        uncertainty_ms=data.get("uncertainty_ms"),
        is_within_tolerance=bool(data.get("is_within_tolerance")),
        error_code=data.get("error_code"),
        correlation_id=str(data.get("correlation_id", "")),
        timestamp_utc=stamp,
        detail=str(data.get("detail", "")),
    )


def apply_status(container: Container, payload: dict[str, Any], delay: float) -> None:
    """Copy a publication made ``delay`` seconds ago into this process's trackers."""
    for symbol, stamp in dict(payload.get("ticks") or {}).items():
        container.market_data.record(str(symbol), datetime.fromisoformat(str(stamp)))
    sync = payload.get("time_sync")
    if isinstance(sync, dict):
        container.time_sync.adopt(_time_result(sync), float(sync["age"]) + delay)
    success_age = payload.get("exchange_success_age")
    note = getattr(container.exchange, "note_success", None)
    if success_age is not None and note is not None:
        note(float(success_age) + delay)
    _adopt_reachability(container, payload, delay)
    if container.feed is not None:
        container.feed.connected = bool(payload.get("feed_connected"))


def follow_status(
    container: Container,
    conn: psycopg.Connection[Any],
    account: str,
    stale_after: float = STALE_AFTER_SECONDS,
) -> bool:
    """Copy the leader's publication when it is fresh; return whether it was."""
    row = conn.execute(_READ, (account,)).fetchone()
    delay = None if row is None else (container.clock.now() - row[1]).total_seconds()
    if row is None or delay is None or not -stale_after <= delay <= stale_after:
        if container.feed is not None:
            container.feed.connected = False  # no fresh word from the leader: fail closed
        return False
    apply_status(container, json.loads(row[0]), max(0.0, delay))
    return True


@dataclass
class SharedBackground:
    """The background of one process among several on one database (see the module)."""

    container: Container
    url: str
    account: str
    election: LeaderElection | None = None
    leading: Background | None = None
    tasks: list[PeriodicTask] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _conn: psycopg.Connection[Any] | None = None
    _kill_seen: bool = False

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = _connect(self.url)
        return self._conn

    def _shared(self, action: Callable[[psycopg.Connection[Any]], object]) -> None:
        try:
            action(self._connection())
        except psycopg.Error as exc:
            if self._conn is not None:
                self._conn.close()
            self._conn = None
            _log.error(
                "shared_status_failed", code=ErrorCode.SHARED_STATE_UNAVAILABLE, error=str(exc)
            )

    def publish(self) -> None:
        """Publish the leader's observations (leader only)."""
        if self.election is not None and self.election.is_leader:
            self._shared(lambda conn: publish_status(self.container, conn, self.account))

    def follow(self) -> None:
        """Copy the leader's observations and watch the kill switch (followers only)."""
        if self.election is not None and self.election.is_leader:
            return
        self._shared(lambda conn: follow_status(self.container, conn, self.account))
        self._watch_kill_switch()

    def refresh_budget(self) -> None:
        """Read the budget report (followers; the leader's background refreshes its own)."""
        if self.election is not None and self.election.is_leader:
            return
        self.container.budget.refresh()

    def _watch_kill_switch(self) -> None:
        # The leader's heartbeat cancels the leader's resting orders; each follower its own.
        try:
            engaged = self.container.circuit_breaker.is_active()
        except Exception:  # unreadable counts as engaged (the gate refuses meanwhile)
            engaged = True
        if engaged and not self._kill_seen:
            try:
                self.container.executor.cancel_all_resting(new_correlation_id())
            except Exception as exc:  # logged; the kill switch blocks new orders regardless
                _log.error("cancel_resting_failed", code=ErrorCode.EXCHANGE_ERROR, error=repr(exc))
        self._kill_seen = engaged

    def _elected(self) -> None:
        with self._lock:
            if self.leading is None:
                self.leading = start_background(self.container)

    def _lost(self) -> None:
        with self._lock:
            leading, self.leading = self.leading, None
        if leading is not None:
            leading.stop()

    def start(self) -> None:
        """Elect (once now, then on a thread), publish or follow every half second."""
        self.election = LeaderElection(
            self.url, self.account, on_elected=self._elected, on_lost=self._lost
        )
        publish = PeriodicTask("publish_status", PUBLISH_INTERVAL_SECONDS, self.publish)
        # The leader publishes a health change (exchange down, data stale) the moment it sees it.
        self.container.health_changes.subscribe(publish.wake)
        self.tasks = [
            publish,
            PeriodicTask("follow_status", FOLLOW_INTERVAL_SECONDS, self.follow),
        ]
        settings = self.container.settings
        if settings.budget_report:
            self.tasks.append(
                PeriodicTask(
                    "follow_budget",
                    settings.budget_refresh_seconds,
                    self.refresh_budget,
                    code=ErrorCode.BUDGET_REPORT_UNAVAILABLE,
                )
            )
        self.election.start()
        self.follow()
        for task in self.tasks:
            task.start()

    def stop(self) -> None:
        """Stop everything this process runs and give the leadership up."""
        for task in self.tasks:
            task.stop()
        if self.election is not None:
            self.election.stop()
        self._lost()
        if self._conn is not None:
            self._conn.close()


def start_shared_background(container: Container, url: str, account: str) -> SharedBackground:
    """Start the background of one of several processes sharing ``url`` (see the module)."""
    background = SharedBackground(container, url, account)
    background.start()
    return background


__all__ = [
    "LeaderElection",
    "SharedBackground",
    "account_key",
    "apply_status",
    "follow_status",
    "leader_key",
    "publish_status",
    "shares_account_state",
    "start_shared_background",
    "status_payload",
]
