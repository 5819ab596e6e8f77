"""``tradeguard db upgrade``: create or migrate the audit database."""

from __future__ import annotations

import typer

from .audit import DEFAULT_DATABASE_URL, DatabaseUrl
from .common import handled

db_app = typer.Typer(help="Database schema management.", no_args_is_help=True)


@db_app.command("upgrade")
@handled
def upgrade(database_url: DatabaseUrl = DEFAULT_DATABASE_URL) -> None:
    """Apply every missing migration (opening the store migrates it) and print the version."""
    from ..audit import open_audit_store

    store = open_audit_store(database_url)
    try:
        store.ping()
    finally:
        store.close()
    typer.echo(f"database schema is up to date ({_redact(database_url)})")


def _redact(url: str) -> str:
    # Never print a password that may be part of the URL.
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}@{host}"


def register(app: typer.Typer) -> None:
    """Add the ``db`` group to ``app``."""
    app.add_typer(db_app, name="db")
