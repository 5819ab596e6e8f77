"""The decision of one signal, up to the durable write: nothing here leaves the process.

:class:`Decider` gives every signal its correlation_id (and its one ``signal_received`` log
line), evaluates the policy on a freshly built context (or the legacy confidence rule when the
policy layer is disabled), checks the intent against the position book (taking its
reservation), and builds the ``signal_audit`` / decision / ``order_audit`` records that say
so. The result is a :class:`Prepared` signal for the gate to write and then settle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final, Protocol

from ..audit.records import AuditRecord
from ..codes import ErrorCode
from ..ids import new_correlation_id
from ..logging import get_logger
from ..policy import (
    Clock,
    IntentCheck,
    OrderIntent,
    PolicyContext,
    TradePermissionPolicy,
    check_intent,
    format_utc,
)
from ..signals import Signal
from .positions import CheckAnswer, CheckRequest, PositionBook, Reservation
from .results import SignalOutcome
from .verdicts import (
    Verdict,
    failed_context,
    legacy_verdict,
    overrides_blocked,
    policy_verdict,
    refusal_record,
    signal_record,
)

_log = get_logger("tradeguard.gate")

_ZERO: Final = Decimal(0)


class ContextBuilder(Protocol):
    """What the gate needs from the context builder."""

    def build(self, correlation_id: str) -> PolicyContext:
        """Return the policy context now."""
        ...


@dataclass(frozen=True, slots=True)
class Prepared:
    """One signal decided but not yet recorded.

    Attributes:
        signal: The signal.
        correlation_id: The correlation_id of this submission.
        verdict: What was decided (policy or legacy).
        reservation: The position book's hold on the order (None when refused or CANCEL).
        refusal: The code the signal is refused with (None when permitted).
        override: True when a high confidence met a blocking decision (recorded).
        records: The rows to write durably before anything leaves.
    """

    signal: Signal
    correlation_id: str
    verdict: Verdict
    reservation: Reservation | None
    refusal: str | None
    override: bool
    records: list[AuditRecord]


class Decider:
    """Decide signals: verdict, intent check with its reservation, and the records.

    Args:
        builder: Builds the policy context for a correlation_id.
        policy: The trade permission policy (with its persistent latch).
        positions: The position book intents are checked against.
        clock: Timestamps of the decisions and records.
        policy_enabled: False falls back to the legacy confidence rule (warned).
        legacy_min_confidence: The legacy rule's minimum ai_confidence.
    """

    __slots__ = ("_builder", "_clock", "_legacy_min", "_policy", "_policy_enabled", "_positions")

    def __init__(
        self,
        *,
        builder: ContextBuilder,
        policy: TradePermissionPolicy,
        positions: PositionBook,
        clock: Clock,
        policy_enabled: bool,
        legacy_min_confidence: Decimal,
    ) -> None:
        self._builder = builder
        self._policy = policy
        self._positions = positions
        self._clock = clock
        self._policy_enabled = policy_enabled
        self._legacy_min = legacy_min_confidence

    def received(self, signal: Signal) -> str:
        """Return a new correlation_id for ``signal`` and log the line every signal gets."""
        correlation_id = new_correlation_id()
        _log.info(
            "signal_received",
            correlation_id=correlation_id,
            signal_id=signal.signal_id,
            symbol=signal.symbol,
            side=str(signal.side),
            intent=str(signal.intent),
            quantity=str(signal.quantity),
            ai_confidence=None if signal.ai_confidence is None else str(signal.ai_confidence),
        )
        if not self._policy_enabled:
            self.warn_disabled(correlation_id)
        return correlation_id

    def warn_disabled(self, correlation_id: str | None) -> None:
        """Log that the policy layer is disabled (POLICY_LAYER_DISABLED)."""
        _log.warning(
            "policy_layer_disabled",
            code=ErrorCode.POLICY_LAYER_DISABLED.value,
            correlation_id=correlation_id,
            legacy_min_confidence=str(self._legacy_min),
        )

    def prepare(self, signal: Signal, correlation_id: str) -> Prepared:
        """Decide ``signal``: verdict, intent check (with its reservation) and the records."""
        verdict = self._verdict(signal, correlation_id)
        check, reservation = self._check(signal, verdict)
        return self._prepared(signal, correlation_id, verdict, check, reservation)

    def prepare_many(self, items: Sequence[tuple[Signal, str]]) -> list[Prepared | Exception]:
        """Decide several ``(signal, correlation_id)`` as :meth:`prepare` does one after another.

        Every verdict is reached first, then all the intents are checked against the book in
        one step (:meth:`PositionBook.check_many`, one transaction of a shared book), in the
        order given, each seeing the reservations of those before it: a verdict never depends
        on the book's reservations, so each signal gets the answer ``prepare`` gives it. An
        entry is the exception ``prepare`` would raise for that signal.
        """
        verdicts = [self._verdict_or_error(signal, cid) for signal, cid in items]
        requests: list[CheckRequest] = []
        checks: list[CheckAnswer | CheckRequest] = []
        for (signal, _), verdict in zip(items, verdicts, strict=True):
            if isinstance(verdict, Exception):
                checks.append(verdict)
                continue
            wanted = self._request(signal, verdict)
            if isinstance(wanted, CheckRequest):
                requests.append(wanted)
            checks.append(wanted)
        answers = iter(self._positions.check_many(requests) if requests else [])
        prepared: list[Prepared | Exception] = []
        for (signal, cid), verdict, asked in zip(items, verdicts, checks, strict=True):
            answer = next(answers) if isinstance(asked, CheckRequest) else asked
            if isinstance(answer, Exception):
                prepared.append(answer)
                continue
            assert not isinstance(verdict, Exception)  # its exception is its answer
            try:
                prepared.append(self._prepared(signal, cid, verdict, *answer))
            except Exception as exc:  # that signal's answer; the others go on
                prepared.append(exc)
        return prepared

    def _verdict_or_error(self, signal: Signal, correlation_id: str) -> Verdict | Exception:
        try:
            return self._verdict(signal, correlation_id)
        except Exception as exc:  # that signal's answer; the others go on
            return exc

    def _verdict(self, signal: Signal, correlation_id: str) -> Verdict:
        if self._policy_enabled:
            return self._evaluate(signal, correlation_id)
        return self._legacy(signal, correlation_id)

    def _prepared(
        self,
        signal: Signal,
        correlation_id: str,
        verdict: Verdict,
        check: IntentCheck,
        reservation: Reservation | None,
    ) -> Prepared:
        refusal = None if check.permitted else str(check.code)
        override = overrides_blocked(verdict, refusal, signal)
        records = self._records(signal, correlation_id, verdict, refusal, override)
        return Prepared(signal, correlation_id, verdict, reservation, refusal, override, records)

    def _evaluate(self, signal: Signal, correlation_id: str) -> Verdict:
        now = self._clock.now()
        codes: tuple[str, ...] = ()
        try:
            context = self._builder.build(correlation_id)
            if not isinstance(context, PolicyContext):
                raise TypeError(f"builder returned {type(context).__name__}")
        except Exception as exc:  # a context that cannot be built at all is a HALT (TPP-001)
            _log.error(
                "policy_context_failed",
                code=ErrorCode.TPP_001.value,
                correlation_id=correlation_id,
                error=str(exc),
            )
            context = failed_context(correlation_id, format_utc(now))
            codes = (ErrorCode.TPP_001.value,)
        decision = self._policy.evaluate(context)
        # The record carries the moment the decision was made (after the latch moved), not the
        # moment the context build started.
        decided_at = self._clock.now()
        return policy_verdict(context, decision, decided_at, signal.ai_confidence, codes)

    def _legacy(self, signal: Signal, correlation_id: str) -> Verdict:
        engaged = self._kill_switch_engaged(correlation_id)
        return legacy_verdict(signal, engaged, self._legacy_min)

    def _kill_switch_engaged(self, correlation_id: str) -> bool:
        try:
            return bool(self._builder.build(correlation_id).kill_switch_active)
        except Exception as exc:  # an unreadable kill switch counts as engaged
            _log.error(
                "kill_switch_unreadable",
                code=ErrorCode.TPP_002.value,
                correlation_id=correlation_id,
                error=str(exc),
            )
            return True

    def _check(self, signal: Signal, verdict: Verdict) -> tuple[IntentCheck, Reservation | None]:
        wanted = self._request(signal, verdict)
        if not isinstance(wanted, CheckRequest):
            return wanted
        return self._positions.check_and_reserve(
            wanted.symbol,
            wanted.side,
            wanted.quantity,
            wanted.check,
            order_type=wanted.order_type,
            price=wanted.price,
            signal_id=wanted.signal_id,
        )

    def _request(
        self, signal: Signal, verdict: Verdict
    ) -> CheckRequest | tuple[IntentCheck, Reservation | None]:
        # What the book is asked for ``signal``, or the answer when it need not be asked.
        if verdict.refusal is not None:
            return IntentCheck(False, ErrorCode(verdict.refusal)), None

        def check(position: Decimal) -> IntentCheck:
            return check_intent(
                verdict.decision, signal.intent, signal.side, signal.quantity, position
            )

        if signal.intent is OrderIntent.CANCEL:
            return check(_ZERO), None
        return CheckRequest(
            signal.symbol,
            signal.side,
            signal.quantity,
            check,
            signal.order_type,
            signal.price,
            signal.signal_id,
        )

    def _records(
        self,
        signal: Signal,
        correlation_id: str,
        verdict: Verdict,
        refusal: str | None,
        override: bool,
    ) -> list[AuditRecord]:
        now = self._clock.now()
        records: list[AuditRecord] = [
            signal_record(
                signal,
                correlation_id,
                now,
                bypassed=not self._policy_enabled,
                label=verdict.label,
                reason_code=refusal or verdict.reason_code,
                outcome=SignalOutcome.REFUSED.value if refusal else SignalOutcome.ACCEPTED.value,
            )
        ]
        if verdict.record is not None:
            records.append(verdict.record)
        if refusal is not None:
            records.append(
                refusal_record(signal, correlation_id, now, verdict, refusal, override=override)
            )
        return records


__all__ = ["ContextBuilder", "Decider", "Prepared"]
