"""The six failure scenarios against the real pipeline (exchange simulator, SSE server, SQLite).

Every scenario builds a fresh pipeline through ``bootstrap.build_container`` and passes; the
whole default suite fits the 60 s budget. Measured durations and reaction times are written
to ``scenario-durations.json`` in the test's tmp dir and printed (``pytest -s`` shows them).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tradeguard.simulator import (
    FailureScenarioSimulator,
    RunLimits,
    ScenarioResult,
    ScenarioType,
    SystemState,
)
from tradeguard.simulator.report import write_reports

FAST = RunLimits(baseline_s=0.15, hold_s=0.3, resume_s=0.25)


def _explain(result: ScenarioResult) -> str:
    return "; ".join(item.message for item in result.failures) or "no failure"


def _assert_passed(result: ScenarioResult) -> None:
    assert result.assertion_passed, _explain(result)
    assert result.trades_during_unsafe == 0
    assert result.expected_state == result.actual_state
    assert all(line["scenario_id"] == result.scenario_id for line in result.logs)
    assert {line["outcome"] for line in result.logs} == {"PASS"}


def test_run_all_passes_every_scenario_within_60_seconds(tmp_path: Path) -> None:
    started = time.monotonic()
    results = FailureScenarioSimulator().run_all()
    elapsed = time.monotonic() - started
    assert [r.scenario_type for r in results] == list(ScenarioType)
    for result in results:
        _assert_passed(result)
    assert elapsed <= 60
    downtime = results[0]
    assert downtime.reaction_time_ms is not None and downtime.reaction_time_ms <= 5000
    json_path, _ = write_reports(results, tmp_path / "all", datetime.now(UTC))
    assert json.loads(json_path.read_text())["summary"]["ok"]
    table = {
        r.scenario_type.value: {
            "duration_ms": round(r.duration_ms),
            "reaction_ms": r.reaction_time_ms and round(r.reaction_time_ms),
            "recovery_ms": r.recovery_time_ms and round(r.recovery_time_ms),
        }
        for r in results
    }
    (tmp_path / "scenario-durations.json").write_text(json.dumps(table, indent=1))
    print("\nscenario timings:", json.dumps(table), f"total {elapsed:.1f} s")


def test_a_storm_of_fewer_than_five_refusals_recovers_without_lockdown() -> None:
    result = FailureScenarioSimulator(limits=FAST).inject_sse_disconnect_storm(3)
    _assert_passed(result)
    assert result.actual_state == SystemState.ALLOW
    assert result.assertion("no_lockdown").passed


def test_a_drift_within_tolerance_stays_allow_then_allow_after_removal() -> None:
    result = FailureScenarioSimulator(limits=FAST).inject_exchange_clock_drift(-800)
    _assert_passed(result)
    assert result.assertion("stays_allow").passed
    assert result.notes["measured_drift_ms"] == pytest.approx(-800, abs=50)


@pytest.mark.parametrize("mode", ["truncated", "wrong_types", "negative"])
def test_every_budget_corruption_mode_halts_and_is_recorded(mode: str) -> None:
    result = FailureScenarioSimulator(limits=FAST).inject_budgetguard_corruption(mode)
    _assert_passed(result)
    assert result.assertion("budget_data_corrupt_in_audit_trail").passed
    assert result.assertion("latch_holds_after_repair").passed


def test_an_injection_that_cannot_be_made_aborts_with_fss_001() -> None:
    simulator = FailureScenarioSimulator(limits=FAST)
    for result in (
        simulator.inject_budgetguard_corruption("bitrot"),
        simulator.inject_partial_fill(100),
    ):
        assert result.outcome == "ABORTED"
        assert not result.assertion_passed
        aborted = result.assertion("injection")
        assert aborted.code == "FSS-001"
        assert {line["outcome"] for line in result.logs} == {"ABORTED"}
