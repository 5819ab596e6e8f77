"""The embedded audit store: one SQLite file in WAL mode with ``synchronous=FULL``.

One writer thread per store commits each batch in a ``BEGIN IMMEDIATE`` transaction and reads
every chain's head inside it, so several processes appending to the same file keep each chain
linear. The control state is re-read by a watcher thread every 20 ms.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Coroutine, Iterator, Sequence
from pathlib import Path
from typing import Any

from ..codes import ErrorCode
from ..errors import AuditUnavailableError, InvalidInputError, TradeGuardError
from ..logging import get_logger
from ..policy import format_utc
from ..policy.clock import SystemClock
from ..ports import ChainHead, VerifyReport
from .base import RawRow, SqlChainStore, report
from .canonical import GENESIS_HASH
from .chain import (
    FIRST_SIGNAL_ROW,
    TABLES,
    ChainResult,
    LinkValues,
    StoredLink,
    duplicate_signal_error,
    link_values,
    tamper_error,
    verify_chain,
)
from .control import ControlCache
from .migrate import migrate_sqlite
from .parallel import ROWS_PER_WORKER, verify_tables
from .records import AuditTable
from .writer import ControlWrite, GroupCommitWriter, Pending

_log = get_logger(__name__)
BUSY_TIMEOUT_S = 30.0
# Raw bytes: hashing needs no decode, and a byte that is not UTF-8 is a break, not a crash.
_LINKS_SQL = (
    "SELECT seq, prev_hash, row_hash, CAST(canonical_json AS BLOB), NULL FROM {table} ORDER BY seq"
)
WRITER_CACHE_KIB = 32_768
_CHUNK = 2000
_IN_CHUNK = 500  # ids per IN (...) lookup, well under SQLite's variable limit
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
    duplicate = duplicate_signal_error(exc)
    if duplicate is not None:
        return duplicate
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


def connect(path: str, *, cache_kib: int | None = None) -> sqlite3.Connection:
    """Open ``path`` with WAL, ``synchronous=FULL`` and a busy timeout.

    ``cache_kib`` sets the page cache (the writer's is larger than SQLite's 2 MiB default: a
    long chain's index pages stay cached although appends touch them at random).
    """
    conn = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
    )
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    if cache_kib is not None:
        conn.execute(f"PRAGMA cache_size=-{int(cache_kib)}")
    return conn


class SqliteAuditStore(SqlChainStore):
    """``AuditStore`` on a SQLite file; see the module docstring."""

    def __init__(
        self,
        url: str,
        *,
        control_interval: float = 0.02,
        rows_per_worker: int = ROWS_PER_WORKER,
    ) -> None:
        self.url = url
        self.rows_per_worker = rows_per_worker
        self._path = sqlite_path(url)
        self._clock = SystemClock()
        try:
            if self._path != ":memory:":
                Path(self._path).parent.mkdir(parents=True, exist_ok=True)
            self._write_conn = connect(self._path, cache_kib=WRITER_CACHE_KIB)
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

    def _asubmit(
        self, rows: list[Any], control: ControlWrite | None
    ) -> Coroutine[Any, Any, Pending]:
        return self._writer.asubmit(rows, control)

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
        fast = self._fast_links(batch, _CHUNK)
        if fast is None:
            return False
        table, start, heads, values = fast
        try:
            _insert(conn, table, values)
        except sqlite3.IntegrityError as exc:
            if "UNIQUE" not in str(exc):
                raise
            del self._heads[table]
            return False
        self._fast_committed(batch, table, start, heads)
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
        by_table: dict[AuditTable, list[LinkValues]] = {t: [] for t in tables}
        for pending in batch:
            values = link_values(pending.rows, heads)
            pending.seqs = [value[0] for value in values]
            for row, value in zip(pending.rows, values, strict=True):
                by_table[row.table].append(value)
        for table, values in by_table.items():
            _insert(conn, table, values)
        now = format_utc(self._clock.now())
        for pending in batch:
            if pending.control is not None:
                key, state = pending.control.key, pending.control.value
                pending.version = conn.execute(_UPSERT_CONTROL, (key, state, now)).fetchone()[0]
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
        return self._stream(_LINKS_SQL.format(table=table.value))

    def verify(self, expected: Sequence[ChainHead] = ()) -> VerifyReport:
        """Re-compute every chain from its genesis; compare with checkpointed heads if given.

        Chains of more than ``parallel.ROWS_PER_WORKER`` rows are split into seq ranges
        verified by worker processes (see ``tradeguard.audit.parallel``).
        """
        wanted = {t: {h.seq: h.row_hash for h in expected if h.table is t} for t in TABLES}
        conn = None
        try:
            parts = self._verify_parallel(wanted)
            conn = connect(self._path)
            results = [
                parts[table]
                if table in parts
                else verify_chain(
                    table, conn.execute(_LINKS_SQL.format(table=table.value)), wanted=wanted[table]
                )
                for table in TABLES
            ]
        except sqlite3.Error as exc:
            raise translate(exc, "verify") from exc
        finally:
            if conn is not None:
                conn.close()
        return report(results, expected)

    def _verify_parallel(
        self, wanted: dict[AuditTable, dict[int, str]]
    ) -> dict[AuditTable, ChainResult]:
        if self._path == ":memory:":
            return {}
        last = {t: head[0] for t in TABLES if (head := self._head_raw(t)) is not None}
        try:
            return (
                verify_tables(self._path, last, wanted, rows_per_worker=self.rows_per_worker) or {}
            )
        except OSError as exc:  # no worker processes: verify in this one, only slower
            _log.warning(
                "audit_verify_single_process", code=ErrorCode.AUD_006.value, error=str(exc)
            )
            return {}

    def _find_signal_raw(self, signal_id: str) -> RawRow | None:
        rows = self._query(
            "SELECT seq, prev_hash, row_hash, canonical_json FROM signal_audit "
            f"WHERE signal_id = ? AND {FIRST_SIGNAL_ROW} ORDER BY seq LIMIT 1",
            (signal_id,),
        )
        return (rows[0][0], rows[0][1], rows[0][2], rows[0][3]) if rows else None

    def _find_signals_raw(self, signal_ids: list[str]) -> dict[str, RawRow]:
        found: dict[str, RawRow] = {}
        for start in range(0, len(signal_ids), _IN_CHUNK):
            part = signal_ids[start : start + _IN_CHUNK]
            rows = self._query(
                "SELECT signal_id, seq, prev_hash, row_hash, canonical_json FROM signal_audit "
                f"WHERE signal_id IN ({','.join('?' * len(part))}) AND {FIRST_SIGNAL_ROW} "
                "ORDER BY seq",
                tuple(part),
            )
            for signal_id, seq, prev_hash, row_hash, canonical in rows:
                found.setdefault(signal_id, (seq, prev_hash, row_hash, canonical))
        return found

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


_SQL: dict[tuple[AuditTable, int], str] = {}


def _insert_sql(table: AuditTable, count: int) -> str:
    sql = _SQL.get((table, count))
    if sql is None:
        sql = _SQL[(table, count)] = (
            f"INSERT INTO {table.value} (seq, prev_hash, row_hash, canonical_json) VALUES "
            + ",".join(["(?,?,?,?)"] * count)
        )
    return sql


def _insert(conn: sqlite3.Connection, table: AuditTable, values: list[LinkValues]) -> None:
    # One multi-row INSERT per chunk: each statement step releases and re-takes the GIL, so
    # fewer steps keep the writer from queueing behind the appending threads.
    for start in range(0, len(values), _CHUNK):
        part = values[start : start + _CHUNK]
        conn.execute(_insert_sql(table, len(part)), [item for row in part for item in row])


__all__ = ["SqliteAuditStore", "connect", "sqlite_path", "translate"]
