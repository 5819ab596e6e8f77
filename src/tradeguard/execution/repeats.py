"""Idempotency: a ``signal_id`` already recorded is answered from the audit trail.

The first ``signal_audit`` row of a ``signal_id`` is looked up before a signal is decided (one
query for a whole batch). A repeat with the same content is a duplicate and gets the first
result again; one with other content is a replay and is refused (``SIGNAL_REPLAYED``). Either
way the repeat gets a signal row of its own (decision ``NOT_EVALUATED``) and is never decided
or executed again.
"""

from __future__ import annotations

from typing import Any

from ..codes import ErrorCode
from ..errors import AuditUnavailableError
from ..logging import get_logger
from ..policy import Clock
from ..ports import AuditStore
from ..signals import Signal, SignalReplayedError
from .recording import record_or_fail
from .replay import first_result
from .results import SignalOutcome, SignalResult
from .verdicts import NOT_EVALUATED, signal_record

_log = get_logger("tradeguard.gate")


class RepeatAnswers:
    """Find the first record of a ``signal_id`` and answer a repeat of it.

    Args:
        audit: The audit store holding the first records.
        clock: Timestamps of a repeat's signal row.
        policy_enabled: False marks a repeat's signal row as policy bypassed.
    """

    __slots__ = ("_audit", "_clock", "_policy_enabled")

    def __init__(self, audit: AuditStore, clock: Clock, *, policy_enabled: bool) -> None:
        self._audit = audit
        self._clock = clock
        self._policy_enabled = policy_enabled

    def find_many(self, signal_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Return the first ``signal_audit`` row of each recorded ``signal_id`` (one query).

        Raises:
            AuditUnavailableError: the store cannot be read (AUD-006): fail closed.
        """
        try:
            return self._audit.find_signals(signal_ids)
        except AuditUnavailableError:
            raise
        except Exception as exc:  # any store failure: fail closed, nothing is sent
            raise AuditUnavailableError(
                ErrorCode.AUD_006, f"cannot read signal_audit: {exc}"
            ) from exc

    def find(self, signal_id: str) -> dict[str, Any] | None:
        """Return the first ``signal_audit`` row of ``signal_id``, or None when it is new."""
        return self.find_many([signal_id]).get(signal_id)

    def repeat(self, signal: Signal, first: dict[str, Any], correlation_id: str) -> SignalResult:
        """Record the repeat ``signal`` of ``first`` and answer it with the first result.

        Raises:
            SignalReplayedError: the repeat's content differs from the first's.
            AuditUnavailableError: the repeat's row could not be recorded.
        """
        replayed = first.get("content_hash") != signal.content_hash()
        code = ErrorCode.SIGNAL_REPLAYED if replayed else ErrorCode.SIGNAL_DUPLICATE
        record_or_fail(
            self._audit,
            [
                signal_record(
                    signal,
                    correlation_id,
                    self._clock.now(),
                    bypassed=not self._policy_enabled,
                    label=NOT_EVALUATED,
                    reason_code=code.value,
                    outcome=(SignalOutcome.REFUSED if replayed else SignalOutcome.DUPLICATE).value,
                )
            ],
        )
        _log.warning(
            "signal_replayed" if replayed else "signal_duplicate",
            code=code.value,
            correlation_id=correlation_id,
            signal_id=signal.signal_id,
            first_correlation_id=first.get("correlation_id"),
        )
        if replayed:
            raise SignalReplayedError(signal.signal_id, str(first.get("correlation_id")))
        return first_result(self._audit, first)

    def lost_race(self, signal: Signal, correlation_id: str) -> SignalResult:
        """Answer ``signal`` whose first row another submission wrote before ours.

        Another process or instance recorded this signal_id's first row between our check and
        our write; nothing of ours was written or sent. Answered as any repeat is answered.
        """
        _log.warning(
            "signal_decided_elsewhere",
            code=ErrorCode.SIGNAL_DUPLICATE.value,
            correlation_id=correlation_id,
            signal_id=signal.signal_id,
        )
        first = self.find(signal.signal_id)
        if first is None:
            raise AuditUnavailableError(
                ErrorCode.AUD_006,
                "the signal_id was recorded by another submission but its row is not readable",
            )
        return self.repeat(signal, first, correlation_id)


__all__ = ["RepeatAnswers"]
