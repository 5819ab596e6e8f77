"""The ``tradeguard`` Typer application: each command group registers itself here."""

from __future__ import annotations

import typer

from ..runbook.commands import CommandNode
from . import (
    alerts,
    audit,
    db,
    decide,
    evaluate,
    exchange_sim,
    preflight,
    runbook,
    scenarios,
    service,
    time_check,
)

app = typer.Typer(
    name="tradeguard",
    help="Pre-trade permission layer: ALLOW / NEUTRAL / HALT with a tamper-evident audit trail.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Pre-trade permission layer: ALLOW / NEUTRAL / HALT with a tamper-evident audit trail."""


for group in (evaluate, service, audit, db, time_check, scenarios, runbook, exchange_sim, alerts):
    group.register(app)
decide.register(app)
preflight.register(app)


def root_command() -> CommandNode:
    """Return the click tree of the ``tradeguard`` CLI (what the runbook is proven against)."""
    return typer.main.get_command(app)


def main() -> None:
    """Console entry point."""
    app()
