"""Mutable control state beside the chains: the durable latch and the shared kill switch.

The ``control_state`` table is not hash-chained; every kill switch change is recorded in
``operator_audit`` in the same transaction. Reads come from a cache that a watcher thread
refreshes (on a change notification or every ``interval`` seconds), so ``load()`` costs
microseconds yet sees another process's change within ~100 ms. A cache that could not be
refreshed for ``stale_after`` seconds makes ``load()`` raise: callers treat that as held.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from ..codes import ErrorCode
from ..errors import AuditUnavailableError, InvalidInputError, TradeGuardError
from ..logging import get_logger
from ..policy import LatchState, OperatorActionRecord, format_utc, parse_utc
from ..ports import KillSwitchState
from .chain import PreparedRow, prepare
from .writer import ControlWrite, Pending

LATCH_KEY = "latch"
KILL_SWITCH_KEY = "kill_switch"

_log = get_logger(__name__)
T = TypeVar("T")
Submit = Callable[[list[PreparedRow], ControlWrite | None], Pending]


def kill_switch_to_json(state: KillSwitchState) -> str:
    """Serialise a kill switch state."""
    return json.dumps(
        {
            "active": state.active,
            "actor": state.actor,
            "reason": state.reason,
            "since": None if state.since is None else format_utc(state.since),
            "code": state.code,
            "details": dict(state.details),
        },
        sort_keys=True,
        default=str,
    )


def kill_switch_from_json(text: str) -> KillSwitchState:
    """Rebuild a kill switch state; a malformed value raises ``AuditUnavailableError``."""
    try:
        data = json.loads(text)
        active = data["active"]
        if not isinstance(active, bool):
            raise ValueError("active must be a boolean")
        since = data.get("since")
        return KillSwitchState(
            active=active,
            actor=data.get("actor"),
            reason=data.get("reason"),
            since=None if since is None else parse_utc(since),
            code=data.get("code"),
            details=dict(data.get("details") or {}),
        )
    except (ValueError, KeyError, TypeError, InvalidInputError) as exc:
        raise AuditUnavailableError(
            ErrorCode.AUD_006, f"stored kill switch state is unreadable: {exc}"
        ) from exc


def latch_from_json(text: str) -> LatchState:
    """Rebuild a latch state; a malformed value raises ``AuditUnavailableError``."""
    try:
        return LatchState.from_dict(json.loads(text))
    except (ValueError, KeyError, TypeError) as exc:
        raise AuditUnavailableError(
            ErrorCode.AUD_006, f"stored latch state is unreadable: {exc}"
        ) from exc


class ControlCache:
    """Versioned cache of ``control_state`` kept fresh by an optional watcher thread.

    Args:
        read_all: Returns ``{key: (version, value)}`` from the database.
        wait: Blocks until a change is announced or ``timeout`` seconds pass.
        interval: Polling fallback between refreshes, in seconds.
        stale_after: Age in seconds after which reads fail closed; None never goes stale.
        watch: Start the watcher thread.
    """

    def __init__(
        self,
        read_all: Callable[[], dict[str, tuple[int, str]]],
        wait: Callable[[float], None] | None = None,
        *,
        interval: float = 0.05,
        stale_after: float | None = 1.0,
        watch: bool = True,
        name: str = "tradeguard-control-watch",
    ) -> None:
        self._read_all = read_all
        self._wait = wait
        self._interval = interval
        self._stale_after = stale_after
        self._lock = threading.Lock()
        self._values: dict[str, tuple[int, str]] = {}
        self._parsed: dict[str, tuple[int, Any]] = {}
        self._refreshed_at = 0.0
        self._stop = threading.Event()
        self.refresh(raise_errors=True)
        self._thread: threading.Thread | None = None
        if watch:
            self._thread = threading.Thread(target=self._run, name=name, daemon=True)
            self._thread.start()

    def refresh(self, *, raise_errors: bool = False) -> None:
        """Re-read every key from the database."""
        try:
            values = self._read_all()
        except TradeGuardError as exc:
            _log.warning("control_state_refresh_failed", code=exc.code, error=exc.message)
            if raise_errors:
                raise
            return
        with self._lock:
            for key, (version, value) in values.items():
                self.put_locked(key, version, value)
            self._refreshed_at = time.monotonic()

    def put_locked(self, key: str, version: int, value: str) -> None:
        """Keep ``value`` unless a newer version is already cached (lock held)."""
        current = self._values.get(key)
        if current is None or version >= current[0]:
            self._values[key] = (version, value)

    def put(self, key: str, version: int, value: str) -> None:
        """Keep a value this process has just committed."""
        with self._lock:
            self.put_locked(key, version, value)

    def get(self, key: str, parse: Callable[[str], T], default: T) -> T:
        """Return the parsed value of ``key`` (``default`` when never written)."""
        if (
            self._stale_after is not None
            and time.monotonic() - self._refreshed_at > self._stale_after
        ):
            raise AuditUnavailableError(
                ErrorCode.AUD_006, "control state could not be refreshed; treating as held"
            )
        entry = self._values.get(key)
        if entry is None:
            return default
        parsed = self._parsed.get(key)
        if parsed is not None and parsed[0] == entry[0]:
            return parsed[1]  # type: ignore[no-any-return]
        value = parse(entry[1])
        self._parsed[key] = (entry[0], value)
        return value

    def close(self) -> None:
        """Stop the watcher thread."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(2.0)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self._wait is not None:
                    self._wait(self._interval)
                else:
                    self._stop.wait(self._interval)
            except TradeGuardError as exc:
                _log.warning("control_state_watch_failed", code=exc.code, error=exc.message)
                self._stop.wait(self._interval)
            if not self._stop.is_set():
                self.refresh()


class DurableLatchStore:
    """``tradeguard.policy.LatchStore`` kept in the audit database; a restart keeps a HALT."""

    def __init__(self, submit: Submit, cache: ControlCache) -> None:
        self._submit = submit
        self._cache = cache

    def load(self) -> LatchState:
        """Return the current latch state (raises when it cannot be read)."""
        return self._cache.get(LATCH_KEY, latch_from_json, LatchState())

    def save(self, state: LatchState) -> None:
        """Persist ``state`` durably before returning."""
        value = json.dumps(state.to_dict(), sort_keys=True)
        pending = self._submit([], ControlWrite(LATCH_KEY, value))
        if pending.version is not None:
            self._cache.put(LATCH_KEY, pending.version, value)


class DurableKillSwitchStore:
    """The shared kill switch; every change is appended to ``operator_audit`` atomically."""

    def __init__(self, submit: Submit, cache: ControlCache) -> None:
        self._submit = submit
        self._cache = cache

    def load(self) -> KillSwitchState:
        """Return the current state (raises when it cannot be read)."""
        return self._cache.get(KILL_SWITCH_KEY, kill_switch_from_json, KillSwitchState(False))

    def set(self, state: KillSwitchState, action: OperatorActionRecord) -> None:
        """Persist ``state`` and append ``action`` to ``operator_audit`` in one transaction."""
        value = kill_switch_to_json(state)
        pending = self._submit([prepare(action)], ControlWrite(KILL_SWITCH_KEY, value))
        if pending.version is not None:
            self._cache.put(KILL_SWITCH_KEY, pending.version, value)


__all__ = [
    "KILL_SWITCH_KEY",
    "LATCH_KEY",
    "ControlCache",
    "DurableKillSwitchStore",
    "DurableLatchStore",
    "kill_switch_from_json",
    "kill_switch_to_json",
    "latch_from_json",
]
