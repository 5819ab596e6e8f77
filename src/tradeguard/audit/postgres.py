"""The production audit store: PostgreSQL through psycopg 3, shared by several instances.

Each batch is one READ COMMITTED transaction that first takes a per-chain advisory lock
(``pg_advisory_xact_lock``, keyed by schema and table), then reads the chain's head, then
inserts; ``synchronous_commit`` is forced on. Control state changes are announced with
``pg_notify`` on a per-schema channel; a watcher thread LISTENs and also polls every 50 ms.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Coroutine, Iterator
from typing import Any

import psycopg

from ..codes import ErrorCode
from ..errors import AuditUnavailableError, InvalidInputError, TradeGuardError
from ..policy import format_utc
from ..policy.clock import SystemClock
from .base import RawRow, SqlChainStore
from .chain import (
    FIRST_SIGNAL_ROW,
    LinkValues,
    StoredLink,
    duplicate_signal_error,
    link_values,
    tamper_error,
)
from .control import ControlCache
from .migrate import migrate_postgres
from .records import AuditTable
from .writer import ControlWrite, GroupCommitWriter, Pending

_LOCK = "SELECT pg_advisory_xact_lock(%s)"
_UPSERT_CONTROL = (
    "INSERT INTO control_state (key, value, version, updated_at) VALUES (%s, %s, 1, %s) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
    "version = control_state.version + 1, updated_at = excluded.updated_at RETURNING version"
)


def translate(exc: psycopg.Error, action: str) -> TradeGuardError:
    """Translate a psycopg error at the adapter boundary."""
    tamper = tamper_error(exc)
    if tamper is not None:
        return tamper
    duplicate = duplicate_signal_error(exc)
    if duplicate is not None:
        return duplicate
    if isinstance(exc, psycopg.errors.IntegrityError):
        return InvalidInputError(
            ErrorCode.INPUT_INVALID_VALUE, f"audit row refused by the database: {exc}"
        )
    return AuditUnavailableError(ErrorCode.AUD_006, f"PostgreSQL {action} failed: {exc}")


def lock_key(schema: str, table: str) -> int:
    """Return the signed 64-bit advisory lock key of one chain."""
    digest = hashlib.sha256(f"tradeguard:{schema}.{table}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def connect(url: str, *, autocommit: bool = False) -> psycopg.Connection[Any]:
    """Open a connection with ``synchronous_commit=on`` and READ COMMITTED."""
    conn = psycopg.connect(url, autocommit=autocommit, connect_timeout=5)
    conn.execute("SET synchronous_commit = on")
    conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED")
    if not autocommit:
        conn.commit()
    return conn


class PostgresAuditStore(SqlChainStore):
    """``AuditStore`` on PostgreSQL; see the module docstring."""

    _placeholder = "%s"

    def __init__(self, url: str, *, control_interval: float = 0.05) -> None:
        self.url = url
        self._clock = SystemClock()
        try:
            self._write_conn: psycopg.Connection[Any] | None = connect(url)
            migrate_postgres(self._write_conn)
            schema = self._write_conn.execute("SELECT current_schema()").fetchone()
            self._write_conn.commit()
            self._read_conn = connect(url, autocommit=True)
            self._watch_conn: psycopg.Connection[Any] | None = None
        except psycopg.Error as exc:
            raise AuditUnavailableError(
                ErrorCode.AUD_006, f"cannot open PostgreSQL audit database: {exc}"
            ) from exc
        self.schema = str(schema[0]) if schema else "public"
        self.channel = f"tradeguard_control_{self.schema}"[:63]
        self._keys = {t: lock_key(self.schema, t.value) for t in AuditTable}
        self._read_lock = threading.Lock()
        self._heads: dict[AuditTable, tuple[int, str]] = {}
        self._writer = GroupCommitWriter(self._commit, name="tradeguard-audit-postgres")
        self._cache = ControlCache(self._read_control, self._wait_notify, interval=control_interval)

    # -- writing ----------------------------------------------------------------------------

    def _submit(self, rows: list[Any], control: ControlWrite | None) -> Pending:
        return self._writer.submit(rows, control)

    def _asubmit(
        self, rows: list[Any], control: ControlWrite | None
    ) -> Coroutine[Any, Any, Pending]:
        return self._writer.asubmit(rows, control)

    def _commit(self, batch: list[Pending]) -> None:
        try:
            if self._write_conn is None or self._write_conn.closed:
                self._write_conn = connect(self.url)
            conn = self._write_conn
            try:
                if not self._commit_fast(conn, batch):
                    with conn.pipeline():
                        heads = self._write_batch(conn, batch)
                        conn.commit()
                    self._heads.update(heads)
            except BaseException:
                self._heads.clear()
                if not conn.closed:
                    conn.rollback()
                raise
        except psycopg.Error as exc:
            if isinstance(exc, psycopg.OperationalError) and self._write_conn is not None:
                self._write_conn.close()
                self._write_conn = None
            raise translate(exc, "append") from exc

    def _commit_fast(self, conn: psycopg.Connection[Any], batch: list[Pending]) -> bool:
        # Rows for one chain whose head this process wrote last: lock, insert and commit in
        # one round trip, without reading the head. If another process appended meanwhile,
        # the seq we chose exists (primary key), the transaction fails as a whole and the
        # batch goes the reading way; seqs are dense, so the chain stays linear either way.
        fast = self._fast_links(batch)
        if fast is None:
            return False
        table, start, heads, values = fast
        try:
            with conn.pipeline(), conn.cursor() as cur:
                cur.execute(_LOCK, (self._keys[table],))
                _insert(cur, table, values)
                conn.commit()
        except psycopg.errors.UniqueViolation:
            conn.rollback()
            del self._heads[table]
            return False
        self._fast_committed(batch, table, start, heads)
        return True

    def _write_batch(
        self, conn: psycopg.Connection[Any], batch: list[Pending]
    ) -> dict[AuditTable, tuple[int, str]]:
        tables = sorted({row.table for pending in batch for row in pending.rows})
        heads: dict[AuditTable, tuple[int, str]] = {}
        with conn.cursor() as cur:
            # Lock first (in sorted order: no deadlock), then read each head: pipelined, so
            # one round trip; each statement still gets its own READ COMMITTED snapshot.
            for table in tables:
                cur.execute(_LOCK, (self._keys[table],))
            readers = []
            for table in tables:
                reader = conn.cursor()
                reader.execute(f"SELECT seq, row_hash FROM {table.value} ORDER BY seq DESC LIMIT 1")
                readers.append((table, reader))
            for table, reader in readers:
                head = reader.fetchone()
                if head is not None:
                    heads[table] = (int(head[0]), head[1])
            by_table: dict[AuditTable, list[LinkValues]] = {t: [] for t in tables}
            for pending in batch:
                values = link_values(pending.rows, heads)
                pending.seqs = [value[0] for value in values]
                for row, value in zip(pending.rows, values, strict=True):
                    by_table[row.table].append(value)
            for table, values in by_table.items():
                _insert(cur, table, values)
            now = format_utc(self._clock.now())
            for pending in batch:
                if pending.control is not None:
                    key, state = pending.control.key, pending.control.value
                    cur.execute(_UPSERT_CONTROL, (key, state, now))
                    version = cur.fetchone()
                    pending.version = int(version[0]) if version else None
                    cur.execute("SELECT pg_notify(%s, %s)", (self.channel, key))
        return heads

    # -- control state ----------------------------------------------------------------------

    def _watch(self) -> psycopg.Connection[Any]:
        if self._watch_conn is None or self._watch_conn.closed:
            conn = connect(self.url, autocommit=True)
            conn.execute(f'LISTEN "{self.channel}"')
            self._watch_conn = conn
        return self._watch_conn

    def _read_control(self) -> dict[str, tuple[int, str]]:
        try:
            rows = self._watch().execute("SELECT key, version, value FROM control_state").fetchall()
        except psycopg.Error as exc:
            self._drop_watch()
            raise translate(exc, "control state read") from exc
        return {key: (int(version), value) for key, version, value in rows}

    def _wait_notify(self, timeout: float) -> None:
        try:
            for _ in self._watch().notifies(timeout=timeout, stop_after=1):
                pass
        except psycopg.Error as exc:
            self._drop_watch()
            raise translate(exc, "control state watch") from exc

    def _drop_watch(self) -> None:
        if self._watch_conn is not None:
            self._watch_conn.close()
            self._watch_conn = None

    # -- reading ----------------------------------------------------------------------------

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        with self._read_lock:
            try:
                if self._read_conn.closed:
                    self._read_conn = connect(self.url, autocommit=True)
                return self._read_conn.execute(sql, params).fetchall()
            except psycopg.Error as exc:
                raise translate(exc, "read") from exc

    def _stream(self, sql: str, params: tuple[Any, ...] = ()) -> Iterator[Any]:
        try:
            with connect(self.url) as conn, conn.cursor(name="tradeguard_stream") as cur:
                cur.itersize = 20_000
                cur.execute(sql, params)
                yield from cur
        except psycopg.Error as exc:
            raise translate(exc, "read") from exc

    def _links(self, table: AuditTable) -> Iterator[StoredLink]:
        sql = (
            "SELECT seq, prev_hash, row_hash, canonical_json, "
            f"((canonical_json::jsonb) ->> 'seq') = seq::text FROM {table.value} ORDER BY seq"
        )
        for seq, prev, digest, canonical, ok in self._stream(sql):
            yield int(seq), prev, digest, canonical, bool(ok)

    def _find_signal_raw(self, signal_id: str) -> RawRow | None:
        rows = self._query(
            "SELECT seq, prev_hash, row_hash, canonical_json FROM signal_audit "
            f"WHERE signal_id = %s AND {FIRST_SIGNAL_ROW} ORDER BY seq LIMIT 1",
            (signal_id,),
        )
        return (int(rows[0][0]), rows[0][1], rows[0][2], rows[0][3]) if rows else None

    def _find_signals_raw(self, signal_ids: list[str]) -> dict[str, RawRow]:
        rows = self._query(
            "SELECT signal_id, seq, prev_hash, row_hash, canonical_json FROM signal_audit "
            f"WHERE signal_id = ANY(%s) AND {FIRST_SIGNAL_ROW} ORDER BY seq",
            (signal_ids,),
        )
        found: dict[str, RawRow] = {}
        for signal_id, seq, prev_hash, row_hash, canonical in rows:
            found.setdefault(signal_id, (int(seq), prev_hash, row_hash, canonical))
        return found

    def _head_raw(self, table: AuditTable) -> tuple[int, str] | None:
        rows = self._query(f"SELECT seq, row_hash FROM {table.value} ORDER BY seq DESC LIMIT 1")
        return (int(rows[0][0]), rows[0][1]) if rows else None

    # -- lifecycle --------------------------------------------------------------------------

    def ping(self) -> None:
        """Raise ``AuditUnavailableError`` unless the database accepts writes now."""
        if not self._writer.alive:
            raise AuditUnavailableError(ErrorCode.AUD_006, "the audit writer is not running")
        rows = self._query("SELECT pg_is_in_recovery(), current_setting('transaction_read_only')")
        if not rows or rows[0][0] or rows[0][1] == "on":
            raise AuditUnavailableError(ErrorCode.AUD_006, "the audit database is read-only")

    def close(self) -> None:
        """Commit what is queued and close every connection."""
        self._writer.close()
        self._cache.close()
        for conn in (self._write_conn, self._read_conn, self._watch_conn):
            if conn is not None:
                conn.close()


_SQL: dict[tuple[AuditTable, int], str] = {}
# psycopg caches its query conversion (and then prepares the statement on the server) only
# for statements with at most 50 parameters: 12 rows of 4 stay under that.
_CHUNK = 12


def _insert_sql(table: AuditTable, count: int) -> str:
    sql = _SQL.get((table, count))
    if sql is None:
        sql = _SQL[(table, count)] = (
            f"INSERT INTO {table.value} (seq, prev_hash, row_hash, canonical_json) VALUES "
            + ",".join(["(%s,%s,%s,%s)"] * count)
        )
    return sql


def _insert(cur: Any, table: AuditTable, values: list[LinkValues]) -> None:
    for start in range(0, len(values), _CHUNK):
        part = values[start : start + _CHUNK]
        cur.execute(_insert_sql(table, len(part)), [item for row in part for item in row])


__all__ = ["PostgresAuditStore", "connect", "lock_key", "translate"]
