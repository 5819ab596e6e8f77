"""``TradePermissionPolicy``: the pure gate walk plus the persistent HALT latch.

The gate walk (:func:`evaluate_gates`) is a pure function of the context. Because its inputs
are four small enums and a set of gate names, every possible answer is computed once at import
into a table indexed by ``PolicyContext.decision_key``; ``evaluate`` is then a table lookup plus
the latch, which keeps it well under a microsecond on the hot path.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import product
from typing import Final

from ..codes import ErrorCode, PolicyReasonCode
from ..errors import InvalidInputError
from .clock import SystemClock
from .context import _UUID_RE, DECISION_KEY_SPACE, PolicyContext, decision_key
from .decision import OperatorActionRecord, PolicyDecision
from .domain import (
    EVALUATION_PRECEDENCE,
    GATE_RANK,
    BudgetSignal,
    Decision,
    GateName,
    HealthStatus,
    RiskAssessment,
)
from .gates import GATES
from .latch import UNLATCHED, InMemoryLatchStore, LatchEvent, LatchPhase, LatchState, transition
from .ports import Clock, LatchStore

ALLOW_DECISION: Final = PolicyDecision(
    Decision.ALLOW, PolicyReasonCode.ALLOW_ALL_GATES_PASSED, None, None, False
)


def _halt(gate: GateName, reason: PolicyReasonCode, *, latched: bool) -> PolicyDecision:
    return PolicyDecision(Decision.HALT, reason, gate, GATE_RANK[gate], latched)


def evaluate_gates(
    kill_switch_active: bool,
    budget_signal: BudgetSignal,
    health_status: HealthStatus,
    risk_assessment: RiskAssessment,
    incomplete_sources: frozenset[GateName] = frozenset(),
) -> PolicyDecision:
    """Walk the gates in precedence order and return the fresh (unlatched) decision.

    A gate whose source failed answers HALT_CONTEXT_INCOMPLETE unless an earlier gate already
    HALTs on its own value. An earlier NEUTRAL does not stop the walk when a later source has
    failed: a failed source always ends in HALT (SPEC §2.1).
    """
    values = (kill_switch_active, budget_signal, health_status, risk_assessment)
    first_failure: PolicyDecision | None = None
    for (gate, check), value in zip(GATES, values, strict=True):
        if gate in incomplete_sources:
            return _halt(gate, PolicyReasonCode.HALT_CONTEXT_INCOMPLETE, latched=False)
        failure = check(value)
        if failure is None or first_failure is not None:
            continue
        decision, reason = failure
        first_failure = PolicyDecision(decision, reason, gate, GATE_RANK[gate], False)
        if decision is Decision.HALT or not incomplete_sources:
            return first_failure
    return first_failure if first_failure is not None else ALLOW_DECISION


def _build_tables() -> tuple[list[PolicyDecision], list[PolicyDecision]]:
    fresh: list[PolicyDecision] = [ALLOW_DECISION] * DECISION_KEY_SPACE
    latched: list[PolicyDecision] = [ALLOW_DECISION] * DECISION_KEY_SPACE
    gates = [GateName(name) for name in EVALUATION_PRECEDENCE]
    for kill, budget, health, risk, mask in product(
        (False, True), BudgetSignal, HealthStatus, RiskAssessment, range(16)
    ):
        incomplete = frozenset(g for i, g in enumerate(gates) if mask & (1 << i))
        decision = evaluate_gates(kill, budget, health, risk, incomplete)
        key = decision_key(kill, budget, health, risk, mask)
        fresh[key] = decision
        latched[key] = PolicyDecision(
            decision.decision,
            decision.reason_code,
            decision.blocking_gate,
            decision.precedence_rank,
            True,
        )
    return fresh, latched


_FRESH, _FRESH_LATCHED = _build_tables()
_HELD: Final = {g: _halt(g, PolicyReasonCode.HALT_LATCHED, latched=True) for g in GateName}
_UNREADABLE: Final = _halt(
    GateName.KILL_SWITCH, PolicyReasonCode.HALT_CONTEXT_INCOMPLETE, latched=True
)


class TradePermissionPolicy:
    """The deterministic gate: ALLOW, NEUTRAL or HALT from the context alone.

    ``evaluate`` has no parameter through which a model's confidence could enter; equal
    contexts under equal latch states give equal decisions. A HALT latches (through the
    ``LatchStore``) until an operator resets it or every gate has passed continuously for
    ``latch_reset_window_seconds``.
    """

    __slots__ = (
        "_clock",
        "_store",
        "_window",
        "_window_latch",
        "_window_started",
        "last_persistence_error",
    )

    def __init__(
        self,
        latch_reset_window_seconds: float = 300,
        *,
        clock: Clock | None = None,
        latch_store: LatchStore | None = None,
    ) -> None:
        if isinstance(latch_reset_window_seconds, bool) or not latch_reset_window_seconds >= 0:
            raise InvalidInputError(
                ErrorCode.CONFIG_INVALID,
                "latch_reset_window_seconds must be a number >= 0",
                field="latch_reset_window_seconds",
            )
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._store: LatchStore = latch_store if latch_store is not None else InMemoryLatchStore()
        self._window = float(latch_reset_window_seconds)
        # The re-validation window is a duration this process observes, on the monotonic
        # clock, for one latch (identified by when it was set). It is not persisted: a restart
        # restarts the window, which only ever keeps the latch longer.
        self._window_started: float | None = None
        self._window_latch: object = None
        self.last_persistence_error: Exception | None = None

    def evaluate(self, context: PolicyContext) -> PolicyDecision:
        """Return the decision for ``context``, applying and updating the HALT latch."""
        try:
            state = self._store.load()
        except Exception:  # an unreadable latch is a held latch
            fresh = _FRESH_LATCHED[context.decision_key]
            return fresh if fresh.decision is Decision.HALT else _UNREADABLE
        fresh = _FRESH[context.decision_key]
        if state.phase is LatchPhase.UNLATCHED:
            if fresh.decision is not Decision.HALT:
                return fresh
            return self._latch(state, fresh, context.decision_key)
        return self._while_latched(state, fresh, context.decision_key)

    def is_latched(self) -> bool:
        """Return True while the latch holds (or cannot be read)."""
        try:
            return self._store.load().is_latched
        except Exception:
            return True

    def latch_state(self) -> LatchState:
        """Return the stored latch state (raises when the store cannot be read)."""
        return self._store.load()

    def reset_policy_latch(
        self,
        correlation_id: str,
        operator_id: str,
        reason: str,
        *,
        record_action: Callable[[OperatorActionRecord], object] | None = None,
    ) -> OperatorActionRecord:
        """Clear the latch by an operator's decision and return the audit record of it.

        When ``record_action`` is given it receives the record before the latch is cleared;
        if it raises, the latch stays held (the reset is audited first or not at all). A
        reset while a gate still fails does not allow trading: the next evaluation latches
        again.
        """
        if not isinstance(correlation_id, str) or not _UUID_RE.fullmatch(correlation_id):
            raise InvalidInputError(
                ErrorCode.INPUT_INVALID_VALUE,
                "correlation_id must be a UUID string",
                field="correlation_id",
            )
        previous = self._store.load()
        record = OperatorActionRecord(
            action=ErrorCode.LATCH_RESET,
            correlation_id=correlation_id,
            operator_id=operator_id,
            reason=reason,
            timestamp_utc=self._clock.now(),
            details={"previous": previous.to_dict()},
        )
        if record_action is not None:
            record_action(record)
        self._window_started = None
        self._store.save(
            LatchState(phase=transition(previous.phase, LatchEvent.RESET))
            if previous.is_latched
            else UNLATCHED
        )
        return record

    # -- latch transitions (slow path: only while latched or latching) --------------------

    def _save(self, state: LatchState) -> bool:
        try:
            self._store.save(state)
        except Exception as exc:  # the caller logs it; the decision stays fail-closed
            self.last_persistence_error = exc
            return False
        return True

    def _latch(self, state: LatchState, fresh: PolicyDecision, key: int) -> PolicyDecision:
        self._window_started = None
        self._save(
            LatchState(
                phase=transition(state.phase, LatchEvent.HALT),
                gate=fresh.blocking_gate,
                reason_code=fresh.reason_code,
                latched_at=self._clock.now(),
            )
        )
        return _FRESH_LATCHED[key]

    def _while_latched(self, state: LatchState, fresh: PolicyDecision, key: int) -> PolicyDecision:
        if fresh.decision is not Decision.ALLOW:
            self._window_started = None  # any failing evaluation restarts the window
            if fresh.decision is Decision.HALT:
                return _FRESH_LATCHED[key]
            return _HELD[state.gate if state.gate is not None else GateName.KILL_SWITCH]
        gate = state.gate if state.gate is not None else GateName.KILL_SWITCH
        now = self._clock.monotonic()
        started = self._window_started
        if started is None or self._window_latch != state.latched_at:
            # First all-pass evaluation after the last failure (of this latch): start here.
            self._window_started, self._window_latch = now, state.latched_at
            started = now
        if now - started < self._window:
            return _HELD[gate]
        phase = transition(transition(state.phase, LatchEvent.PASS), LatchEvent.WINDOW_ELAPSED)
        if phase is LatchPhase.UNLATCHED and self._save(UNLATCHED):
            self._window_started = None
            return fresh
        return _HELD[gate]
