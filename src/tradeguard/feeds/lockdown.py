"""L6 lockdown: what the system does when the event feed cannot reconnect (SPEC §6).

At exactly the fifth consecutive failed reconnection attempt (see ``feeds.sse``), the kill
switch is engaged by actor ``system:event-feed`` with code ``SSE_RECONNECT_EXHAUSTED``; the
policy then answers HALT and latches. The lockdown is *derived* from the stored kill switch
state (its actor and code), so it survives a restart and is shown as ``L6_LOCKDOWN`` by every
instance reading the same database. It never clears by itself: only an operator releasing the
kill switch (and resetting the latch) ends it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

from ..codes import ErrorCode
from ..errors import TradeGuardError
from ..ids import new_correlation_id
from ..logging import get_logger
from ..policy import OperatorActionRecord
from ..ports import LOCKDOWN_ACTOR, LOCKDOWN_STATE, KillSwitchState, is_lockdown

_log = get_logger("tradeguard.feeds.lockdown")


class KillSwitchEngager(Protocol):
    """The part of the circuit breaker the lockdown needs."""

    def engage(
        self, operator_id: str, reason: str, correlation_id: str, *, code: str = ...
    ) -> OperatorActionRecord:
        """Engage the kill switch (state and operator_audit row atomically)."""
        ...

    def state(self) -> KillSwitchState:
        """Return the stored state (raises when unreadable)."""
        ...


class LockdownController:
    """Engage the L6 lockdown once per exhaustion; retry later if the store cannot record.

    Args:
        circuit_breaker: Engages the kill switch durably.
        on_locked: Called with the correlation id after the kill switch is engaged (the
            composition root evaluates the policy at once so the HALT latches immediately).
    """

    def __init__(
        self,
        circuit_breaker: KillSwitchEngager,
        on_locked: Callable[[str], object] | None = None,
    ) -> None:
        self._breaker = circuit_breaker
        self.on_locked = on_locked
        self._lock = threading.Lock()
        self.pending = False
        self.engaged_count = 0

    def enter(self, failures: int) -> bool:
        """Enter lockdown after ``failures`` consecutive failures; return True when engaged."""
        correlation_id = new_correlation_id()
        with self._lock:
            try:
                current = self._breaker.state()
                if is_lockdown(current):
                    self.pending = False
                    return False
                self._breaker.engage(
                    LOCKDOWN_ACTOR,
                    f"event feed failed to reconnect {failures} times in a row",
                    correlation_id,
                    code=ErrorCode.SSE_RECONNECT_EXHAUSTED,
                )
            except TradeGuardError as exc:
                # The store cannot record: the kill switch source is then unreadable, which the
                # policy already treats as engaged; retry from the heartbeat.
                self.pending = True
                _log.critical(
                    "lockdown_engage_failed",
                    code=exc.code,
                    correlation_id=correlation_id,
                    error=exc.message,
                )
                return False
            self.pending = False
            self.engaged_count += 1
        _log.critical(
            "l6_lockdown",
            code=ErrorCode.SSE_RECONNECT_EXHAUSTED,
            state=LOCKDOWN_STATE,
            correlation_id=correlation_id,
            failures=failures,
        )
        if self.on_locked is not None:
            self.on_locked(correlation_id)
        return True

    def retry_pending(self) -> None:
        """Retry an engagement that could not be recorded."""
        if self.pending:
            self.enter(5)


__all__ = [
    "LOCKDOWN_ACTOR",
    "LOCKDOWN_STATE",
    "KillSwitchEngager",
    "LockdownController",
    "is_lockdown",
]
