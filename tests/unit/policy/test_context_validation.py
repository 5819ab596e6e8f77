"""PolicyContext refuses anything outside its domains, naming the field and its code."""

from __future__ import annotations

import pytest

from tradeguard.codes import ErrorCode
from tradeguard.errors import InvalidInputError
from tradeguard.policy import BudgetSignal, GateName, PolicyContext

from ...policy_factories import STAMP, new_id

GOOD = dict(
    kill_switch_active=False,
    budget_signal="ALLOW",
    health_status="GREEN",
    risk_assessment="HEALTHY",
    correlation_id="123e4567-e89b-12d3-a456-426614174000",
    timestamp_utc=STAMP,
)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("kill_switch_active", 0),
        ("kill_switch_active", "false"),
        ("kill_switch_active", None),
        ("budget_signal", "allow"),
        ("budget_signal", "OK"),
        ("budget_signal", 1),
        ("health_status", "ORANGE"),
        ("health_status", None),
        ("risk_assessment", "LOW"),
        ("correlation_id", "not-a-uuid"),
        ("correlation_id", "123e4567e89b12d3a456426614174000"),
        ("correlation_id", 5),
        ("timestamp_utc", "2026-03-01T12:00:00+00:00"),
        ("timestamp_utc", "2026-03-01T12:00:00"),
        ("timestamp_utc", "2026-13-01T12:00:00Z"),
        ("timestamp_utc", "2026-03-01 12:00:00Z"),
        ("timestamp_utc", "yesterday"),
        ("timestamp_utc", None),
        ("incomplete_sources", ("KILL",)),
        ("incomplete_sources", ("RISK", "RISK")),
        ("incomplete_sources", "RISK"),
    ],
)
def test_out_of_domain_value_is_refused_naming_the_field(field, value):
    with pytest.raises(InvalidInputError) as caught:
        PolicyContext(**{**GOOD, field: value})
    assert caught.value.field == field
    assert caught.value.code == ErrorCode.INPUT_INVALID_VALUE


def test_strings_become_enum_members_and_sources_are_ordered_by_precedence():
    ctx = PolicyContext(**{**GOOD, "incomplete_sources": ["RISK", "KILL_SWITCH"]})
    assert ctx.budget_signal is BudgetSignal.ALLOW
    assert ctx.incomplete_sources == (GateName.KILL_SWITCH, GateName.RISK)


def test_context_is_frozen():
    ctx = PolicyContext(**GOOD)
    with pytest.raises(AttributeError):
        ctx.kill_switch_active = True  # type: ignore[misc]


def test_from_mapping_refuses_unknown_and_missing_fields():
    with pytest.raises(InvalidInputError) as unknown:
        PolicyContext.from_mapping({**GOOD, "ai_confidence": 100})
    assert unknown.value.field == "ai_confidence"
    missing = dict(GOOD)
    del missing["risk_assessment"]
    with pytest.raises(InvalidInputError) as absent:
        PolicyContext.from_mapping(missing)
    assert absent.value.field == "risk_assessment"


def test_to_dict_round_trips():
    ctx = PolicyContext(**{**GOOD, "correlation_id": new_id(), "incomplete_sources": ("BUDGET",)})
    assert PolicyContext.from_mapping(ctx.to_dict()) == ctx


def test_equal_contexts_compare_equal_and_microsecond_timestamps_are_accepted():
    a = PolicyContext(**{**GOOD, "timestamp_utc": "2026-03-01T12:00:00.5Z"})
    b = PolicyContext(**{**GOOD, "timestamp_utc": "2026-03-01T12:00:00.5Z"})
    assert a == b
