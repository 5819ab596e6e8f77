"""Versioned SQL migrations (``audit/migrations/NNNN_name.<backend>.sql``) and their runner.

Each backend keeps a ``schema_version`` table; a migration is applied in one transaction under
the database's write lock (SQLite ``BEGIN IMMEDIATE``, PostgreSQL an advisory lock), so several
processes opening the same database at once apply it exactly once.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from importlib import resources
from typing import Any

from ..policy import format_utc
from ..policy.clock import SystemClock

_NAME = re.compile(r"(\d{4})_(\w+)\.(sqlite|postgresql)\.sql")

SCHEMA_VERSION_DDL = (
    "CREATE TABLE IF NOT EXISTS schema_version ("
    "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
)
MIGRATION_LOCK_KEY = 0x7467_6D69_6772  # "tgmigr": one key for every schema's migrations


@dataclass(frozen=True, slots=True)
class Migration:
    """One versioned SQL file."""

    version: int
    name: str
    sql: str


def migrations(backend: str) -> list[Migration]:
    """Return the migrations of ``backend`` ("sqlite" or "postgresql") in version order."""
    found: list[Migration] = []
    for entry in resources.files("tradeguard.audit.migrations").iterdir():
        match = _NAME.fullmatch(entry.name)
        if match and match.group(3) == backend:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text("utf-8")))
    return sorted(found, key=lambda m: m.version)


def split_sqlite(script: str) -> list[str]:
    """Split a SQLite script into complete statements (trigger bodies stay whole)."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        if not buffer and (not line.strip() or line.lstrip().startswith("--")):
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements


def _now() -> str:
    return format_utc(SystemClock().now())


def migrate_sqlite(conn: sqlite3.Connection) -> list[int]:
    """Apply missing migrations to an autocommit-mode SQLite connection; return them."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(SCHEMA_VERSION_DDL)
        applied = {row[0] for row in conn.execute("SELECT version FROM schema_version")}
        done: list[int] = []
        for migration in migrations("sqlite"):
            if migration.version in applied:
                continue
            for statement in split_sqlite(migration.sql):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.name, _now()),
            )
            done.append(migration.version)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return done


def migrate_postgres(conn: Any) -> list[int]:
    """Apply missing migrations through a psycopg connection (not autocommit); return them."""
    done: list[int] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
        conn.execute(SCHEMA_VERSION_DDL)
        applied = {row[0] for row in conn.execute("SELECT version FROM schema_version")}
        for migration in migrations("postgresql"):
            if migration.version in applied:
                continue
            conn.execute(migration.sql)
            conn.execute(
                "INSERT INTO schema_version (version, name, applied_at) VALUES (%s, %s, %s)",
                (migration.version, migration.name, _now()),
            )
            done.append(migration.version)
    return done


__all__ = ["Migration", "migrate_postgres", "migrate_sqlite", "migrations", "split_sqlite"]
