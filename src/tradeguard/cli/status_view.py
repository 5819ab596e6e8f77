"""The readable form of ``tradeguard status``: a Rich table of the status object."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

_STYLE = {
    "ALLOW": "bold green",
    "NEUTRAL": "bold yellow",
    "HALT": "bold red",
    "L6_LOCKDOWN": "bold white on red",
    "GREEN": "green",
    "YELLOW": "yellow",
    "RED": "red",
}


def render_status(data: dict[str, Any], console: Console | None = None) -> None:
    """Print the state, the gates and every health check."""
    out = console or Console()
    state = str(data.get("state"))
    latched = " (latched)" if data.get("is_latched") else ""
    out.print(f"[{_STYLE.get(state, 'bold')}]{state}[/] {data.get('reason_code')}{latched}")
    gates = Table(title="Gates", show_header=True)
    gates.add_column("gate")
    gates.add_column("value")
    kill = data.get("kill_switch") or {}
    kill_text = str(data.get("kill_switch_active"))
    if kill.get("active"):
        kill_text += f" by {kill.get('actor')} ({kill.get('code')}): {kill.get('reason')}"
    for name, value in (
        ("kill switch", kill_text),
        ("budget", data.get("budget_signal")),
        ("health", data.get("health_status")),
        ("risk", data.get("risk_assessment")),
        ("clock drift ms", data.get("clock_drift_ms")),
        ("execution mode", data.get("execution_mode")),
        ("source", data.get("source")),
    ):
        text = str(value)
        gates.add_row(name, f"[{_STYLE[text]}]{text}[/]" if text in _STYLE else text)
    out.print(gates)
    checks = Table(title="Health checks", show_header=True)
    for column in ("check", "status", "code", "detail"):
        checks.add_column(column)
    for check in data.get("health_checks") or []:
        status = str(check.get("status"))
        checks.add_row(
            str(check.get("name")),
            f"[{_STYLE[status]}]{status}[/]" if status in _STYLE else status,
            str(check.get("code")),
            str(check.get("detail") or ""),
        )
    out.print(checks)


__all__ = ["render_status"]
