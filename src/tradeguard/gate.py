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

The gate composes the parts of :mod:`tradeguard.execution` that do each step: ``SignalClaims``
(one submission per signal_id), ``RepeatAnswers`` (idempotency), ``Decider`` (the decision and
its records), ``recording`` (the durable write, failing closed), ``Settler`` (after the write:
cancels, answers, permit and order) and ``BatchSteps`` (``submit_many``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, TypeVar

from .execution.batches import BatchSteps, answered
from .execution.claims import SignalClaims
from .execution.deciding import ContextBuilder, Decider, Prepared
from .execution.decisions import Decided
from .execution.dispatcher import Handler, SignalDispatcher
from .execution.executor import Executor
from .execution.permits import PermitAuthority
from .execution.positions import PositionBook
from .execution.recording import decided_elsewhere, write_failed
from .execution.repeats import RepeatAnswers
from .execution.results import SignalResult
from .execution.settling import Settler
from .execution.steps import adrive, drive
from .execution.verdicts import NOT_EVALUATED
from .policy import Clock, TradePermissionPolicy
from .ports import AuditStore
from .signals import Signal, parse_signal

T = TypeVar("T")


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
        self._audit = audit
        self._executor = executor
        self._positions = positions
        self._policy_enabled = policy_enabled
        self._claims = SignalClaims()
        self._repeats = RepeatAnswers(audit, clock, policy_enabled=policy_enabled)
        self._decider = Decider(
            builder=builder,
            policy=policy,
            positions=positions,
            clock=clock,
            policy_enabled=policy_enabled,
            legacy_min_confidence=legacy_min_confidence,
        )
        self._settler = Settler(
            executor=executor,
            authority=authority,
            positions=positions,
            policy_enabled=policy_enabled,
        )
        self._batches = BatchSteps(
            claims=self._claims,
            repeats=self._repeats,
            decider=self._decider,
            settler=self._settler,
            positions=positions,
            executor=executor,
        )
        if not policy_enabled:
            self._decider.warn_disabled(None)

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
        return self._once(signal, self._settler.finish, _as_is)

    def decide(self, signal: Signal | Mapping[str, Any]) -> Decided:
        """Decide and record ``signal`` exactly as :meth:`submit` does, but send no order.

        The decide API's seam: the bot places the order itself. A permitted intent keeps its
        position book reservation in the answer, for the caller to hold until the order is
        reported. Raises what :meth:`submit` raises.
        """
        return self._once(signal, self._settler.held, _unreserved)

    def _once(
        self,
        signal: Signal | Mapping[str, Any],
        finish: Callable[[Prepared, list[int]], T],
        repeated: Callable[[SignalResult], T],
    ) -> T:
        # One signal: idempotency, the decision and its durable write, then ``finish``.
        signal = parse_signal(signal)
        correlation_id = self._decider.received(signal)
        self._claims.claim(signal.signal_id)
        try:
            first = self._repeats.find(signal.signal_id)
            if first is not None:
                return repeated(self._repeats.repeat(signal, first, correlation_id))
            prepared = self._decider.prepare(signal, correlation_id)
            try:
                seqs = self._audit.record_many(prepared.records)
            except Exception as exc:
                self._positions.release(prepared.reservation)
                if decided_elsewhere(exc):
                    return repeated(self._repeats.lost_race(signal, correlation_id))
                raise write_failed(prepared.records, exc) from exc
            return finish(prepared, seqs)
        finally:
            self._claims.release(signal.signal_id)

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
        outcomes, later = drive(self._batches.steps(signals), self._audit.record_many)
        for index in later:
            try:
                outcomes[index] = self.submit(signals[index])
            except Exception as exc:  # the caller maps it, as it would submit's
                outcomes[index] = exc
        return answered(outcomes)

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
            self._batches.steps(signals),
            self._audit.arecord_many,
            first_step_in_thread=True,
        )
        for index in later:
            try:
                outcomes[index] = await asyncio.to_thread(self.submit, signals[index])
            except Exception as exc:  # the caller maps it, as it would submit's
                outcomes[index] = exc
        return answered(outcomes)


def _as_is(result: SignalResult) -> SignalResult:
    return result


def _unreserved(result: SignalResult) -> Decided:
    return Decided(result, None)


__all__ = ["NOT_EVALUATED", "ContextBuilder", "Gate", "Handler", "SignalDispatcher"]
