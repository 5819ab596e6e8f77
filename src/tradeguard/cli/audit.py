"""``tradeguard audit verify|checkpoint|export``: prove the trail is intact, anchor it, extract it.

Exit codes: 0 intact, 1 a chain or checkpoint check failed (AUD-004/005/007), 2 usage,
3 database unavailable (AUD-006), 4 integrity violation (unreadable evidence, AUD-008, or a
checkpoint refused because the chain is already broken).
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from ..codes import ErrorCode
from ..errors import AuditTamperError
from ..policy import parse_utc
from ..policy.clock import SystemClock
from ..ports import VerifyReport
from .common import EXIT_CHECK_FAILED, handled

DEFAULT_DATABASE_URL = "sqlite:///./tradeguard.db"
KEY_ENV = "TRADEGUARD_AUDIT_CHECKPOINT_KEY"

DatabaseUrl = Annotated[
    str,
    typer.Option(
        "--database-url",
        envvar="TRADEGUARD_DATABASE_URL",
        help="Audit database (default TRADEGUARD_DATABASE_URL, then sqlite:///./tradeguard.db).",
    ),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object instead.")]

audit_app = typer.Typer(help="Verify, checkpoint and export the audit trail.", no_args_is_help=True)


def _report_dict(report: VerifyReport) -> dict[str, Any]:
    return {
        "ok": report.ok,
        "rows_checked": report.rows_checked,
        "heads": [
            {"table": h.table.value, "seq": h.seq, "row_hash": h.row_hash} for h in report.heads
        ],
        "breaks": [
            {"table": b.table.value, "seq": b.seq, "code": b.code, "message": b.message}
            for b in report.breaks
        ],
    }


def _print_report(report: VerifyReport, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(_report_dict(report), sort_keys=True))
        return
    for head in report.heads:
        typer.echo(f"{head.table.value}: head seq {head.seq}, hash {head.row_hash}")
    for item in report.breaks:
        typer.echo(f"BROKEN {item.table.value} at seq {item.seq} [{item.code}]: {item.message}")
    verdict = "INTACT" if report.ok else "BROKEN"
    typer.echo(f"{verdict}: {report.rows_checked} rows checked, {len(report.breaks)} problem(s)")


def _key_path(explicit: Path | None) -> Path | None:
    if explicit is not None:
        return explicit
    configured = os.environ.get(KEY_ENV)
    return Path(configured) if configured else None


@audit_app.command("verify")
@handled
def verify(
    database_url: DatabaseUrl = DEFAULT_DATABASE_URL,
    checkpoint: Annotated[
        Path | None, typer.Option("--checkpoint", help="Checkpoint file to compare with.")
    ] = None,
    file: Annotated[
        Path | None, typer.Option("--file", help="Verify an export (jsonl/csv), not a database.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Re-compute every hash chain; exit 1 and name the first broken seq on a break."""
    from ..audit import checkpoint as checkpoints
    from ..audit import open_audit_store
    from ..audit.export import verify_export, verify_store

    lines = checkpoints.read_checkpoints(checkpoint) if checkpoint is not None else []
    expected = checkpoints.expected_heads(lines)
    key_path = _key_path(None)
    key = checkpoints.load_key(key_path) if key_path is not None and lines else None
    if file is not None:
        report = verify_export(file, expected)
    else:
        store = open_audit_store(database_url)
        try:
            report = verify_store(store, expected)
        finally:
            store.close()
    signature_breaks = checkpoints.signature_breaks(lines, key)
    if signature_breaks:
        report = VerifyReport(
            report.rows_checked, report.heads, report.breaks + tuple(signature_breaks)
        )
    _print_report(report, as_json)
    if not report.ok:
        if file is None:
            _alert_broken_trail(report)
        raise typer.Exit(EXIT_CHECK_FAILED)


def _alert_broken_trail(report: VerifyReport) -> None:
    # The database's trail is broken: tell the operators (an export is offline evidence).
    from ..errors import TradeGuardError
    from ..ids import new_correlation_id
    from ..operator import verify_failed_alert
    from ..ports import publish_alert
    from ..settings import load_settings
    from .alerts import command_alerts

    try:
        settings = load_settings()
    except TradeGuardError:
        return
    with command_alerts(settings) as alerts:
        publish_alert(alerts, verify_failed_alert(report, new_correlation_id()))


@audit_app.command("checkpoint")
@handled
def checkpoint(
    database_url: DatabaseUrl = DEFAULT_DATABASE_URL,
    out: Annotated[
        Path | None, typer.Option("--out", help="Checkpoint file to append the line to.")
    ] = None,
    key: Annotated[
        Path | None,
        typer.Option("--key", help=f"Ed25519 private key (PEM); default ${KEY_ENV}."),
    ] = None,
) -> None:
    """Print (and append to --out) the head seq and hash of every chain, signed if keyed."""
    from ..audit import checkpoint as checkpoints
    from ..audit import open_audit_store

    key_path = _key_path(key)
    signing_key = checkpoints.load_key(key_path) if key_path is not None else None
    store = open_audit_store(database_url)
    try:
        report = store.verify()
    finally:
        store.close()
    if not report.ok:
        first = report.breaks[0]
        raise AuditTamperError(
            ErrorCode.AUD_004,
            f"refusing to checkpoint a broken chain: {first.table.value} seq {first.seq}",
            hint="Run `tradeguard audit verify` and treat the break as an incident.",
        )
    line = checkpoints.make_checkpoint(report.heads, SystemClock().now(), signing_key)
    if out is not None:
        checkpoints.append_checkpoint(out, line)
    typer.echo(line.to_line())


def _parse_time(value: str | None, name: str) -> datetime | None:
    return None if value is None else parse_utc(value, field_name=name)


@audit_app.command("export")
@handled
def export(
    out: Annotated[Path, typer.Option("--out", help="File to write.")],
    fmt: Annotated[str, typer.Option("--format", help="jsonl or csv.")],
    database_url: DatabaseUrl = DEFAULT_DATABASE_URL,
    since: Annotated[
        str | None, typer.Option("--since", help="First timestamp (ISO-8601 UTC, Z).")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Last timestamp (ISO-8601 UTC, Z).")
    ] = None,
) -> None:
    """Write the chains with their chain fields, so the export verifies on its own."""
    from ..audit import open_audit_store
    from ..audit.base import ChainStoreBase
    from ..audit.export import FORMATS, export_store

    if fmt not in FORMATS:
        raise typer.BadParameter("must be jsonl or csv", param_hint="--format")
    low, high = _parse_time(since, "since"), _parse_time(until, "until")
    store = open_audit_store(database_url)
    try:
        if not isinstance(store, ChainStoreBase):  # every adapter is one; keeps mypy exact
            raise typer.Exit(EXIT_CHECK_FAILED)
        count = export_store(store, out, fmt, since=low, until=high)
    finally:
        store.close()
    typer.echo(f"exported {count} rows to {out}")


def register(app: typer.Typer) -> None:
    """Add the ``audit`` group to ``app``."""
    app.add_typer(audit_app, name="audit")
