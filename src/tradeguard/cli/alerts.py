"""``tradeguard alerts test``: prove every configured alert target receives an alert.

Exit codes: 0 every target accepted the test alert, 1 at least one did not (after its
retries), 2 no target is configured or an entry of ``TRADEGUARD_ALERT_URLS`` is invalid. The
answer names each target by scheme and position only; URLs carry tokens and are never printed.

:func:`command_alerts` gives the state commands (``kill``, ``latch reset``) a started
dispatcher, drained before the command exits; an alert configuration problem never stops the
command itself (the kill switch must always work).
"""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer

from ..alerts import AlertDispatcher, build_alert_dispatcher, split_alert_urls
from ..clock import SystemClock
from ..codes import ErrorCode
from ..errors import ConfigurationError, TradeGuardError
from ..ids import new_correlation_id
from ..ports import Alert, AlertSeverity
from ..settings import Settings, load_settings
from .common import EXIT_CHECK_FAILED, handled, print_json

COMMAND_DRAIN_SECONDS = 5.0

alerts_app = typer.Typer(help="Alert targets (TRADEGUARD_ALERT_URLS).", no_args_is_help=True)


@contextmanager
def command_alerts(settings: Settings) -> Iterator[AlertDispatcher | None]:
    """Yield a started dispatcher for one CLI command; deliver what it queued before exit."""
    try:
        dispatcher = build_alert_dispatcher(settings, SystemClock())
    except TradeGuardError as exc:
        line = {"warning": exc.code, "message": f"alerts disabled: {exc.message}"}
        typer.echo(json.dumps(line), err=True)
        yield None
        return
    dispatcher.start()
    try:
        yield dispatcher
    finally:
        dispatcher.close(COMMAND_DRAIN_SECONDS)


def _test_alert() -> Alert:
    return Alert(
        event="alert_test",
        code=ErrorCode.ALERT_TEST.value,
        severity=AlertSeverity.INFO,
        summary=f"test alert from tradeguard on {socket.gethostname()}",
        correlation_id=new_correlation_id(),
    )


@alerts_app.command("test")
@handled
def test() -> None:
    """Send a test alert to every configured target; exit 0 only when all received it."""
    from ..logging import configure_logging

    configure_logging("WARNING", stream=sys.stderr)
    settings = load_settings()
    if not split_alert_urls(settings.alert_urls):
        raise ConfigurationError(
            ErrorCode.NOT_CONFIGURED,
            "TRADEGUARD_ALERT_URLS is not set: there is no alert target to test",
            hint="export TRADEGUARD_ALERT_URLS with apprise URLs, comma-separated",
        )
    dispatcher = build_alert_dispatcher(settings, SystemClock())
    alert = _test_alert()
    results = [
        {"target": target.label, "delivered": dispatcher.deliver(target, alert)}
        for target in dispatcher.targets
    ]
    failed = [result["target"] for result in results if not result["delivered"]]
    print_json(
        {
            "code": ErrorCode.ALERT_DELIVERY_FAILED.value if failed else ErrorCode.ALERT_TEST.value,
            "correlation_id": alert.correlation_id,
            "targets": results,
            "delivered": len(results) - len(failed),
            "failed": len(failed),
        }
    )
    if failed:
        raise typer.Exit(EXIT_CHECK_FAILED)


def register(app: typer.Typer) -> None:
    """Add the ``alerts`` command group to ``app``."""
    app.add_typer(alerts_app, name="alerts")


__all__ = ["COMMAND_DRAIN_SECONDS", "alerts_app", "command_alerts", "register"]
