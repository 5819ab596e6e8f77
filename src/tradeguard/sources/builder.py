"""PolicyContextBuilder: ask the four sources and build a ``PolicyContext`` (SPEC §3).

Every source is read on its own persistent worker thread (:class:`~.slot.SourceSlot`) under
its own timeout, so a source that hangs forever delays ``build`` by at most the timeout plus a
small margin. Answers younger than ``max_sample_age_s`` are reused without a thread hand-off and
refreshed ahead in the background: that is the hot path, a few microseconds. A local engage or
release of the kill switch invalidates its sample at once.

A source that raises, times out, answers late or answers outside its domain gets its most
restrictive value, is named in ``incomplete_sources``, and is logged as
``policy_context_incomplete`` with ``code=POLICY_CONTEXT_INCOMPLETE`` and its TPP code in
``source_code``:

| source       | restrictive value         | code    |
|--------------|---------------------------|---------|
| kill switch  | kill_switch_active = True | TPP-002 |
| budget       | HARD_STOP                 | TPP-003 |
| health       | RED                       | TPP-004 |
| risk         | CRITICAL                  | TPP-005 |

When no context can be built at all (the clock fails, the correlation id is not a UUID),
``build`` logs ``policy_context_unavailable`` and raises ``SourceUnavailableError`` with code
``TPP-001``; the gate answers HALT for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, Protocol

from ..codes import ErrorCode
from ..errors import SourceUnavailableError
from ..logging import get_logger
from ..policy import (
    BudgetSignal,
    Clock,
    GateName,
    HealthStatus,
    PolicyContext,
    RiskAssessment,
    format_utc,
)
from .budget import BudgetEvaluation
from .health import HealthReport
from .risk import RiskEvaluation
from .slot import Pending, Sample, SourceSlot

_log = get_logger(__name__)


class ContextProvider(Protocol):
    """Anything that builds policy contexts (the builder, a fixed context in tests)."""

    def build(self, correlation_id: str) -> PolicyContext:
        """Return the context for one evaluation."""
        ...


class KillSwitchSource(Protocol):
    """The kill switch as the builder reads it."""

    def is_active(self) -> bool:
        """Return True while engaged."""
        ...


class BudgetSource(Protocol):
    """The budget as the builder reads it."""

    def current(self) -> BudgetEvaluation:
        """Return the current evaluation."""
        ...


class HealthSource(Protocol):
    """Health as the builder reads it."""

    def report(self) -> HealthReport:
        """Return the overall status with every check."""
        ...


class RiskSource(Protocol):
    """Risk as the builder reads it."""

    def assess(self) -> RiskEvaluation:
        """Return the assessment with every breach."""
        ...


class SourceFailure(StrEnum):
    """How a source failed."""

    RAISED = "raised"
    TIMEOUT = "timeout"
    OUT_OF_DOMAIN = "out_of_domain"


@dataclass(frozen=True, slots=True)
class SourceProblem:
    """One failed source of one build."""

    gate: GateName
    code: str
    failure: SourceFailure
    detail: str


@dataclass(frozen=True, slots=True)
class ContextDetails:
    """The last build: its context and what each source said, for ``status``."""

    context: PolicyContext
    budget: BudgetEvaluation | None
    health: HealthReport | None
    risk: RiskEvaluation | None
    problems: tuple[SourceProblem, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return the details as JSON-ready data."""
        return {
            "context": self.context.to_dict(),
            "budget": None if self.budget is None else self.budget.to_dict(),
            "health_checks": []
            if self.health is None
            else [result.to_dict() for result in self.health.results],
            "risk": None if self.risk is None else self.risk.to_dict(),
            "incomplete": [
                {
                    "gate": problem.gate.value,
                    "code": problem.code,
                    "failure": problem.failure.value,
                    "detail": problem.detail,
                }
                for problem in self.problems
            ],
        }


class _OutOfDomainError(Exception):
    pass


_BUDGET: Final = {member.value: member for member in BudgetSignal}
_HEALTH: Final = {member.value: member for member in HealthStatus}
_RISK: Final = {member.value: member for member in RiskAssessment}


def _member(table: dict[str, Any], value: object) -> Any:
    member = table.get(value) if isinstance(value, str) else None
    if member is None:
        raise _OutOfDomainError(f"{value!r} is not one of {sorted(table)}")
    return member


def _kill_value(answer: object) -> tuple[bool, None]:
    if type(answer) is not bool:
        raise _OutOfDomainError(f"kill switch answered {answer!r}, not a boolean")
    return answer, None


def _budget_value(answer: object) -> tuple[BudgetSignal, BudgetEvaluation | None]:
    signal = getattr(answer, "signal", answer)
    detail = answer if isinstance(answer, BudgetEvaluation) else None
    return _member(_BUDGET, signal), detail


def _health_value(answer: object) -> tuple[HealthStatus, HealthReport | None]:
    status = getattr(answer, "status", answer)
    detail = answer if isinstance(answer, HealthReport) else None
    return _member(_HEALTH, status), detail


def _risk_value(answer: object) -> tuple[RiskAssessment, RiskEvaluation | None]:
    assessment = getattr(answer, "assessment", answer)
    detail = answer if isinstance(answer, RiskEvaluation) else None
    return _member(_RISK, assessment), detail


_Extract = Callable[[object], tuple[Any, Any]]
_GATES: Final[tuple[tuple[GateName, ErrorCode, object, _Extract], ...]] = (
    (GateName.KILL_SWITCH, ErrorCode.TPP_002, True, _kill_value),
    (GateName.BUDGET, ErrorCode.TPP_003, BudgetSignal.HARD_STOP, _budget_value),
    (GateName.HEALTH, ErrorCode.TPP_004, HealthStatus.RED, _health_value),
    (GateName.RISK, ErrorCode.TPP_005, RiskAssessment.CRITICAL, _risk_value),
)


class PolicyContextBuilder:
    """Build a ``PolicyContext`` from the kill switch, budget, health and risk sources.

    Args:
        circuit_breaker: ``is_active()``; its ``add_listener`` (when present) is used to
            invalidate the cached answer on a local engage or release.
        budget: ``current()`` returning a ``BudgetEvaluation``.
        health: ``report()`` returning a ``HealthReport``.
        risk: ``assess()`` returning a ``RiskEvaluation``.
        clock: The context's timestamp.
        timeout_s: Per-source timeout (``source_timeout_ms``).
        max_sample_age_s: How long an answer may be reused (0: ask on every build).
        max_abandoned_threads: Per source, how many workers stuck in a hung call may be
            replaced by fresh ones.
    """

    def __init__(
        self,
        circuit_breaker: KillSwitchSource,
        budget: BudgetSource,
        health: HealthSource,
        risk: RiskSource,
        clock: Clock,
        timeout_s: float = 0.25,
        *,
        max_sample_age_s: float = 0.02,
        max_abandoned_threads: int = 4,
    ) -> None:
        self._clock = clock
        self.timeout_s = timeout_s
        reads = (circuit_breaker.is_active, budget.current, health.report, risk.assess)
        self._slots = tuple(
            SourceSlot(
                gate.value,
                read,
                timeout_s=timeout_s,
                max_age_s=max_sample_age_s,
                max_abandoned=max_abandoned_threads,
            )
            for (gate, _, _, _), read in zip(_GATES, reads, strict=True)
        )
        self._last: ContextDetails | None = None
        add_listener = getattr(circuit_breaker, "add_listener", None)
        if callable(add_listener):
            add_listener(self._slots[0].invalidate)

    def build(self, correlation_id: str) -> PolicyContext:
        """Ask every source (each under its own timeout) and return the context.

        Raises:
            SourceUnavailableError: Code ``TPP-001`` when no context can be built at all.
        """
        try:
            return self._build(correlation_id)
        except Exception as exc:
            _log.error(
                "policy_context_unavailable",
                code=ErrorCode.TPP_001,
                correlation_id=correlation_id,
                error=repr(exc),
            )
            raise SourceUnavailableError(
                ErrorCode.TPP_001, f"policy context cannot be built: {exc!r}"
            ) from exc

    def last_details(self) -> ContextDetails | None:
        """Return the last build's context with each source's answer (None before one)."""
        return self._last

    def invalidate(self, gate: GateName | None = None) -> None:
        """Drop the cached answer of ``gate`` (every gate when None): the next build asks."""
        for (name, _, _, _), slot in zip(_GATES, self._slots, strict=True):
            if gate is None or name is gate:
                slot.invalidate()

    def close(self) -> None:
        """Stop the source workers."""
        for slot in self._slots:
            slot.close()

    def _build(self, correlation_id: str) -> PolicyContext:
        now = time.monotonic()
        polled = [slot.poll(now) for slot in self._slots]
        values: list[Any] = []
        details: list[Any] = []
        problems: list[SourceProblem] = []
        for slot, poll, (gate, code, restrictive, extract) in zip(
            self._slots, polled, _GATES, strict=True
        ):
            sample = slot.wait(poll) if isinstance(poll, Pending) else poll
            try:
                value, detail = self._answer(slot, sample, extract)
            except (_OutOfDomainError, _SourceRaisedError, TimeoutError) as exc:
                problems.append(SourceProblem(gate, code.value, _failure_kind(exc), str(exc)))
                value, detail = restrictive, None
            values.append(value)
            details.append(detail)
        incomplete = tuple(problem.gate for problem in problems)
        context = PolicyContext(
            values[0],
            values[1],
            values[2],
            values[3],
            correlation_id,
            format_utc(self._clock.now()),
            incomplete,
        )
        for problem in problems:
            _log.warning(
                "policy_context_incomplete",
                code=ErrorCode.POLICY_CONTEXT_INCOMPLETE,
                source_code=problem.code,
                gate=problem.gate.value,
                failure=problem.failure.value,
                detail=problem.detail,
                correlation_id=correlation_id,
            )
        self._last = ContextDetails(context, details[1], details[2], details[3], tuple(problems))
        return context

    @staticmethod
    def _answer(slot: SourceSlot, sample: Sample | None, extract: _Extract) -> tuple[Any, Any]:
        if sample is None:
            raise TimeoutError(f"no answer within {slot.timeout_s} s")
        if sample.error is not None:
            raise _SourceRaisedError(f"{type(sample.error).__name__}: {sample.error}")
        took = sample.answered_at - sample.asked_at
        if took > slot.timeout_s:
            raise TimeoutError(f"answered late after {took:.3f} s (timeout {slot.timeout_s} s)")
        try:
            return extract(sample.answer)
        except _OutOfDomainError:
            raise
        except Exception as exc:  # an answer that cannot even be inspected is out of domain
            raise _OutOfDomainError(f"unreadable answer: {exc!r}") from exc


class _SourceRaisedError(Exception):
    pass


def _failure_kind(exc: Exception) -> SourceFailure:
    if isinstance(exc, TimeoutError):
        return SourceFailure.TIMEOUT
    if isinstance(exc, _OutOfDomainError):
        return SourceFailure.OUT_OF_DOMAIN
    return SourceFailure.RAISED


__all__ = [
    "BudgetSource",
    "ContextDetails",
    "ContextProvider",
    "HealthSource",
    "KillSwitchSource",
    "PolicyContextBuilder",
    "RiskSource",
    "SourceFailure",
    "SourceProblem",
]
