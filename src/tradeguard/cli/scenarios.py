"""``tradeguard scenarios run [NAME ...] [--all] [--report FILE]``: the failure scenarios.

Runs the named scenarios (case-insensitive; every scenario with ``--all``) with their default
parameters against fresh in-process pipelines, shows progress and a results table, and writes
``FILE.json`` and ``FILE.md`` (default ``./scenario-reports/scenarios-<UTC time>``). Exit 0
when every scenario passed, 1 when any failed or aborted, 2 for an unknown scenario name.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..codes import ErrorCode
from ..errors import InvalidInputError
from ..simulator import FailureScenarioSimulator, ScenarioResult, ScenarioType
from ..simulator.report import default_report_base, summary, write_reports
from .common import EXIT_CHECK_FAILED, handled

MIN_WIDTH = 132

scenarios_app = typer.Typer(
    name="scenarios", help="Failure scenario simulator (SPEC §8).", no_args_is_help=True
)


def _selected(names: list[str], run_all: bool) -> list[ScenarioType]:
    if run_all:
        return list(ScenarioType)
    if not names:
        raise InvalidInputError(
            ErrorCode.INPUT_INVALID_VALUE,
            "name at least one scenario or pass --all",
            field="NAME",
            hint="known: " + ", ".join(member.value for member in ScenarioType),
        )
    chosen: list[ScenarioType] = []
    for name in names:
        try:
            kind = ScenarioType.parse(name)
        except ValueError as exc:
            raise InvalidInputError(ErrorCode.INPUT_INVALID_VALUE, str(exc), field="NAME") from exc
        if kind not in chosen:
            chosen.append(kind)
    return chosen


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}"


def results_table(results: list[ScenarioResult]) -> Table:
    """Return the Rich table of ``results``."""
    table = Table(title="Failure scenarios")
    for column in ("scenario", "expected", "actual", "outcome", "unsafe trades"):
        table.add_column(column)
    for column in ("reaction ms", "recovery ms", "duration ms"):
        table.add_column(column, justify="right")
    for result in results:
        colour = "green" if result.outcome == "PASS" else "red"
        table.add_row(
            result.scenario_type.value,
            result.expected_state,
            result.actual_state,
            f"[{colour}]{result.outcome}[/{colour}]",
            str(result.trades_during_unsafe),
            _ms(result.reaction_time_ms),
            _ms(result.recovery_time_ms),
            f"{result.duration_ms:.0f}",
        )
    return table


@scenarios_app.command("run")
@handled
def run(
    names: Annotated[
        list[str] | None, typer.Argument(metavar="[NAME ...]", help="Scenario names.")
    ] = None,
    run_all: Annotated[bool, typer.Option("--all", help="Run every scenario.")] = False,
    report: Annotated[
        Path | None,
        typer.Option("--report", help="Report base path: writes FILE.json and FILE.md."),
    ] = None,
) -> None:
    """Run failure scenarios against the real pipeline and report the results."""
    chosen = _selected(list(names or []), run_all)
    console = Console()
    if console.width < MIN_WIDTH:  # not a terminal (or a narrow one): keep the table whole
        console = Console(width=MIN_WIDTH)
    simulator = FailureScenarioSimulator()
    results: list[ScenarioResult] = []
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        overall = progress.add_task("scenarios", total=len(chosen))
        for kind in chosen:
            progress.update(overall, description=f"running {kind.value}")
            results.append(simulator.run(kind))
            progress.advance(overall)
    console.print(results_table(results))
    for result in results:
        for failure in result.failures:
            console.print(f"[red]{result.scenario_type.value}[/red] {failure.message}")
    now = datetime.now(UTC)
    json_path, markdown_path = write_reports(results, report or default_report_base(now), now)
    totals = summary(results)
    console.print(
        f"{totals['passed']}/{totals['scenarios']} passed in "
        f"{totals['total_duration_ms'] / 1000:.1f} s; reports: {json_path} {markdown_path}"
    )
    if not totals["ok"]:
        raise typer.Exit(EXIT_CHECK_FAILED)


def register(app: typer.Typer) -> None:
    """Add the ``scenarios`` group to ``app``."""
    app.add_typer(scenarios_app, name="scenarios")
