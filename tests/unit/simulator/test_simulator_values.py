"""Scenario values, reports, log capture and the pipeline's safety guards."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
import structlog

from tradeguard.simulator import assertions as rules
from tradeguard.simulator.logcapture import RUNNING, ScenarioLogCapture
from tradeguard.simulator.pipeline import (
    CORRUPTION_MODES,
    ScenarioSettings,
    corrupt_budget_report,
    require_loopback,
    valid_budget_report,
)
from tradeguard.simulator.report import report_paths, summary, write_reports
from tradeguard.simulator.results import (
    ScenarioAbortedError,
    ScenarioResult,
    ScenarioType,
)
from tradeguard.sources.budget import BudgetReportCorruptError, parse_report

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _result(passed: bool = True, *, aborted: bool = False) -> ScenarioResult:
    checks = [
        rules.check("expected_state", passed, "NEUTRAL", "NEUTRAL" if passed else "ALLOW", "x")
    ]
    if aborted:
        checks.append(rules.aborted("injection", "FSS-001: cannot"))
    return ScenarioResult(
        scenario_id="exchange_downtime-1",
        scenario_type=ScenarioType.EXCHANGE_DOWNTIME,
        expected_state="NEUTRAL",
        actual_state="NEUTRAL" if passed else "ALLOW",
        assertion_passed=passed and not aborted,
        trades_during_unsafe=0,
        logs=({"event": "x", "scenario_id": "exchange_downtime-1", "outcome": "PASS"},),
        duration_ms=1234.5,
        assertions=tuple(checks),
        reaction_time_ms=87.0,
        recovery_time_ms=None,
        parameters={"duration_s": 1.0},
    )


@pytest.mark.parametrize("name", ["exchange_downtime", "Partial_Fill", " SSE_DISCONNECT_STORM "])
def test_scenario_names_parse_case_insensitively(name: str) -> None:
    assert ScenarioType.parse(name).value == name.strip().upper()


def test_unknown_scenario_name_is_refused_with_the_known_names() -> None:
    with pytest.raises(ValueError, match="EXCHANGE_CLOCK_DRIFT"):
        ScenarioType.parse("meteor_strike")


def test_result_outcome_is_pass_fail_or_aborted() -> None:
    assert _result(True).outcome == "PASS"
    assert _result(False).outcome == "FAIL"
    assert _result(True, aborted=True).outcome == "ABORTED"
    assert _result(False).failures[0].code == "FSS-002"


def test_aborted_assertion_carries_fss_001() -> None:
    item = rules.aborted("injection", "cannot set faults")
    assert (item.passed, item.code) == (False, "FSS-001")
    assert ScenarioAbortedError("x").code == "FSS-001"


def test_reports_write_json_and_markdown_with_every_scenario(tmp_path: Path) -> None:
    results = [_result(True), _result(False)]
    json_path, md_path = write_reports(results, tmp_path / "out" / "run.json", NOW)
    assert (json_path.name, md_path.name) == ("run.json", "run.md")
    data = json.loads(json_path.read_text())
    assert data["summary"] == summary(results)
    assert data["summary"]["failed"] == 1 and not data["summary"]["ok"]
    assert data["results"][1]["assertions"][0]["code"] == "FSS-002"
    markdown = md_path.read_text()
    assert "| EXCHANGE_DOWNTIME | duration_s=1.0 | NEUTRAL | ALLOW | FAIL |" in markdown
    assert "FSS-002" in markdown


def test_report_paths_add_both_suffixes() -> None:
    assert report_paths(Path("a/b")) == (Path("a/b.json"), Path("a/b.md"))
    assert report_paths(Path("a/b.md")) == (Path("a/b.json"), Path("a/b.md"))


def test_log_capture_stamps_scenario_id_on_lines_from_any_thread_and_outcome_at_the_end() -> None:
    before = structlog.get_config()["processors"]
    with ScenarioLogCapture("scn-1") as capture:
        structlog.get_logger("t").info("main_thread_event", code="X")
        worker = threading.Thread(target=lambda: structlog.get_logger("t").warning("in_thread"))
        worker.start()
        worker.join()
        assert {line["outcome"] for line in capture.lines()} == {RUNNING}
        lines = capture.finish("PASS")
    assert [line["event"] for line in lines] == ["main_thread_event", "in_thread"]
    assert all(line["scenario_id"] == "scn-1" and line["outcome"] == "PASS" for line in lines)
    assert structlog.get_config()["processors"] == before


@pytest.mark.parametrize(
    "url",
    [
        "https://api.valr.com",
        "http://10.0.0.5:8080",
        "http://example.org",
        "ftp://127.0.0.1/x",
        "not a url",
    ],
)
def test_pipeline_refuses_every_non_loopback_url_with_fss_001(url: str) -> None:
    with pytest.raises(ScenarioAbortedError) as caught:
        require_loopback(url, "exchange base URL")
    assert caught.value.code == "FSS-001"


@pytest.mark.parametrize("url", ["http://127.0.0.1:5000", "http://localhost:1", "http://[::1]:9"])
def test_pipeline_accepts_loopback_urls(url: str) -> None:
    require_loopback(url, "exchange base URL")


@pytest.mark.parametrize("mode", CORRUPTION_MODES)
def test_every_corruption_mode_is_refused_by_the_real_budget_parser(mode: str) -> None:
    with pytest.raises(BudgetReportCorruptError):
        parse_report(corrupt_budget_report(mode, NOW))


def test_the_healthy_budget_report_parses() -> None:
    report = parse_report(json.dumps(valid_budget_report(NOW)).encode())
    assert report.generated_at < NOW


def test_unknown_corruption_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="garbage"):
        corrupt_budget_report("bitrot", NOW)


def test_scenario_settings_ignore_the_calling_shells_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRADEGUARD_EXCHANGE_BASE_URL", "https://api.valr.com")
    monkeypatch.setenv("TRADEGUARD_MAX_CLOCK_DRIFT_MS", "5")
    settings = ScenarioSettings(database_url="sqlite:///x.db")
    assert settings.exchange_base_url is None
    assert settings.max_clock_drift_ms == 1000
