"""JSON and Markdown reports of a scenario run."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from ..policy import format_utc
from .results import ScenarioResult

DEFAULT_REPORT_DIR = Path("scenario-reports")


def default_report_base(now: datetime, directory: Path = DEFAULT_REPORT_DIR) -> Path:
    """Return ``scenario-reports/scenarios-YYYYMMDDTHHMMSSZ`` (without a suffix)."""
    return directory / f"scenarios-{now.strftime('%Y%m%dT%H%M%SZ')}"


def report_paths(base: Path) -> tuple[Path, Path]:
    """Return the JSON and Markdown paths of ``base`` (a ``.json``/``.md`` suffix is dropped)."""
    stem = base.with_suffix("") if base.suffix in (".json", ".md") else base
    return stem.with_name(stem.name + ".json"), stem.with_name(stem.name + ".md")


def summary(results: Sequence[ScenarioResult]) -> dict[str, Any]:
    """Return totals: scenarios, passed, failed, aborted, total duration."""
    outcomes = [result.outcome for result in results]
    return {
        "scenarios": len(results),
        "passed": outcomes.count("PASS"),
        "failed": outcomes.count("FAIL"),
        "aborted": outcomes.count("ABORTED"),
        "total_duration_ms": round(sum(result.duration_ms for result in results), 1),
        "ok": all(outcome == "PASS" for outcome in outcomes),
    }


def to_json(results: Sequence[ScenarioResult], generated_at: datetime) -> dict[str, Any]:
    """Return the JSON report document."""
    return {
        "generated_at": format_utc(generated_at),
        "summary": summary(results),
        "results": [result.to_dict() for result in results],
    }


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(results: Sequence[ScenarioResult], generated_at: datetime) -> str:
    """Return the Markdown report: a results table, then every failed expectation."""
    totals = summary(results)
    lines = [
        "# tradeguard failure scenario report",
        "",
        f"Generated {format_utc(generated_at)}: {totals['passed']}/{totals['scenarios']} passed, "
        f"{totals['failed']} failed, {totals['aborted']} aborted, "
        f"{totals['total_duration_ms'] / 1000:.1f} s in total.",
        "",
        "| scenario | parameters | expected | actual | outcome | unsafe trades "
        "| reaction ms | recovery ms | duration ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        params = ", ".join(f"{key}={value}" for key, value in result.parameters.items())
        lines.append(
            f"| {result.scenario_type.value} | {_cell(params)} | {result.expected_state} "
            f"| {result.actual_state} | {result.outcome} | {result.trades_during_unsafe} "
            f"| {_ms(result.reaction_time_ms)} | {_ms(result.recovery_time_ms)} "
            f"| {result.duration_ms:.0f} |"
        )
    lines += ["", "## Assertions", ""]
    for result in results:
        lines.append(f"### {result.scenario_type.value} ({result.scenario_id})")
        lines.append("")
        for item in result.assertions:
            mark = "PASS" if item.passed else (item.code or "FAIL")
            lines.append(f"- **{mark}** `{item.name}`: {_cell(item.message)}")
        lines.append("")
    return "\n".join(lines)


def write_reports(
    results: Sequence[ScenarioResult], base: Path, generated_at: datetime
) -> tuple[Path, Path]:
    """Write ``base.json`` and ``base.md`` (creating the directory); return both paths."""
    json_path, markdown_path = report_paths(base)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(
        json.dumps(to_json(results, generated_at), indent=2, sort_keys=True, default=str) + "\n",
        encoding="utf-8",
    )
    markdown_path.write_text(to_markdown(results, generated_at) + "\n", encoding="utf-8")
    return json_path, markdown_path


__all__ = [
    "DEFAULT_REPORT_DIR",
    "default_report_base",
    "report_paths",
    "summary",
    "to_json",
    "to_markdown",
    "write_reports",
]
