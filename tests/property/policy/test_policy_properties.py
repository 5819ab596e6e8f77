"""Hypothesis properties of the policy core, named after the plan's properties."""

from __future__ import annotations

import inspect

from hypothesis import given, settings
from hypothesis import strategies as st

from tradeguard.clock import FakeClock
from tradeguard.policy import (
    Decision,
    GateName,
    HealthStatus,
    InMemoryLatchStore,
    PolicyReasonCode,
    RiskAssessment,
    TradePermissionPolicy,
)

from ...policy_factories import contexts

EXAMPLES = settings(max_examples=300, deadline=None)


def fresh_policy() -> TradePermissionPolicy:
    return TradePermissionPolicy(clock=FakeClock(), latch_store=InMemoryLatchStore())


@EXAMPLES
@given(contexts())
def test_property_1_output_domain(ctx):
    got = fresh_policy().evaluate(ctx)
    assert got.decision in set(Decision)
    assert got.reason_code in set(PolicyReasonCode)
    assert isinstance(got.is_latched, bool)


@EXAMPLES
@given(contexts())
def test_property_2_kill_switch_supremacy(ctx):
    got = fresh_policy().evaluate(ctx)
    if ctx.kill_switch_active:
        assert got.decision is Decision.HALT
        assert got.blocking_gate is GateName.KILL_SWITCH and got.precedence_rank == 1


@EXAMPLES
@given(contexts())
def test_property_3_budget_gate_enforcement(ctx):
    got = fresh_policy().evaluate(ctx)
    if ctx.budget_signal != "ALLOW":
        assert got.decision is Decision.HALT
        if not ctx.kill_switch_active and "KILL_SWITCH" not in ctx.incomplete_sources:
            assert got.blocking_gate is GateName.BUDGET


@EXAMPLES
@given(contexts())
def test_property_4_health_status_gating(ctx):
    got = fresh_policy().evaluate(ctx)
    if ctx.health_status is not HealthStatus.GREEN:
        assert got.decision is not Decision.ALLOW
        if got.decision is Decision.NEUTRAL:
            assert got.blocking_gate is GateName.HEALTH
            assert got.reason_code.name == f"NEUTRAL_HEALTH_{ctx.health_status.value}"


@EXAMPLES
@given(contexts())
def test_property_5_risk_assessment_gating(ctx):
    got = fresh_policy().evaluate(ctx)
    if ctx.risk_assessment is RiskAssessment.CRITICAL:
        assert got.decision is not Decision.ALLOW
        # Precedence: a failing HEALTH gate (rank 3) answers first, with NEUTRAL.
        if ctx.health_status is HealthStatus.GREEN:
            assert got.decision is Decision.HALT


@EXAMPLES
@given(contexts(), st.decimals(min_value=0, max_value=100, places=2))
def test_property_6_ai_confidence_isolation(ctx, confidence):
    assert list(inspect.signature(TradePermissionPolicy.evaluate).parameters) == [
        "self",
        "context",
    ]
    first = fresh_policy().evaluate(ctx)
    again = fresh_policy().evaluate(type(ctx)(*[getattr(ctx, f) for f in ctx.to_dict()]))
    assert first == again
    # There is no field through which a confidence could enter the context.
    assert "confidence" not in " ".join(ctx.to_dict())


@EXAMPLES
@given(contexts())
def test_property_8_blocking_gate_identification(ctx):
    got = fresh_policy().evaluate(ctx)
    if got.decision is Decision.ALLOW:
        assert got.blocking_gate is None and got.precedence_rank is None
    else:
        assert got.blocking_gate is not None
        assert 1 <= got.precedence_rank <= 4
        assert got.precedence_rank == list(GateName).index(got.blocking_gate) + 1


@EXAMPLES
@given(contexts(with_incomplete=False).filter(lambda c: bool(c.incomplete_sources) is False))
def test_evaluation_without_failures_or_latch_is_deterministic(ctx):
    assert fresh_policy().evaluate(ctx) == fresh_policy().evaluate(ctx)
