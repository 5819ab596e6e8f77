"""``tradeguard preflight [--json]``: prove the account before LIVE trading.

Exit codes: 0 every check passed, 1 a check failed, 2 configuration, 3 the exchange or the
database did not answer. ``tradeguard run`` runs the same checks in LIVE before it accepts a
signal (see :func:`preflight_refusal`).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from ..codes import ErrorCode
from ..errors import AuditUnavailableError, DependencyUnavailableError, TradeGuardError
from ..ids import new_correlation_id
from ..preflight import (
    PreflightProbe,
    PreflightReport,
    PreflightResult,
    PreflightStatus,
    default_checks,
    run_preflight,
)
from ..settings import load_settings
from .common import EXIT_UNAVAILABLE, handled, print_json

if TYPE_CHECKING:
    from ..bootstrap import Container


def container_preflight(container: Container) -> PreflightReport:
    """Run the default checks against ``container``'s adapter, database and clock sync."""
    settings = container.settings
    probe = PreflightProbe(
        container.exchange.inner,
        ping=container.audit_store.ping,
        sync_time=lambda: container.time_sync.sync_time(new_correlation_id()),
        symbols=settings.symbols,
    )
    return run_preflight(default_checks(settings.symbols), probe)


def _render(report: PreflightReport) -> None:
    for result in report.results:
        line = f"{result.status.value:<12} {result.name:<24} {result.code}"
        if result.detail:
            line += f"  {result.detail}"
        sys.stdout.write(line + "\n")
        if result.action and result.status is not PreflightStatus.PASS:
            sys.stdout.write(f"{'':<12} what to do: {result.action}\n")
    sys.stdout.write(("preflight OK" if report.ok else "preflight FAILED") + "\n")


def preflight_refusal(report: PreflightReport) -> TradeGuardError | None:
    """Return the error that refuses a LIVE start for ``report``, or None when it passed.

    The error carries the first failing check's code and what to do; its exit code is 1 (a
    check failed) or 3 (the exchange or the database did not answer).
    """
    if report.ok:
        return None
    problem = report.first_problem or PreflightResult(
        "preflight", PreflightStatus.FAIL, ErrorCode.PREFLIGHT_FAILED
    )
    message = (
        f"{ErrorCode.PREFLIGHT_FAILED}: check {problem.name} did not pass "
        f"({problem.status}): {problem.detail}"
    )
    hint = problem.action or "run `tradeguard preflight` and fix what it names"
    if report.exit_code == EXIT_UNAVAILABLE:
        return DependencyUnavailableError(problem.code, message, hint=hint)
    return TradeGuardError(problem.code, message, hint=hint)


def register(app: typer.Typer) -> None:
    """Add ``preflight`` to ``app``."""

    @app.command("preflight")
    @handled
    def preflight(
        as_json: Annotated[bool, typer.Option("--json", help="Print the JSON object.")] = False,
    ) -> None:
        """Check credentials, balances, open orders, clock, database and symbols."""
        from ..bootstrap import build_container
        from ..logging import configure_logging

        settings = load_settings()
        configure_logging("WARNING", stream=sys.stderr)
        try:
            container = build_container(settings)
        except AuditUnavailableError as exc:
            report = PreflightReport(
                (
                    PreflightResult(
                        "database",
                        PreflightStatus.UNAVAILABLE,
                        ErrorCode.DATABASE_UNAVAILABLE.value,
                        f"{exc.code}: {exc.message}",
                    ),
                )
            )
        else:
            try:
                report = container_preflight(container)
            finally:
                container.close()
        if as_json:
            print_json(report.to_dict())
        else:
            _render(report)
        if report.exit_code:
            raise typer.Exit(report.exit_code)
