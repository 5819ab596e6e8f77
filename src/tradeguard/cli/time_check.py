"""``tradeguard time check [--json]``: sync once with the exchange clock and print the drift.

Exit codes: 0 within tolerance, 1 drift exceeded (``EXCHANGE_TIME_DRIFT``), 3 the exchange time
is unavailable (``EXCHANGE_TIME_UNAVAILABLE``), 2 configuration error.
"""

from __future__ import annotations

import uuid
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from ..clock import SystemClock
from ..codes import ErrorCode
from ..policy import Clock
from ..ports import ExchangeClient
from ..settings import Settings, load_settings
from ..sources.clock_sync import ExchangeTimeSynchronizer, TimeSyncResult
from .common import EXIT_CHECK_FAILED, EXIT_OK, EXIT_UNAVAILABLE, handled, print_json

time_app = typer.Typer(help="Exchange clock checks.", no_args_is_help=True)


def _create_exchange(settings: Settings, clock: Clock) -> ExchangeClient:
    from ..exchange import create_exchange

    return create_exchange(settings, clock)


def exit_code_for(result: TimeSyncResult) -> int:
    """Map a sync result to the command's exit code."""
    if result.error_code == ErrorCode.EXCHANGE_TIME_UNAVAILABLE:
        return EXIT_UNAVAILABLE
    if not result.is_within_tolerance:
        return EXIT_CHECK_FAILED
    return EXIT_OK


def _print_table(result: TimeSyncResult, exchange_name: str, max_drift_ms: float) -> None:
    data: dict[str, Any] = result.to_dict()
    table = Table(title=f"Exchange clock: {exchange_name}", show_header=False)
    table.add_column("field")
    table.add_column("value")
    for key in ("local_time_utc", "exchange_time_utc", "drift_ms", "rtt_ms", "uncertainty_ms"):
        table.add_row(key, "-" if data[key] is None else str(data[key]))
    table.add_row("max_drift_ms", str(max_drift_ms))
    table.add_row("is_within_tolerance", str(result.is_within_tolerance))
    table.add_row("error_code", result.error_code or "-")
    if result.detail:
        table.add_row("detail", result.detail)
    table.add_row("correlation_id", result.correlation_id)
    Console().print(table)


@time_app.command("check")
@handled
def check(
    json_output: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Sync once with the configured exchange's clock and report the drift."""
    settings = load_settings()
    clock = SystemClock()
    exchange = _create_exchange(settings, clock)
    try:
        synchronizer = ExchangeTimeSynchronizer(
            exchange,
            clock,
            max_drift_ms=settings.max_clock_drift_ms,
            sync_interval_seconds=settings.sync_interval_seconds,
        )
        result = synchronizer.sync_time(str(uuid.uuid4()))
    finally:
        exchange.close()
    name = str(getattr(exchange, "name", settings.exchange))
    if json_output:
        print_json(
            {**result.to_dict(), "exchange": name, "max_drift_ms": settings.max_clock_drift_ms}
        )
    else:
        _print_table(result, name, settings.max_clock_drift_ms)
    raise typer.Exit(exit_code_for(result))


def register(app: typer.Typer) -> None:
    """Add ``tradeguard time check`` to ``app``."""
    app.add_typer(time_app, name="time")
