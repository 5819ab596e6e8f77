"""``tradeguard evaluate``: JSON in, decision out; bad input exits 2 naming field and code."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tradeguard.cli.app import app

runner = CliRunner()
GOOD = {
    "kill_switch_active": False,
    "budget_signal": "ALLOW",
    "health_status": "GREEN",
    "risk_assessment": "CRITICAL",
    "correlation_id": "123e4567-e89b-12d3-a456-426614174000",
    "timestamp_utc": "2026-03-01T12:00:00Z",
}


def test_evaluate_prints_the_decision_as_json():
    result = runner.invoke(app, ["evaluate", json.dumps(GOOD)])
    assert result.exit_code == 0
    out = json.loads(result.stdout)
    assert out["decision"] == "HALT"
    assert out["reason_code"] == "HALT_RISK_CRITICAL"
    assert (out["blocking_gate"], out["precedence_rank"]) == ("RISK", 4)


def test_evaluate_reads_stdin_when_no_argument():
    result = runner.invoke(
        app, ["evaluate"], input=json.dumps({**GOOD, "risk_assessment": "HEALTHY"})
    )
    assert result.exit_code == 0
    assert json.loads(result.stdout)["decision"] == "ALLOW"


@pytest.mark.parametrize(
    ("text", "code", "field"),
    [
        ("{not json", "INPUT_INVALID_JSON", "context"),
        (json.dumps({**GOOD, "health_status": "PURPLE"}), "INPUT_INVALID_VALUE", "health_status"),
        (
            json.dumps({**GOOD, "kill_switch_active": "no"}),
            "INPUT_INVALID_VALUE",
            "kill_switch_active",
        ),
        (json.dumps([1, 2]), "INPUT_INVALID_VALUE", "context"),
        (json.dumps({**GOOD, "extra": 1}), "INPUT_INVALID_VALUE", "extra"),
    ],
)
def test_bad_input_exits_2_naming_field_and_code(text, code, field):
    result = runner.invoke(app, ["evaluate", text])
    assert result.exit_code == 2
    err = json.loads(result.stderr.strip().splitlines()[-1])
    assert err["error"] == code and err["field"] == field
    assert result.stdout == ""
