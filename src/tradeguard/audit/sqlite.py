"""The embedded audit store: one SQLite file in WAL mode with ``synchronous=FULL``.

One writer thread per store commits each batch in a ``BEGIN IMMEDIATE`` transaction and reads
every chain's head inside it, so several processes appending to the same file keep each chain
linear. The control state is re-read by a watcher thread every 20 ms.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from ..codes import ErrorCode
from ..errors import AuditUnavailableError, InvalidInputError, TradeGuardError
from ..policy import format_utc
from ..policy.clock import SystemClock
from .base import ChainStoreBase, RawRow
from .canonical import GENESIS_HASH
from .chain import StoredLink, link, tamper_error
from .control import ControlCache
from .migrate import migrate_sqlite
from .records import AuditTable
from .writer import ControlWrite, GroupCommitWriter, Pending

BUSY_TIMEOUT_S = 30.0
_CHUNK = 2000
_UPSERT_CONTROL = (
    "INSERT INTO control_state (key, value, version, updated_at) VALUES (?, ?, 1, ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
    "version = control_state.version + 1, updated_at = excluded.updated_at RETURNING version"
)


def translate(exc: sqlite3.Error, action: str) -> TradeGuardError:
    """Translate a sqlite3 error at the adapter boundary."""
    tamper = tamper_error(exc)
    if tamper is not None:
        return tamper
    if isinstance(exc, sqlite3.IntegrityError):
        return InvalidInputError(
            ErrorCode.INPUT_INVALID_VALUE, f"audit row refused by the database: {exc}"
        )
    return AuditUnavailableError(ErrorCode.AUD_006, f"SQLite {action} failed: {exc}")


def sqlite_path(url: str) -> str:
    """Return the file path of a ``sqlite:///PATH`` URL."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or len(url) == len(prefix):
        raise AuditUnavailableError(ErrorCode.AUD_006, f"not a sqlite:///PATH URL: {url!r}")
    return url[len(prefix) :]


def connect(path: str) -> sqlite3.Connection:
    """Open ``path`` with WAL, ``synchronous=FULL`` and a busy timeout."""
    conn = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
    )
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    return conn


class SqliteAuditStore(ChainStoreBase):
    """``AuditStore`` on a SQLite file; see the module docstring."""

    def __init__(self, url: str, *, control_interval: float = 0.02) -> None:
        self.url = url
        self._path = sqlite_path(url)
        self._clock = SystemClock()
        try:
            if self._path != ":memory:":
                Path(self._path).parent.mkdir(parents=True, exist_ok=True)
            self._write_conn = connect(self._path)
            migrate_sqlite(self._write_conn)
            self._read_conn = connect(self._path)
            self._watch_conn = connect(self._path)
        except (sqlite3.Error, OSError) as exc:
            raise AuditUnavailableError(
                ErrorCode.AUD_006, f"cannot open SQLite audit database {self._path!r}: {exc}"
            ) from exc
        self._read_lock = threading.Lock()
        self._heads: dict[AuditTable, tuple[int, str]] = {}
        self._writer = GroupCommitWriter(self._commit, name="tradeguard-audit-sqlite")
        self._cache = ControlCache(self._read_control, interval=control_interval)

    # -- writing ----------------------------------------------------------------------------

    def _submit(self, rows: list[Any], control: ControlWrite | None) -> Pending:
        return self._writer.submit(rows, control)

    def _commit(self, batch: list[Pending]) -> None:
        conn = self._write_conn
        try:
            if self._commit_fast(conn, batch):
                return
            conn.execute("BEGIN IMMEDIATE")
            try:
                heads = self._write_batch(conn, batch)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            self._heads.update(heads)
        except sqlite3.Error as exc:
            self._heads.clear()
            raise translate(exc, "append") from exc

    def _commit_fast(self, conn: sqlite3.Connection, batch: list[Pending]) -> bool:
        # The common case, rows for one chain whose head this process wrote last: a single
        # multi-row INSERT is its own durable transaction. If another process appended in the
        # meantime, the seq we chose already exists, the INSERT fails as a whole and the batch
        # goes the locked way (BEGIN IMMEDIATE, re-read the head), so the chain stays linear.
        tables = {row.table for pending in batch for row in pending.rows}
        if len(tables) != 1 or any(pending.control is not None for pending in batch):
            return False
        table = tables.pop()
        head = self._heads.get(table)
        rows = [row for pending in batch for row in pending.rows]
        if head is None or len(rows) > _CHUNK:
            return False
        heads = {table: head}
        linked = link(rows, heads)
        try:
            _insert(
                conn, table, [(r.seq, r.prev_hash, r.row_hash, r.canonical_json) for r in linked]
            )
        except sqlite3.IntegrityError as exc:
            if "UNIQUE" not in str(exc):
                raise
            del self._heads[table]
            return False
        position = 0
        for pending in batch:
            pending.seqs = [r.seq for r in linked[position : position + len(pending.rows)]]
            position += len(pending.rows)
        self._heads[table] = heads[table]
        return True

    def _write_batch(
        self, conn: sqlite3.Connection, batch: list[Pending]
    ) -> dict[AuditTable, tuple[int, str]]:
        tables = {row.table for pending in batch for row in pending.rows}
        heads: dict[AuditTable, tuple[int, str]] = {}
        for table in tables:
            head = conn.execute(
                f"SELECT seq, row_hash FROM {table.value} ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            heads[table] = (head[0], head[1]) if head is not None else (0, GENESIS_HASH)
        by_table: dict[AuditTable, list[tuple[int, str, str, str]]] = {t: [] for t in tables}
        for pending in batch:
            linked = link(pending.rows, heads)
            pending.seqs = [row.seq for row in linked]
            for row in linked:
                by_table[row.table].append(
                    (row.seq, row.prev_hash, row.row_hash, row.canonical_json)
                )
        for table, values in by_table.items():
            _insert(conn, table, values)
        now = format_utc(self._clock.now())
        for pending in batch:
            if pending.control is not None:
                key, value = pending.control.key, pending.control.value
                pending.version = conn.execute(_UPSERT_CONTROL, (key, value, now)).fetchone()[0]
        return heads

    # -- reading ----------------------------------------------------------------------------

    def _read_control(self) -> dict[str, tuple[int, str]]:
        try:
            rows = self._watch_conn.execute(
                "SELECT key, version, value FROM control_state"
            ).fetchall()
        except sqlite3.Error as exc:
            raise translate(exc, "control state read") from exc
        return {key: (version, value) for key, version, value in rows}

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        with self._read_lock:
            try:
                return self._read_conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise translate(exc, "read") from exc

    def _stream(self, sql: str, params: tuple[Any, ...] = ()) -> Iterator[Any]:
        conn = None
        try:
            conn = connect(self._path)
            yield from conn.execute(sql, params)
        except sqlite3.Error as exc:
            raise translate(exc, "read") from exc
        finally:
            if conn is not None:
                conn.close()

    def _links(self, table: AuditTable) -> Iterator[StoredLink]:
        # Raw bytes: hashing needs no decode, and a byte that is not UTF-8 is a break, not a crash.
        sql = (
            "SELECT seq, prev_hash, row_hash, CAST(canonical_json AS BLOB), NULL "
            f"FROM {table.value} ORDER BY seq"
        )
        return self._stream(sql)

    def _select(
        self,
        table: AuditTable,
        since: datetime | None,
        until: datetime | None,
        correlation_id: str | None,
        limit: int | None,
        newest_first: bool,
    ) -> Iterator[RawRow]:
        clauses: list[str] = []
        params: list[Any] = []
        if since is not None:
            clauses.append("timestamp_utc >= ?")
            params.append(format_utc(since))
        if until is not None:
            clauses.append("timestamp_utc <= ?")
            params.append(format_utc(until))
        if correlation_id is not None:
            clauses.append("correlation_id = ?")
            params.append(correlation_id)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        order = "DESC" if newest_first else "ASC"
        tail = f" LIMIT {int(limit)}" if limit is not None else ""
        sql = (
            f"SELECT seq, prev_hash, row_hash, canonical_json FROM {table.value}"
            f"{where} ORDER BY seq {order}{tail}"
        )
        for row in self._stream(sql, tuple(params)):
            yield row[0], row[1], row[2], row[3]

    def _find_signal_raw(self, signal_id: str) -> RawRow | None:
        rows = self._query(
            "SELECT seq, prev_hash, row_hash, canonical_json FROM signal_audit "
            "WHERE signal_id = ? ORDER BY seq LIMIT 1",
            (signal_id,),
        )
        return (rows[0][0], rows[0][1], rows[0][2], rows[0][3]) if rows else None

    def _head_raw(self, table: AuditTable) -> tuple[int, str] | None:
        rows = self._query(f"SELECT seq, row_hash FROM {table.value} ORDER BY seq DESC LIMIT 1")
        return (rows[0][0], rows[0][1]) if rows else None

    # -- lifecycle --------------------------------------------------------------------------

    def ping(self) -> None:
        """Raise ``AuditUnavailableError`` unless the database can be written now."""
        if not self._writer.alive:
            raise AuditUnavailableError(ErrorCode.AUD_006, "the audit writer is not running")
        with self._read_lock:
            try:
                self._read_conn.execute("BEGIN IMMEDIATE")
                self._read_conn.execute("ROLLBACK")
            except sqlite3.Error as exc:
                raise translate(exc, "write check") from exc

    def close(self) -> None:
        """Commit what is queued and close every connection."""
        self._writer.close()
        self._cache.close()
        for conn in (self._write_conn, self._read_conn, self._watch_conn):
            conn.close()


def _insert(
    conn: sqlite3.Connection, table: AuditTable, values: list[tuple[int, str, str, str]]
) -> None:
    # One multi-row INSERT per chunk: each statement step releases and re-takes the GIL, so
    # fewer steps keep the writer from queueing behind the appending threads.
    for start in range(0, len(values), _CHUNK):
        part = values[start : start + _CHUNK]
        conn.execute(
            f"INSERT INTO {table.value} (seq, prev_hash, row_hash, canonical_json) VALUES "
            + ",".join(["(?,?,?,?)"] * len(part)),
            [item for row in part for item in row],
        )


__all__ = ["SqliteAuditStore", "connect", "sqlite_path", "translate"]
