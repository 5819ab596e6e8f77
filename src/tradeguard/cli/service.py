"""Service commands: ``run``, ``status``, ``kill``, ``latch reset``, ``signal send``.

``kill`` and ``latch reset`` work against the database directly, so they work while the
service is down; a running service sees the change through the shared store. ``status`` asks
the running service and, when it does not answer, computes the same object from the database
and a locally built container without writing anything.

``signal send`` exit codes: 0 answered and the order went to the exchange (executed, partly
filled, resting or accepted), 1 answered and refused (or rejected by the exchange), 2 the
request was refused as invalid or unauthenticated (4xx), 3 the service is unreachable or
answered 503.
"""

from __future__ import annotations

import json
import secrets
import sys
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
import typer
from pydantic import SecretStr

from ..codes import ErrorCode
from ..errors import ConfigurationError, DependencyUnavailableError, InvalidInputError
from ..ids import new_correlation_id
from ..settings import Settings, load_settings
from .alerts import command_alerts
from .common import EXIT_CHECK_FAILED, EXIT_UNAVAILABLE, EXIT_USAGE, handled, print_json
from .status_view import render_status

DEFAULT_SIGNAL_URL = "http://127.0.0.1:8080/v1/signals"
_SENT_OUTCOMES = frozenset({"EXECUTED", "PARTIALLY_FILLED", "RESTING", "ACCEPTED"})

latch_app = typer.Typer(help="The HALT latch.", no_args_is_help=True)
signal_app = typer.Typer(help="Send signals to a running service.", no_args_is_help=True)


def _quiet_logs() -> None:
    # Commands other than ``run`` keep stdout for their JSON answer; logs go to stderr.
    from ..logging import configure_logging

    configure_logging("WARNING", stream=sys.stderr)


def _local_run_settings(settings: Settings) -> tuple[Settings, dict[str, str]]:
    """Generate a token and webhook secret for a local DRY_RUN run that has none."""
    if settings.is_live:
        return settings, {}
    generated: dict[str, str] = {}
    if settings.operator_token is None:
        generated["operator_token"] = secrets.token_urlsafe(24)
    if settings.webhook_secret is None:
        generated["webhook_secret"] = secrets.token_urlsafe(24)
    if not generated:
        return settings, {}
    update = {key: SecretStr(value) for key, value in generated.items()}
    return settings.model_copy(update=update), generated


def _banner(settings: Settings, host: str, port: int, generated: dict[str, str]) -> str:
    base = f"http://{host}:{port}"
    lines = [
        "",
        f"tradeguard is running ({settings.execution_mode}, exchange {settings.exchange})",
        f"  dashboard      {base}/",
        f"  API docs       {base}/docs",
        f"  database       {settings.database_url}",
    ]
    if "operator_token" in generated:
        lines.append(f"  operator token {generated['operator_token']}   (generated for this run)")
    if "webhook_secret" in generated:
        lines.append(
            f"  webhook secret generated: export TRADEGUARD_WEBHOOK_SECRET="
            f"{generated['webhook_secret']}"
        )
    lines += [
        "",
        "Next, in another shell (with the webhook secret exported):",
        f"  tradeguard signal send --symbol BTCUSDT --side BUY --intent OPEN --quantity 0.01 "
        f"--url {base}/v1/signals",
        "",
    ]
    return "\n".join(lines)


@handled
def run(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    workers: Annotated[
        int | None,
        typer.Option(help="Worker processes (PostgreSQL only; default TRADEGUARD_WORKERS)."),
    ] = None,
) -> None:
    """Run the service: webhook, operator API, dashboard, metrics, background checks."""
    import uvicorn

    from ..api import create_app
    from ..bootstrap import build_container
    from ..logging import configure_logging, get_logger
    from .workers import check_workers, run_workers, start_service_background

    settings, generated = _local_run_settings(load_settings())
    if workers is not None:
        settings = settings.model_copy(update={"workers": max(1, workers)})
    check_workers(settings, settings.workers)
    configure_logging(settings.log_level, cache=True)
    log = get_logger("tradeguard.run")
    bind_host = host or settings.host
    bind_port = settings.port if port is None else port
    if settings.workers > 1:

        def banner(bound: int) -> None:
            sys.stderr.write(_banner(settings, bind_host, bound, generated) + "\n")
            sys.stderr.flush()

        run_workers(settings, bind_host, bind_port, generated, banner)
        return
    container = build_container(settings)
    for warning in container.warnings:
        log.warning("live_safeguard_not_configured", code=ErrorCode.NOT_CONFIGURED, detail=warning)
    try:
        _preflight_before_signals(container, log)
        background = start_service_background(container)
    except BaseException:
        container.close()
        raise
    try:
        app = create_app(container)
        sys.stderr.write(_banner(settings, bind_host, bind_port, generated) + "\n")
        sys.stderr.flush()
        log.info("service_started", host=bind_host, port=bind_port, mode=settings.execution_mode)
        config = uvicorn.Config(
            app, host=bind_host, port=bind_port, log_config=None, access_log=False
        )
        uvicorn.Server(config).run()
    finally:
        background.stop()
        container.close()
        log.info("service_stopped")


def _preflight_before_signals(container: Any, log: Any) -> None:
    """LIVE: refuse to start unless the preflight passes; DRY_RUN: log what it found."""
    from .preflight import container_preflight, preflight_refusal

    report = container_preflight(container)
    for result in report.results:
        level = log.info if result.status == "PASS" else log.warning
        level("preflight_check", **result.to_dict())
    refusal = preflight_refusal(report)
    if refusal is not None and container.settings.is_live:
        log.error("live_start_refused", code=refusal.code, detail=refusal.message)
        raise refusal


def _remote_status(settings: Settings) -> dict[str, Any] | None:
    if settings.operator_token is None:
        return None
    url = f"http://{settings.host}:{settings.port}/v1/status"
    headers = {"Authorization": f"Bearer {settings.operator_token.get_secret_value()}"}
    try:
        response = httpx.get(url, headers=headers, timeout=2.0)
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    data = response.json()
    return data if isinstance(data, dict) else None


def _local_status(settings: Settings) -> dict[str, Any]:
    from ..background import prime_sources
    from ..bootstrap import build_container

    container = build_container(settings)
    try:
        prime_sources(container)
        return {**container.operator.status(), "source": "database"}
    finally:
        container.close()


@handled
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON object.")] = False,
) -> None:
    """Show the state now (never writes): the running service's, or computed locally."""
    settings = load_settings()
    _quiet_logs()
    remote = _remote_status(settings)
    data = {**remote, "source": "service"} if remote is not None else _local_status(settings)
    if as_json:
        print_json(data)
    else:
        render_status(data)


def _require_text(operator: str, reason: str) -> None:
    for name, value in (("--operator", operator), ("--reason", reason)):
        if not value.strip():
            raise InvalidInputError(
                ErrorCode.OPERATOR_ID_REQUIRED, f"{name} must be non-empty", field=name
            )


@handled
def kill(
    state: Annotated[str, typer.Argument(help="on or off")],
    operator: Annotated[str, typer.Option("--operator", help="Who does it.")],
    reason: Annotated[str, typer.Option("--reason", help="Why.")],
) -> None:
    """Engage (on) or release (off) the kill switch in the database (recorded)."""
    from .. import open_audit_store
    from ..clock import SystemClock
    from ..sources.circuit_breaker import CircuitBreaker

    if state not in ("on", "off"):
        raise InvalidInputError(
            ErrorCode.INPUT_INVALID_VALUE, "state must be on or off", field="state"
        )
    _require_text(operator, reason)
    settings = load_settings()
    _quiet_logs()
    with command_alerts(settings) as alerts:
        store = open_audit_store(settings.database_url)
        try:
            breaker = CircuitBreaker(store.kill_switch_store(), SystemClock(), alerts=alerts)
            correlation_id = new_correlation_id()
            if state == "on":
                record = breaker.engage(operator, reason, correlation_id)
            else:
                record = breaker.release(operator, reason, correlation_id)
            current = breaker.state()
        finally:
            store.close()
    print_json(
        {
            "action": str(record.action),
            "correlation_id": correlation_id,
            "kill_switch_active": current.active,
            "actor": current.actor,
            "reason": current.reason,
        }
    )


@handled
def latch_reset(
    operator: Annotated[str, typer.Option("--operator", help="Who does it.")],
    reason: Annotated[str, typer.Option("--reason", help="Why.")],
) -> None:
    """Reset the HALT latch in the database (recorded before it clears)."""
    from .. import open_audit_store
    from ..clock import SystemClock
    from ..operator import latch_reset_alert
    from ..policy import TradePermissionPolicy
    from ..ports import publish_alert

    _require_text(operator, reason)
    settings = load_settings()
    _quiet_logs()
    with command_alerts(settings) as alerts:
        store = open_audit_store(settings.database_url)
        try:
            latch_store = store.latch_store()
            before = latch_store.load()
            policy = TradePermissionPolicy(
                settings.latch_reset_window_seconds, clock=SystemClock(), latch_store=latch_store
            )
            correlation_id = new_correlation_id()
            record = policy.reset_policy_latch(
                correlation_id, operator, reason, record_action=store.record_operator_action
            )
            after = latch_store.load()
        finally:
            store.close()
        publish_alert(alerts, latch_reset_alert(record, before.is_latched))
    print_json(
        {
            "action": str(record.action),
            "correlation_id": correlation_id,
            "was_latched": before.is_latched,
            "latch": after.to_dict(),
        }
    )


def _signal_body(
    symbol: str, side: str, intent: str, quantity: str, extra: dict[str, Any]
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "signal_id": extra.pop("signal_id", None) or f"cli-{uuid.uuid4()}",
        "symbol": symbol,
        "side": side.upper(),
        "intent": intent.upper(),
        "quantity": quantity,
        "source": "tradeguard-cli",
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }
    body.update({key: value for key, value in extra.items() if value is not None})
    return body


def answer_exit_code(status_code: int, *, went: bool) -> int:
    """Return the exit code of a signed request's answer: 0 when ``went`` (the signal was
    executed, or the intent permitted), 1 refused, 2 a 4xx, 3 unreachable or 5xx."""
    if status_code == 200:
        return 0 if went else EXIT_CHECK_FAILED
    if status_code >= 500:
        return EXIT_UNAVAILABLE
    return EXIT_USAGE


def _exit_code(status_code: int, answer: dict[str, Any]) -> int:
    went = answer.get("outcome") in _SENT_OUTCOMES
    return answer_exit_code(status_code, went=went)


# The options ``signal send`` and ``decide`` share: one signal, as the webhook takes it.
SymbolOption = Annotated[str, typer.Option(help="Symbol, e.g. BTCUSDT.")]
SideOption = Annotated[str, typer.Option(help="BUY or SELL.")]
QuantityOption = Annotated[str, typer.Option(help="Decimal quantity.")]
IntentOption = Annotated[str, typer.Option(help="OPEN, INCREASE, REDUCE, CLOSE, ...")]
OrderTypeOption = Annotated[str | None, typer.Option(help="MARKET or LIMIT.")]
PriceOption = Annotated[str | None, typer.Option(help="Limit price.")]
ConfidenceOption = Annotated[str | None, typer.Option(help="0-100, recorded only.")]
SignalIdOption = Annotated[str | None, typer.Option(help="Idempotency key (generated).")]


def send_cli_signal(
    url: str,
    symbol: str,
    side: str,
    intent: str,
    quantity: str,
    extra: dict[str, Any],
) -> tuple[int, dict[str, Any]]:
    """Build the signal body of the CLI's options, sign it, send it, print the answer."""
    return send_signed(url, _signal_body(symbol, side, intent, quantity, dict(extra)))


@handled
def signal_send(
    symbol: SymbolOption,
    side: SideOption,
    quantity: QuantityOption,
    intent: IntentOption = "OPEN",
    url: Annotated[str, typer.Option(help="Webhook URL.")] = DEFAULT_SIGNAL_URL,
    order_type: OrderTypeOption = None,
    price: PriceOption = None,
    ai_confidence: ConfidenceOption = None,
    signal_id: SignalIdOption = None,
) -> None:
    """Sign a signal with TRADEGUARD_WEBHOOK_SECRET, send it, print the answer."""
    extra = {
        "order_type": order_type,
        "price": price,
        "ai_confidence": ai_confidence,
        "signal_id": signal_id,
    }
    status_code, answer = send_cli_signal(url, symbol, side, intent, quantity, extra)
    code = _exit_code(status_code, answer)
    if code:
        raise typer.Exit(code)


def send_signed(url: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Sign ``payload`` with TRADEGUARD_WEBHOOK_SECRET, POST it, print and return the answer.

    Raises:
        ConfigurationError: no webhook secret is set.
        DependencyUnavailableError: the service is unreachable (SERVICE_UNREACHABLE).
    """
    from ..api.auth import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign_body

    settings = load_settings()
    _quiet_logs()
    if settings.webhook_secret is None:
        raise ConfigurationError(
            ErrorCode.CONFIG_INVALID,
            "TRADEGUARD_WEBHOOK_SECRET is not set",
            hint="export the webhook secret the service printed at start",
        )
    body = json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign_body(settings.webhook_secret.get_secret_value(), body),
        TIMESTAMP_HEADER: str(int(datetime.now(UTC).timestamp())),
    }
    try:
        response = httpx.post(url, content=body, headers=headers, timeout=10.0)
    except httpx.HTTPError as exc:
        raise DependencyUnavailableError(
            ErrorCode.SERVICE_UNREACHABLE,
            f"service at {url} is unreachable: {type(exc).__name__}",
            hint="start it with `tradeguard run` (or `make run`) and check --url",
        ) from exc
    try:
        answer = response.json()
    except ValueError:
        answer = {"code": "INPUT_INVALID_JSON", "message": response.text[:200]}
    print_json({"http_status": response.status_code, **answer})
    return response.status_code, answer if isinstance(answer, dict) else {}


def register(app: typer.Typer) -> None:
    """Add the service commands to ``app``."""
    app.command("run")(run)
    app.command("status")(status)
    app.command("kill")(kill)
    latch_app.command("reset")(latch_reset)
    app.add_typer(latch_app, name="latch")
    signal_app.command("send")(signal_send)
    app.add_typer(signal_app, name="signal")
