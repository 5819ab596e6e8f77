"""The gate's answer for one decided signal: a :class:`SignalResult` built from its decision.

The answer carries the recorded decision (label, reason code, blocking gate, precedence, latch)
with what became of the signal: refused, accepted (the decide API), executed as the executor
reported it, or an error when no permit could be minted.
"""

from __future__ import annotations

from ..errors import PermitError
from .deciding import Prepared
from .results import ExecutionReport, OrderSummary, SignalOutcome, SignalResult


def answer(
    prepared: Prepared,
    outcome: SignalOutcome,
    codes: tuple[str, ...],
    *,
    bypassed: bool,
    order: OrderSummary | None = None,
    refusal: str | None = None,
) -> SignalResult:
    """Return the answer for ``prepared`` with ``outcome`` and every code of the way.

    Args:
        prepared: The decided signal.
        outcome: What became of it.
        codes: Every code of the decision, the refusal and the execution.
        bypassed: True when the policy layer is disabled.
        order: The order placed, if any.
        refusal: The code the signal was refused with, if any.
    """
    signal, verdict = prepared.signal, prepared.verdict
    decision = verdict.decision
    return SignalResult(
        signal_id=signal.signal_id,
        correlation_id=prepared.correlation_id,
        decision=verdict.label,
        reason_code=verdict.reason_code,
        blocking_gate=None if decision.blocking_gate is None else decision.blocking_gate.value,
        precedence_rank=decision.precedence_rank,
        is_latched=decision.is_latched,
        outcome=outcome,
        order=order,
        codes=codes,
        ai_confidence=signal.ai_confidence,
        policy_bypassed=bypassed,
        refusal_code=refusal,
    )


def executed_answer(
    prepared: Prepared, codes: tuple[str, ...], report: ExecutionReport, *, bypassed: bool
) -> SignalResult:
    """Return the answer for ``prepared`` whose order the executor handled as ``report`` says."""
    refused = report.outcome is SignalOutcome.REFUSED and bool(report.codes)
    return answer(
        prepared,
        report.outcome,
        codes + report.codes,
        bypassed=bypassed,
        order=report.order,
        refusal=report.codes[0] if refused else None,
    )


def permit_failed_answer(
    prepared: Prepared, codes: tuple[str, ...], exc: PermitError, *, bypassed: bool
) -> SignalResult:
    """Return the answer for ``prepared`` whose permit failed (ERROR; nothing was sent)."""
    return answer(prepared, SignalOutcome.ERROR, (*codes, exc.code), bypassed=bypassed)


__all__ = ["answer", "executed_answer", "permit_failed_answer"]
