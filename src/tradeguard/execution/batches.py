"""A batch of signals decided together: one write for the decisions, one for the orders.

:class:`BatchSteps` decides every signal of a batch exactly as the gate decides one, writes
the signal and decision rows of all of them in one durable transaction, and only then places
their orders, whose events share a second transaction. It is written as steps
(:mod:`.steps`), so the gate drives it on a thread or on the event loop. A ``signal_id`` that
repeats within the batch, or that another submission is deciding right now, is left for the
gate to submit on its own after the batch (its index is returned in ``later``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..codes import ErrorCode
from ..errors import AuditUnavailableError, PermitError
from ..policy import Decision
from ..signals import Signal, parse_signal
from .claims import SignalClaims
from .deciding import Decider, Prepared
from .executor import Executor
from .permits import Permit
from .positions import PositionBook
from .recording import decided_elsewhere, write_failed
from .repeats import RepeatAnswers
from .results import SignalResult
from .settling import Settler
from .steps import WriteSteps

Outcomes = list[SignalResult | Exception | None]
"""Each signal's answer or exception, by index; None until it has one."""

_Step = tuple[int, Prepared, Permit, tuple[str, ...]]


class BatchSteps:
    """The steps of one batch, from the raw signals to every signal's answer.

    Args:
        claims: The ``signal_id`` s being decided in this process.
        repeats: Finds first records and answers repeats.
        decider: Decides each signal.
        settler: Acts on the recorded decisions.
        positions: The position book whose reservations a failed write releases.
        executor: Places the batch's orders.
    """

    __slots__ = ("_claims", "_decider", "_executor", "_positions", "_repeats", "_settler")

    def __init__(
        self,
        *,
        claims: SignalClaims,
        repeats: RepeatAnswers,
        decider: Decider,
        settler: Settler,
        positions: PositionBook,
        executor: Executor,
    ) -> None:
        self._claims = claims
        self._repeats = repeats
        self._decider = decider
        self._settler = settler
        self._positions = positions
        self._executor = executor

    def steps(
        self, signals: Sequence[Signal | Mapping[str, Any]]
    ) -> WriteSteps[tuple[Outcomes, list[int]]]:
        """Decide, write and execute ``signals``; return the outcomes and the ``later`` indexes."""
        outcomes: Outcomes = [None] * len(signals)
        later: list[int] = []
        claimed: list[str] = []
        try:
            prepared = self._prepare(signals, outcomes, later, claimed)
            yield from self._write(prepared, outcomes, later)
        finally:
            for signal_id in claimed:
                self._claims.release(signal_id)
        return outcomes, later

    def _prepare(
        self,
        signals: Sequence[Signal | Mapping[str, Any]],
        outcomes: Outcomes,
        later: list[int],
        claimed: list[str],
    ) -> list[tuple[int, Prepared]]:
        received: list[tuple[int, Signal, str]] = []
        for index, raw in enumerate(signals):
            try:
                signal = parse_signal(raw)
                if not self._claims.try_claim(signal.signal_id):
                    later.append(index)
                    continue
                claimed.append(signal.signal_id)
                received.append((index, signal, self._decider.received(signal)))
            except Exception as exc:  # this signal's answer; the others go on
                outcomes[index] = exc
        if not received:
            return []
        try:  # the idempotency check of the whole batch: one query
            firsts = self._repeats.find_many([signal.signal_id for _, signal, _ in received])
        except AuditUnavailableError as exc:
            for index, _, _ in received:
                outcomes[index] = exc
            return []
        fresh: list[tuple[int, Signal, str]] = []
        for index, signal, correlation_id in received:
            try:
                first = firsts.get(signal.signal_id)
                if first is not None:
                    outcomes[index] = self._repeats.repeat(signal, first, correlation_id)
                else:
                    fresh.append((index, signal, correlation_id))
            except Exception as exc:  # this signal's answer; the others go on
                outcomes[index] = exc
        return self._decide(fresh, outcomes)

    def _decide(
        self, fresh: list[tuple[int, Signal, str]], outcomes: Outcomes
    ) -> list[tuple[int, Prepared]]:
        # Decided together: one step of the position book (one transaction of a shared book)
        # checks every intent of the batch, with the answers of checking them one by one.
        decided = self._decider.prepare_many([(signal, cid) for _, signal, cid in fresh])
        prepared: list[tuple[int, Prepared]] = []
        for (index, _, _), result in zip(fresh, decided, strict=True):
            if isinstance(result, Exception):
                outcomes[index] = result
            else:
                prepared.append((index, result))
        return prepared

    def _write(
        self, prepared: list[tuple[int, Prepared]], outcomes: Outcomes, later: list[int]
    ) -> WriteSteps[None]:
        if not prepared:
            return
        records = [record for _, p in prepared for record in p.records]
        try:
            seqs = yield records
        except Exception as exc:
            for _, p in prepared:
                self._positions.release(p.reservation)
            if decided_elsewhere(exc):
                # Another process recorded one of these signal_ids first (the store's unique
                # index refused the whole write, so nothing was written or sent): each signal
                # goes again on its own, and the one that lost the race is answered as a repeat.
                later.extend(index for index, _ in prepared)
                return
            failure = write_failed(records, exc)
            for index, _ in prepared:
                outcomes[index] = failure
            return
        steps: list[_Step] = []
        offset = 0
        for index, p in prepared:
            mine = seqs[offset : offset + len(p.records)]
            offset += len(p.records)
            try:
                step = self._settler.after_write(p, mine)
            except Exception as exc:  # this signal's answer; the others go on
                outcomes[index] = exc
                continue
            if isinstance(step, SignalResult):
                outcomes[index] = step
            else:
                steps.append((index, p, *step))
        halted = any(p.verdict.decision.decision is Decision.HALT for _, p in prepared)
        yield from self._execute(steps, outcomes, halted=halted)

    def _execute(self, steps: list[_Step], outcomes: Outcomes, *, halted: bool) -> WriteSteps[None]:
        if not steps:
            return
        reports = yield from self._executor.execute_many_steps(
            [(permit, p.reservation) for _, p, permit, _ in steps]
        )
        for (index, p, _, codes), report in zip(steps, reports, strict=True):
            if isinstance(report, PermitError):
                outcomes[index] = self._settler.permit_failed(p, codes, report)
            else:
                outcomes[index] = self._settler.executed(p, codes, report)
        if halted and self._executor.resting_count() > 0:
            # A HALT decided in this batch came before its orders were placed: cancel again.
            self._executor.cancel_all_resting(steps[-1][1].correlation_id)


def answered(outcomes: Outcomes) -> list[SignalResult | Exception]:
    """Return ``outcomes`` with every signal left without an answer failed closed (AUD-006)."""
    return [
        AuditUnavailableError(ErrorCode.AUD_006, "no answer") if o is None else o for o in outcomes
    ]


__all__ = ["BatchSteps", "Outcomes", "answered"]
