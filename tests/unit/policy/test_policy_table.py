"""The gate walk against an oracle written straight from SPEC §2.1, over every combination."""

from __future__ import annotations

from itertools import product

import pytest

from tradeguard.clock import FakeClock
from tradeguard.policy import (
    EVALUATION_PRECEDENCE,
    BudgetSignal,
    Decision,
    GateName,
    HealthStatus,
    PolicyReasonCode,
    RiskAssessment,
    TradePermissionPolicy,
)

from ...policy_factories import context

R = PolicyReasonCode


def spec_oracle(kill, budget, health, risk, incomplete):
    """SPEC §2.1 as a reader would write it: (decision, reason, gate, rank)."""
    own = []
    if kill:
        own.append(("KILL_SWITCH", "HALT", R.HALT_KILL_SWITCH))
    if budget != "ALLOW":
        reason = {
            "HARD_STOP": R.HALT_BUDGET_HARD_STOP,
            "RDS_EXCEEDED": R.HALT_BUDGET_RDS_EXCEEDED,
            "STALE_DATA": R.HALT_BUDGET_STALE_DATA,
        }[budget]
        own.append(("BUDGET", "HALT", reason))
    if health != "GREEN":
        reason = R.NEUTRAL_HEALTH_YELLOW if health == "YELLOW" else R.NEUTRAL_HEALTH_RED
        own.append(("HEALTH", "NEUTRAL", reason))
    if risk == "CRITICAL":
        own.append(("RISK", "HALT", R.HALT_RISK_CRITICAL))
    failing = {gate: (decision, reason) for gate, decision, reason in own}
    if incomplete:
        for rank, gate in enumerate(EVALUATION_PRECEDENCE, start=1):
            if gate in incomplete:
                return ("HALT", R.HALT_CONTEXT_INCOMPLETE, gate, rank)
            if gate in failing and failing[gate][0] == "HALT":
                return ("HALT", failing[gate][1], gate, rank)
    for rank, gate in enumerate(EVALUATION_PRECEDENCE, start=1):
        if gate in failing:
            return (failing[gate][0], failing[gate][1], gate, rank)
    return ("ALLOW", R.ALLOW_ALL_GATES_PASSED, None, None)


ALL_INCOMPLETE = [
    tuple(g for i, g in enumerate(EVALUATION_PRECEDENCE) if mask & (1 << i)) for mask in range(16)
]


@pytest.mark.parametrize("incomplete", ALL_INCOMPLETE, ids=lambda t: "+".join(t) or "complete")
def test_every_combination_of_domain_values_matches_the_spec_table(incomplete):
    for kill, budget, health, risk in product(
        (False, True), BudgetSignal, HealthStatus, RiskAssessment
    ):
        policy = TradePermissionPolicy(clock=FakeClock())
        got = policy.evaluate(context(kill, budget, health, risk, incomplete))
        decision, reason, gate, rank = spec_oracle(kill, budget, health, risk, incomplete)
        assert (got.decision, got.reason_code, got.blocking_gate, got.precedence_rank) == (
            decision,
            reason,
            gate,
            rank,
        ), (kill, budget, health, risk, incomplete)
        assert got.is_latched == (decision == "HALT")


@pytest.mark.parametrize("incomplete", ALL_INCOMPLETE[1:], ids=lambda t: "+".join(t))
def test_incomplete_context_is_always_halt_never_neutral_or_allow(incomplete):
    for kill, budget, health, risk in product(
        (False, True), BudgetSignal, HealthStatus, RiskAssessment
    ):
        got = TradePermissionPolicy().evaluate(context(kill, budget, health, risk, incomplete))
        assert got.decision is Decision.HALT


def test_incomplete_gate_reports_its_own_gate_and_rank_with_context_incomplete():
    got = TradePermissionPolicy().evaluate(context(incomplete=["HEALTH"]))
    assert got.reason_code is R.HALT_CONTEXT_INCOMPLETE
    assert got.blocking_gate is GateName.HEALTH
    assert got.precedence_rank == 3


def test_earlier_gate_failing_on_its_own_value_reports_its_own_reason_over_incomplete():
    got = TradePermissionPolicy().evaluate(
        context(budget="STALE_DATA", incomplete=["RISK", "HEALTH"])
    )
    assert (got.reason_code, got.blocking_gate) == (R.HALT_BUDGET_STALE_DATA, GateName.BUDGET)


def test_neutral_before_failed_source_still_ends_in_halt():
    got = TradePermissionPolicy().evaluate(context(health="YELLOW", incomplete=["RISK"]))
    assert (got.decision, got.reason_code, got.blocking_gate) == (
        Decision.HALT,
        R.HALT_CONTEXT_INCOMPLETE,
        GateName.RISK,
    )


def test_decision_is_a_string_enum():
    assert Decision.ALLOW == "ALLOW"
    assert TradePermissionPolicy().evaluate(context()).decision == "ALLOW"


def test_warning_risk_passes():
    assert TradePermissionPolicy().evaluate(context(risk="WARNING")).decision == "ALLOW"
