"""The gate use case: a signal in, a durable decision, and an order only when permitted.

``Gate.submit`` logs the signal, answers a repeated ``signal_id`` from the audit trail, builds
the context, evaluates the policy, checks the intent against the position book, writes the
signal row and the decision row in one durable transaction and only then mints the permit the
executor needs. A refusal is written through the same rows (outcome REFUSED, with its code and
an ``order_audit`` REFUSED row). ``SignalDispatcher`` (in :mod:`tradeguard.execution.dispatcher`,
re-exported here) is the integration point of existing bots: their handlers keep receiving every
signal, and nothing they do changes a decision.

``Gate.submit_many`` decides a batch of signals exactly as ``submit`` would one by one, but
writes all their signal and decision rows in one durable transaction before any of their
orders leaves, and all their order events in a second one: two commits per batch instead of
two per signal. The webhook uses it when placing an order is an in-process call (paper).

With the policy layer disabled by configuration, the previous behaviour applies (an order is
allowed when ``ai_confidence >= legacy_min_confidence``; the kill switch is still honoured);
no policy evaluation happens, so no decision row is written: the signal row, written durably
before the order, carries ``decision=BYPASSED`` and ``policy_bypassed=true``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, Protocol, TypeVar

from .audit.records import AuditRecord
from .codes import ErrorCode
from .errors import AuditUnavailableError, PermitError, TradeGuardError
from .execution.decisions import Decided
from .execution.dispatcher import Handler, SignalDispatcher
from .execution.executor import Executor
from .execution.permits import Permit, PermitAuthority
from .execution.positions import PositionBook, Reservation
from .execution.replay import first_result
from .execution.results import ExecutionReport, OrderSummary, SignalOutcome, SignalResult
from .execution.steps import WriteSteps, adrive, drive
from .execution.verdicts import (
    NOT_EVALUATED,
    Verdict,
    failed_context,
    legacy_verdict,
    overrides_blocked,
    policy_verdict,
    refusal_record,
    signal_record,
)
from .ids import new_correlation_id
from .logging import get_logger
from .policy import (
    Clock,
    Decision,
    IntentCheck,
    OrderIntent,
    PolicyContext,
    TradePermissionPolicy,
    check_intent,
    format_utc,
)
from .ports import AuditStore
from .signals import Signal, SignalReplayedError, parse_signal

_log = get_logger("tradeguard.gate")

_ZERO: Final = Decimal(0)
T = TypeVar("T")


class ContextBuilder(Protocol):
    """What the gate needs from the context builder."""

    def build(self, correlation_id: str) -> PolicyContext:
        """Return the policy context now."""
        ...


@dataclass(frozen=True, slots=True)
class _Prepared:
    # One signal decided but not yet recorded.
    signal: Signal
    correlation_id: str
    verdict: Verdict
    reservation: Reservation | None
    refusal: str | None
    override: bool
    records: list[AuditRecord]


class Gate:
    """Decide every signal, record the decision durably, and only then let the order go.

    Args:
        builder: Builds the policy context for a correlation_id.
        policy: The trade permission policy (with its persistent latch).
        audit: The audit store; nothing is sent unless it recorded the decision.
        executor: Places the permitted orders.
        authority: Mints permits (shared with the executor).
        positions: The position book exit intents are checked against.
        clock: Timestamps of the records.
        policy_enabled: False falls back to the legacy confidence rule (warned).
        legacy_min_confidence: The legacy rule's minimum ai_confidence.
    """

    def __init__(
        self,
        *,
        builder: ContextBuilder,
        policy: TradePermissionPolicy,
        audit: AuditStore,
        executor: Executor,
        authority: PermitAuthority,
        positions: PositionBook,
        clock: Clock,
        policy_enabled: bool = True,
        legacy_min_confidence: Decimal = Decimal(70),
    ) -> None:
        self._builder = builder
        self._policy = policy
        self._audit = audit
        self._executor = executor
        self._authority = authority
        self._positions = positions
        self._clock = clock
        self._policy_enabled = policy_enabled
        self._legacy_min = legacy_min_confidence
        self._inflight: dict[str, threading.Lock] = {}
        self._halt_seen = False
        if not policy_enabled:
            self._warn_disabled(None)

    @property
    def batches_orders(self) -> bool:
        """True when concurrent signals are best decided together by :meth:`submit_many`.

        That is when placing an order is an in-process call (the paper exchange): a batch's
        orders are placed one after the other, which costs nothing there, while a remote
        exchange's orders should go out concurrently.
        """
        return self._executor.places_in_process

    @property
    def policy_enabled(self) -> bool:
        """Return False when the policy layer is disabled by configuration."""
        return self._policy_enabled

    def submit(self, signal: Signal | Mapping[str, Any]) -> SignalResult:
        """Decide ``signal`` and execute its order when the recorded decision permits it.

        Raises:
            InvalidSignalError: the signal is invalid (SIGNAL_INVALID).
            SignalReplayedError: the signal_id was used before with other content.
            AuditUnavailableError: the decision could not be recorded; nothing was sent.
        """
        return self._once(signal, self._finish, _as_is)

    def decide(self, signal: Signal | Mapping[str, Any]) -> Decided:
        """Decide and record ``signal`` exactly as :meth:`submit` does, but send no order.

        The decide API's seam: the bot places the order itself. A permitted intent keeps its
        position book reservation in the answer, for the caller to hold until the order is
        reported. Raises what :meth:`submit` raises.
        """
        return self._once(signal, self._held, _unreserved)

    def _once(
        self,
        signal: Signal | Mapping[str, Any],
        finish: Callable[[_Prepared, list[int]], T],
        repeated: Callable[[SignalResult], T],
    ) -> T:
        # One signal: idempotency, the decision and its durable write, then ``finish``.
        signal = parse_signal(signal)
        correlation_id = self._received(signal)
        self._claim(signal.signal_id)
        try:
            first = self._find(signal.signal_id)
            if first is not None:
                return repeated(self._repeat(signal, first, correlation_id))
            prepared = self._prepare(signal, correlation_id)
            try:
                seqs = self._audit.record_many(prepared.records)
            except Exception as exc:
                self._positions.release(prepared.reservation)
                if _decided_elsewhere(exc):
                    return repeated(self._lost_race(signal, correlation_id))
                raise self._write_failed(prepared.records, exc) from exc
            return finish(prepared, seqs)
        finally:
            self._release_claim(signal.signal_id)

    def submit_many(
        self, signals: Sequence[Signal | Mapping[str, Any]]
    ) -> list[SignalResult | Exception]:
        """Decide several signals with one durable write for all their decisions.

        Each entry of the answer is what :meth:`submit` would have returned for that signal,
        or the exception it would have raised. Every signal is decided as by ``submit``; the
        signal and decision rows of all of them are written in one durable transaction, and
        only then are their orders placed, one after the other (write-ahead holds for each).
        If that write fails, every signal of the batch gets the ``AuditUnavailableError`` and
        nothing is sent. A ``signal_id`` that repeats within the batch, or that another
        submission is deciding right now, is submitted on its own after the batch.
        """
        outcomes, later = drive(self._batch_steps(signals), self._audit.record_many)
        for index in later:
            try:
                outcomes[index] = self.submit(signals[index])
            except Exception as exc:  # the caller maps it, as it would submit's
                outcomes[index] = exc
        return _answered(outcomes)

    async def asubmit_many(
        self, signals: Sequence[Signal | Mapping[str, Any]]
    ) -> list[SignalResult | Exception]:
        """:meth:`submit_many` for an event loop: it awaits the durable writes.

        Everything up to the first write (the idempotency query, reading the sources, which
        may wait up to a source's timeout, and the decisions) runs on a worker thread, so the
        loop keeps serving requests, the operator API among them, whatever a source does. The
        orders (in-process: see :attr:`batches_orders`) and the steps after each write run on
        the loop; while rows become durable the loop serves other requests, and batches
        decided meanwhile share the next commit. A signal that must wait for another
        submission of its ``signal_id`` is submitted on a thread.
        """
        outcomes, later = await adrive(
            self._batch_steps(signals),
            self._audit.arecord_many,
            first_step_in_thread=True,
        )
        for index in later:
            try:
                outcomes[index] = await asyncio.to_thread(self.submit, signals[index])
            except Exception as exc:  # the caller maps it, as it would submit's
                outcomes[index] = exc
        return _answered(outcomes)

    def _batch_steps(
        self, signals: Sequence[Signal | Mapping[str, Any]]
    ) -> WriteSteps[tuple[list[SignalResult | Exception | None], list[int]]]:
        outcomes: list[SignalResult | Exception | None] = [None] * len(signals)
        later: list[int] = []
        claimed: list[str] = []
        try:
            prepared = self._prepare_batch(signals, outcomes, later, claimed)
            yield from self._write_batch(prepared, outcomes, later)
        finally:
            for signal_id in claimed:
                self._release_claim(signal_id)
        return outcomes, later

    def _prepare_batch(
        self,
        signals: Sequence[Signal | Mapping[str, Any]],
        outcomes: list[SignalResult | Exception | None],
        later: list[int],
        claimed: list[str],
    ) -> list[tuple[int, _Prepared]]:
        received: list[tuple[int, Signal, str]] = []
        for index, raw in enumerate(signals):
            try:
                signal = parse_signal(raw)
                if not self._try_claim(signal.signal_id):
                    later.append(index)
                    continue
                claimed.append(signal.signal_id)
                received.append((index, signal, self._received(signal)))
            except Exception as exc:  # this signal's answer; the others go on
                outcomes[index] = exc
        if not received:
            return []
        try:  # the idempotency check of the whole batch: one query
            firsts = self._find_many([signal.signal_id for _, signal, _ in received])
        except AuditUnavailableError as exc:
            for index, _, _ in received:
                outcomes[index] = exc
            return []
        prepared: list[tuple[int, _Prepared]] = []
        for index, signal, correlation_id in received:
            try:
                first = firsts.get(signal.signal_id)
                if first is not None:
                    outcomes[index] = self._repeat(signal, first, correlation_id)
                else:
                    prepared.append((index, self._prepare(signal, correlation_id)))
            except Exception as exc:  # this signal's answer; the others go on
                outcomes[index] = exc
        return prepared

    def _write_batch(
        self,
        prepared: list[tuple[int, _Prepared]],
        outcomes: list[SignalResult | Exception | None],
        later: list[int],
    ) -> WriteSteps[None]:
        if not prepared:
            return
        records = [record for _, p in prepared for record in p.records]
        try:
            seqs = yield records
        except Exception as exc:
            for _, p in prepared:
                self._positions.release(p.reservation)
            if _decided_elsewhere(exc):
                # Another process recorded one of these signal_ids first (the store's unique
                # index refused the whole write, so nothing was written or sent): each signal
                # goes again on its own, and the one that lost the race is answered as a repeat.
                later.extend(index for index, _ in prepared)
                return
            failure = self._write_failed(records, exc)
            for index, _ in prepared:
                outcomes[index] = failure
            return
        steps: list[tuple[int, _Prepared, Permit, tuple[str, ...]]] = []
        offset = 0
        for index, p in prepared:
            mine = seqs[offset : offset + len(p.records)]
            offset += len(p.records)
            try:
                step = self._after_write(p, mine)
            except Exception as exc:  # this signal's answer; the others go on
                outcomes[index] = exc
                continue
            if isinstance(step, SignalResult):
                outcomes[index] = step
            else:
                steps.append((index, p, *step))
        halted = any(p.verdict.decision.decision is Decision.HALT for _, p in prepared)
        yield from self._execute_batch(steps, outcomes, halted=halted)

    def _execute_batch(
        self,
        steps: list[tuple[int, _Prepared, Permit, tuple[str, ...]]],
        outcomes: list[SignalResult | Exception | None],
        *,
        halted: bool,
    ) -> WriteSteps[None]:
        if not steps:
            return
        reports = yield from self._executor.execute_many_steps(
            [(permit, p.reservation) for _, p, permit, _ in steps]
        )
        for (index, p, _, codes), report in zip(steps, reports, strict=True):
            if isinstance(report, PermitError):
                outcomes[index] = self._permit_failed(p, codes, report)
            else:
                outcomes[index] = self._executed(p, codes, report)
        if halted and self._executor.resting_count() > 0:
            # A HALT decided in this batch came before its orders were placed: cancel again.
            self._executor.cancel_all_resting(steps[-1][1].correlation_id)

    # --- idempotency -----------------------------------------------------------------------

    def _received(self, signal: Signal) -> str:
        # A new correlation_id, and the one log line every signal gets.
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
            self._warn_disabled(correlation_id)
        return correlation_id

    def _try_claim(self, signal_id: str) -> bool:
        # The claim of _claim without waiting: False when another submission holds it.
        mine = threading.Lock()
        mine.acquire()
        return self._inflight.setdefault(signal_id, mine) is mine

    def _claim(self, signal_id: str) -> None:
        # One submission per signal_id at a time in this process; a repeat waits for the
        # first to be recorded and is then answered from the trail. The claim is a lock held
        # by the running submission (cheaper than an Event per signal).
        mine = threading.Lock()
        mine.acquire()
        while True:
            running = self._inflight.setdefault(signal_id, mine)  # atomic under the GIL
            if running is mine:
                return
            running.acquire()  # wait for the running submission to finish
            running.release()

    def _release_claim(self, signal_id: str) -> None:
        held = self._inflight.pop(signal_id, None)
        if held is not None:
            held.release()

    def _find_many(self, signal_ids: list[str]) -> dict[str, dict[str, Any]]:
        try:
            return self._audit.find_signals(signal_ids)
        except AuditUnavailableError:
            raise
        except Exception as exc:  # any store failure: fail closed, nothing is sent
            raise AuditUnavailableError(
                ErrorCode.AUD_006, f"cannot read signal_audit: {exc}"
            ) from exc

    def _find(self, signal_id: str) -> dict[str, Any] | None:
        return self._find_many([signal_id]).get(signal_id)

    def _repeat(self, signal: Signal, first: dict[str, Any], correlation_id: str) -> SignalResult:
        replayed = first.get("content_hash") != signal.content_hash()
        code = ErrorCode.SIGNAL_REPLAYED if replayed else ErrorCode.SIGNAL_DUPLICATE
        self._write(
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
            ]
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

    # --- the decision ----------------------------------------------------------------------

    def _lost_race(self, signal: Signal, correlation_id: str) -> SignalResult:
        # Another process or instance recorded this signal_id's first row between our check
        # and our write; nothing of ours was written or sent. Answer as any repeat is answered.
        _log.warning(
            "signal_decided_elsewhere",
            code=ErrorCode.SIGNAL_DUPLICATE.value,
            correlation_id=correlation_id,
            signal_id=signal.signal_id,
        )
        first = self._find(signal.signal_id)
        if first is None:
            raise AuditUnavailableError(
                ErrorCode.AUD_006,
                "the signal_id was recorded by another submission but its row is not readable",
            )
        return self._repeat(signal, first, correlation_id)

    def _prepare(self, signal: Signal, correlation_id: str) -> _Prepared:
        # Everything up to the durable write: verdict, intent check (with its reservation)
        # and the records that say so. Nothing here leaves the process.
        verdict = (
            self._evaluate(signal, correlation_id)
            if self._policy_enabled
            else self._legacy(signal, correlation_id)
        )
        check, reservation = self._check(signal, verdict)
        refusal = None if check.permitted else str(check.code)
        override = overrides_blocked(verdict, refusal, signal)
        records = self._records(signal, correlation_id, verdict, refusal, override)
        return _Prepared(signal, correlation_id, verdict, reservation, refusal, override, records)

    def _finish(self, prepared: _Prepared, seqs: list[int]) -> SignalResult:
        # After the durable write (``seqs`` are the seqs of ``prepared.records``).
        step = self._after_write(prepared, seqs)
        if isinstance(step, SignalResult):
            return step
        permit, codes = step
        try:
            report = self._executor.execute(permit, prepared.reservation)
        except PermitError as exc:  # a bug, never a trade: reported, nothing was sent
            return self._permit_failed(prepared, codes, exc)
        return self._executed(prepared, codes, report)

    def _held(self, prepared: _Prepared, _seqs: list[int]) -> Decided:
        # The decide API's finish: the answer, and the reservation a permitted intent keeps.
        step = self._settle(prepared)
        if isinstance(step, SignalResult):
            return Decided(step, None)
        accepted = SignalOutcome.ACCEPTED
        result = self._result(
            prepared.signal, prepared.correlation_id, prepared.verdict, accepted, step
        )
        return Decided(result, prepared.reservation)

    def _after_write(
        self, prepared: _Prepared, seqs: list[int]
    ) -> SignalResult | tuple[Permit, tuple[str, ...]]:
        # The answer of a refused signal, or the permit of an order to place.
        step = self._settle(prepared)
        if isinstance(step, SignalResult):
            return step
        try:
            return self._mint(prepared, seqs), step
        except PermitError as exc:  # a bug, never a trade: reported, nothing was sent
            return self._permit_failed(prepared, step, exc)

    def _settle(self, prepared: _Prepared) -> SignalResult | tuple[str, ...]:
        # After the durable write: HALT's cancels; the refusal's answer, or the codes.
        signal, correlation_id, verdict = prepared.signal, prepared.correlation_id, prepared.verdict
        refusal = prepared.refusal
        if verdict.decision.decision is Decision.HALT:
            self._on_halt(correlation_id)
        else:
            self._halt_seen = False
        codes = verdict.codes + ((refusal,) if refusal else ())
        if prepared.override:
            codes += (ErrorCode.AI_CONFIDENCE_OVERRIDE_BLOCKED.value,)
            _log.warning(
                "ai_confidence_override_blocked",
                code=ErrorCode.AI_CONFIDENCE_OVERRIDE_BLOCKED.value,
                correlation_id=correlation_id,
                ai_confidence=str(signal.ai_confidence),
                reason_code=verdict.reason_code,
            )
        if refusal is not None:
            _log.info(
                "signal_refused",
                code=refusal,
                correlation_id=correlation_id,
                decision=verdict.label,
                reason_code=verdict.reason_code,
            )
            return self._result(
                signal, correlation_id, verdict, SignalOutcome.REFUSED, codes, refusal=refusal
            )
        return codes

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
        if verdict.refusal is not None:
            return IntentCheck(False, ErrorCode(verdict.refusal)), None

        def check(position: Decimal) -> IntentCheck:
            return check_intent(
                verdict.decision, signal.intent, signal.side, signal.quantity, position
            )

        if signal.intent is OrderIntent.CANCEL:
            return check(_ZERO), None
        return self._positions.check_and_reserve(
            signal.symbol,
            signal.side,
            signal.quantity,
            check,
            order_type=signal.order_type,
            price=signal.price,
            signal_id=signal.signal_id,
        )

    # --- records ---------------------------------------------------------------------------

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

    def _write(self, records: list[AuditRecord]) -> list[int]:
        try:
            return self._audit.record_many(records)
        except Exception as exc:
            raise self._write_failed(records, exc) from exc

    @staticmethod
    def _write_failed(records: list[AuditRecord], exc: Exception) -> AuditUnavailableError:
        # Any store failure: fail closed, nothing is sent. Logged once, here.
        message = exc.message if isinstance(exc, AuditUnavailableError) else str(exc)
        _log.error(
            "audit_unavailable",
            code=ErrorCode.AUD_006.value,
            correlation_id=records[0].correlation_id,
            error=message,
        )
        if isinstance(exc, AuditUnavailableError):
            return exc
        return AuditUnavailableError(ErrorCode.AUD_006, f"cannot record: {exc}")

    # --- execution -------------------------------------------------------------------------

    def _mint(self, prepared: _Prepared, seqs: list[int]) -> Permit:
        # The order leaves as the position book reserved it: quantity (and LIMIT price) fitted
        # to the symbol's rules by the order controls.
        signal, verdict, held = prepared.signal, prepared.verdict, prepared.reservation
        return self._authority.mint(
            correlation_id=prepared.correlation_id,
            intent=signal.intent,
            symbol=signal.symbol,
            side=signal.side,
            quantity=signal.quantity if held is None else held.quantity,
            decision=verdict.label,
            decision_seq=seqs[1] if verdict.record is not None else seqs[0],
            order_type=signal.order_type,
            price=signal.price if held is None else held.price,
        )

    def _permit_failed(
        self, prepared: _Prepared, codes: tuple[str, ...], exc: PermitError
    ) -> SignalResult:
        self._positions.release(prepared.reservation)
        return self._result(
            prepared.signal,
            prepared.correlation_id,
            prepared.verdict,
            SignalOutcome.ERROR,
            (*codes, exc.code),
        )

    def _executed(
        self, prepared: _Prepared, codes: tuple[str, ...], report: ExecutionReport
    ) -> SignalResult:
        refused = report.outcome is SignalOutcome.REFUSED and bool(report.codes)
        return self._result(
            prepared.signal,
            prepared.correlation_id,
            prepared.verdict,
            report.outcome,
            codes + report.codes,
            order=report.order,
            refusal=report.codes[0] if refused else None,
        )

    def _on_halt(self, correlation_id: str) -> None:
        # HALT: resting orders are cancelled (on the way into HALT, or when some still rest).
        if not self._halt_seen or self._executor.resting_count() > 0:
            self._halt_seen = True
            self._executor.cancel_all_resting(correlation_id)

    def _result(
        self,
        signal: Signal,
        correlation_id: str,
        verdict: Verdict,
        outcome: SignalOutcome,
        codes: tuple[str, ...],
        *,
        order: OrderSummary | None = None,
        refusal: str | None = None,
    ) -> SignalResult:
        decision = verdict.decision
        return SignalResult(
            signal_id=signal.signal_id,
            correlation_id=correlation_id,
            decision=verdict.label,
            reason_code=verdict.reason_code,
            blocking_gate=None if decision.blocking_gate is None else decision.blocking_gate.value,
            precedence_rank=decision.precedence_rank,
            is_latched=decision.is_latched,
            outcome=outcome,
            order=order,
            codes=codes,
            ai_confidence=signal.ai_confidence,
            policy_bypassed=not self._policy_enabled,
            refusal_code=refusal,
        )

    def _warn_disabled(self, correlation_id: str | None) -> None:
        _log.warning(
            "policy_layer_disabled",
            code=ErrorCode.POLICY_LAYER_DISABLED.value,
            correlation_id=correlation_id,
            legacy_min_confidence=str(self._legacy_min),
        )


def _as_is(result: SignalResult) -> SignalResult:
    return result


def _unreserved(result: SignalResult) -> Decided:
    return Decided(result, None)


def _decided_elsewhere(exc: BaseException) -> bool:
    # The audit store's one-first-row-per-signal_id index refused a write.
    return isinstance(exc, TradeGuardError) and exc.code == ErrorCode.SIGNAL_DUPLICATE


def _answered(outcomes: list[SignalResult | Exception | None]) -> list[SignalResult | Exception]:
    return [
        AuditUnavailableError(ErrorCode.AUD_006, "no answer") if o is None else o for o in outcomes
    ]


__all__ = ["NOT_EVALUATED", "ContextBuilder", "Gate", "Handler", "SignalDispatcher"]
