"""Codes are documented, unique and stable in shape; the public API is complete and sorted."""

from __future__ import annotations

import tradeguard
from tradeguard import policy
from tradeguard.codes import ALL_CODES, CODE_INFO, ErrorCode, PolicyReasonCode

SPEC_REASON_CODES = {
    "ALLOW_ALL_GATES_PASSED",
    "HALT_KILL_SWITCH",
    "HALT_BUDGET_HARD_STOP",
    "HALT_BUDGET_RDS_EXCEEDED",
    "HALT_BUDGET_STALE_DATA",
    "HALT_RISK_CRITICAL",
    "NEUTRAL_HEALTH_YELLOW",
    "NEUTRAL_HEALTH_RED",
    "HALT_LATCHED",
    "HALT_CONTEXT_INCOMPLETE",
}


def test_reason_codes_are_exactly_the_spec_ones():
    assert {c.value for c in PolicyReasonCode} == SPEC_REASON_CODES


def test_every_code_has_a_meaning_and_an_action():
    missing = [code for code in ALL_CODES if code not in CODE_INFO]
    assert not missing
    for code in ALL_CODES:
        assert CODE_INFO[code].meaning and CODE_INFO[code].action


def test_codes_are_unique_and_documentation_has_no_orphans():
    assert len(ALL_CODES) == len(set(ALL_CODES))
    assert set(CODE_INFO) == set(ALL_CODES)


def test_spec_error_codes_exist():
    values = {c.value for c in ErrorCode}
    for code in (
        "TPP-001",
        "TPP-005",
        "AUD-001",
        "AUD-002",
        "AUD-003",
        "FSS-001",
        "FSS-002",
        "BUDGET_DATA_CORRUPT",
        "SSE_RECONNECT_EXHAUSTED",
        "PARTIAL_FILL_DISCREPANCY",
        "AI_CONFIDENCE_OVERRIDE_BLOCKED",
        "POLICY_LAYER_DISABLED",
        "ORDER_WOULD_INCREASE_RISK",
        "EXCHANGE_TIME_DRIFT",
        "EXCHANGE_TIME_UNAVAILABLE",
    ):
        assert code in values


def test_package_root_exports_the_public_api_sorted():
    for name in (
        "TradePermissionPolicy",
        "PolicyContext",
        "PolicyDecision",
        "PolicyDecisionRecord",
        "PolicyReasonCode",
        "Decision",
        "EVALUATION_PRECEDENCE",
        "open_audit_store",
    ):
        assert name in tradeguard.__all__ and hasattr(tradeguard, name)
    for module in (tradeguard, policy):
        # Sorted the way ruff's RUF022 sorts (constants, classes, functions); ruff checks order.
        assert len(set(module.__all__)) == len(module.__all__)
        for name in module.__all__:
            assert hasattr(module, name), name


def test_precedence_constant():
    assert tradeguard.EVALUATION_PRECEDENCE == ("KILL_SWITCH", "BUDGET", "HEALTH", "RISK")


def test_default_policy_uses_the_system_clock():
    from tradeguard.policy.clock import SystemClock

    p = tradeguard.TradePermissionPolicy(latch_reset_window_seconds=300)
    assert isinstance(p._clock, SystemClock)
