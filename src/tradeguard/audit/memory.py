"""The in-memory twin of the audit store: same chains, same checks, nothing on disk."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime

from ..codes import ErrorCode
from ..errors import AuditUnavailableError, InvalidInputError
from ..policy import format_utc
from .base import ChainStoreBase, RawRow
from .chain import TABLES, LinkedRow, PreparedRow, StoredLink, canonical_seq_matches, link
from .control import ControlCache
from .records import AuditTable
from .writer import ControlWrite, Pending

_FIELDS = ("correlation_id", "timestamp_utc", "signal_id", "reason_code")
_REPEATS = ("SIGNAL_DUPLICATE", "SIGNAL_REPLAYED")


class MemoryAuditStore(ChainStoreBase):
    """``AuditStore`` held in memory; hash-chained like the real ones, for tests and demos."""

    def __init__(self) -> None:
        self.url = "memory://"
        self._lock = threading.Lock()
        self._chains: dict[AuditTable, list[LinkedRow]] = {t: [] for t in TABLES}
        self._index: dict[AuditTable, list[dict[str, object]]] = {t: [] for t in TABLES}
        self._signals: dict[str, int] = {}  # signal_id -> position of its first row
        self._control: dict[str, tuple[int, str]] = {}
        self._closed = False
        self._cache = ControlCache(self._read_control, watch=False, stale_after=None)

    def _read_control(self) -> dict[str, tuple[int, str]]:
        return dict(self._control)

    def _submit(self, rows: list[PreparedRow], control: ControlWrite | None) -> Pending:
        pending = Pending(rows, control)
        with self._lock:
            if self._closed:
                raise AuditUnavailableError(ErrorCode.AUD_006, "the audit store is closed")
            tables = {row.table for row in rows}
            heads = {t: (c[-1].seq, c[-1].row_hash) for t in tables if (c := self._chains[t])}
            linked_rows = [
                (linked, _index_of(linked.canonical_json)) for linked in link(rows, heads)
            ]
            self._check_first_rows(linked_rows)  # all or nothing, as the databases' index
            for linked, fields in linked_rows:
                chain = self._chains[linked.table]
                signal_id = fields.get("signal_id")
                if (
                    linked.table is AuditTable.SIGNAL
                    and isinstance(signal_id, str)
                    and fields.get("reason_code") not in _REPEATS
                ):
                    self._signals.setdefault(signal_id, len(chain))
                chain.append(linked)
                self._index[linked.table].append(fields)
                pending.seqs.append(linked.seq)
            if control is not None:
                version = self._control.get(control.key, (0, ""))[0] + 1
                self._control[control.key] = (version, control.value)
                pending.version = version
                self._cache.put(control.key, version, control.value)
        return pending

    def _check_first_rows(self, linked_rows: list[tuple[LinkedRow, dict[str, object]]]) -> None:
        # The twin of the databases' unique index: one first row per signal_id (migration 0002).
        seen: set[object] = set()
        for linked, fields in linked_rows:
            if linked.table is not AuditTable.SIGNAL or fields.get("reason_code") in _REPEATS:
                continue
            signal_id = fields.get("signal_id")
            if signal_id in self._signals or signal_id in seen:
                raise InvalidInputError(
                    ErrorCode.SIGNAL_DUPLICATE,
                    "another submission recorded this signal_id first; nothing of this one "
                    "was written",
                )
            seen.add(signal_id)

    async def _asubmit(self, rows: list[PreparedRow], control: ControlWrite | None) -> Pending:
        # Nothing to wait for in memory: the append is complete when ``_submit`` returns.
        return self._submit(rows, control)

    def _snapshot(self, table: AuditTable) -> list[LinkedRow]:
        with self._lock:
            return list(self._chains[table])

    def _links(self, table: AuditTable) -> Iterator[StoredLink]:
        for row in self._snapshot(table):
            ok = canonical_seq_matches(row.canonical_json, row.seq)
            yield row.seq, row.prev_hash, row.row_hash, row.canonical_json, ok

    def _select(
        self,
        table: AuditTable,
        since: datetime | None,
        until: datetime | None,
        correlation_id: str | None,
        limit: int | None,
        newest_first: bool,
    ) -> Iterator[RawRow]:
        with self._lock:
            pairs = list(zip(self._chains[table], self._index[table], strict=True))
        low = None if since is None else format_utc(since)
        high = None if until is None else format_utc(until)
        if newest_first:
            pairs.reverse()
        count = 0
        for row, fields in pairs:
            stamp = str(fields.get("timestamp_utc", ""))
            if (low is not None and stamp < low) or (high is not None and stamp > high):
                continue
            if correlation_id is not None and fields.get("correlation_id") != correlation_id:
                continue
            if limit is not None and count >= limit:
                return
            count += 1
            yield row.seq, row.prev_hash, row.row_hash, row.canonical_json

    def _find_signal_raw(self, signal_id: str) -> RawRow | None:
        with self._lock:
            position = self._signals.get(signal_id)
            if position is None:
                return None
            row = self._chains[AuditTable.SIGNAL][position]
        return row.seq, row.prev_hash, row.row_hash, row.canonical_json

    def _head_raw(self, table: AuditTable) -> tuple[int, str] | None:
        with self._lock:
            chain = self._chains[table]
            return (chain[-1].seq, chain[-1].row_hash) if chain else None

    def ping(self) -> None:
        """Raise ``AuditUnavailableError`` once the store is closed."""
        if self._closed:
            raise AuditUnavailableError(ErrorCode.AUD_006, "the audit store is closed")

    def close(self) -> None:
        """Refuse further appends."""
        self._closed = True


def _index_of(canonical: str) -> dict[str, object]:
    import json

    data = json.loads(canonical)
    return {key: data.get(key) for key in _FIELDS}


__all__ = ["MemoryAuditStore"]
