"""What every audit store shares: appends through prepared rows, verification, control stores."""

from __future__ import annotations

from collections.abc import Coroutine, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from ..codes import ErrorCode
from ..policy import LatchStore, format_utc
from ..ports import ChainBreak, ChainHead, KillSwitchStore, VerifyReport
from .chain import (
    TABLES,
    ChainResult,
    LinkValues,
    PreparedRow,
    StoredLink,
    link_values,
    prepare,
    stored_row,
    verify_chain,
)
from .control import ControlCache, DurableKillSwitchStore, DurableLatchStore
from .records import AuditRecord, AuditTable
from .writer import ControlWrite, Pending

# (seq, prev_hash, row_hash, canonical_json)
RawRow = tuple[int, str, str, str]


def compare_checkpoint(result: ChainResult, expected: Sequence[ChainHead]) -> ChainBreak | None:
    """Return an AUD-005 break when the chain no longer holds a checkpointed head."""
    for head in expected:
        if head.table is not result.table or head.seq == 0:
            continue
        found = result.hashes_at.get(head.seq)
        if found is None:
            return ChainBreak(
                result.table,
                head.seq,
                ErrorCode.AUD_005.value,
                f"checkpoint names seq {head.seq} but the chain ends at "
                f"{result.head.seq if result.head else 0} (rows removed from the end)",
            )
        if found != head.row_hash:
            return ChainBreak(
                result.table,
                head.seq,
                ErrorCode.AUD_005.value,
                "row_hash differs from the checkpoint (the chain was rewritten)",
            )
    return None


def verify_links(
    sources: Iterable[tuple[AuditTable, Iterable[StoredLink]]],
    expected: Sequence[ChainHead] = (),
    *,
    anchored: bool = True,
) -> VerifyReport:
    """Re-compute each chain and compare it with checkpointed heads."""
    results = []
    for table, links in sources:
        wanted = {h.seq: h.row_hash for h in expected if h.table is table}
        results.append(verify_chain(table, links, anchored=anchored, wanted=wanted))
    return report(results, expected)


def report(results: Iterable[ChainResult], expected: Sequence[ChainHead] = ()) -> VerifyReport:
    """Turn each chain's result into one report, adding checkpoint breaks (AUD-005)."""
    rows = 0
    heads: list[ChainHead] = []
    breaks: list[ChainBreak] = []
    for result in results:
        rows += result.rows_checked
        if result.head is not None:
            heads.append(result.head)
        if result.first_break is not None:
            breaks.append(result.first_break)
        checkpoint_break = compare_checkpoint(result, expected)
        if checkpoint_break is not None:
            breaks.append(checkpoint_break)
    return VerifyReport(rows_checked=rows, heads=tuple(heads), breaks=tuple(breaks))


class ChainStoreBase:
    """Implements the ``AuditStore`` protocol over a few backend hooks."""

    _cache: ControlCache

    def _submit(self, rows: list[PreparedRow], control: ControlWrite | None) -> Pending:
        raise NotImplementedError

    def _asubmit(
        self, rows: list[PreparedRow], control: ControlWrite | None
    ) -> Coroutine[Any, Any, Pending]:
        raise NotImplementedError

    def _links(self, table: AuditTable) -> Iterator[StoredLink]:
        raise NotImplementedError

    def _select(
        self,
        table: AuditTable,
        since: datetime | None,
        until: datetime | None,
        correlation_id: str | None,
        limit: int | None,
        newest_first: bool,
    ) -> Iterator[RawRow]:
        raise NotImplementedError

    def _find_signal_raw(self, signal_id: str) -> RawRow | None:
        raise NotImplementedError

    def _head_raw(self, table: AuditTable) -> tuple[int, str] | None:
        raise NotImplementedError

    def close(self) -> None:
        """Flush and release connections."""
        raise NotImplementedError

    # -- appends ----------------------------------------------------------------------------

    def _append(self, record: AuditRecord) -> int:
        return self._submit([prepare(record)], None).seqs[0]

    def record_decision(self, record: AuditRecord) -> int:
        """Append a decision row; return its seq once durable."""
        return self._append(record)

    def record_signal(self, record: AuditRecord) -> int:
        """Append a signal row; return its seq once durable."""
        return self._append(record)

    def record_order_event(self, record: AuditRecord) -> int:
        """Append an order event row; return its seq once durable."""
        return self._append(record)

    def record_operator_action(self, record: AuditRecord) -> int:
        """Append an operator action row; return its seq once durable."""
        return self._append(record)

    def record_many(self, records: Sequence[AuditRecord]) -> list[int]:
        """Append several rows in one durable transaction; return their seqs in order."""
        if not records:
            return []
        return self._submit([prepare(record) for record in records], None).seqs

    # -- appends from asyncio tasks ---------------------------------------------------------
    # The same writer, chain and errors as the calls above; the canonical JSON is prepared in
    # the calling task and the event loop never blocks while the commit is in flight.

    async def arecord_decision(self, record: AuditRecord) -> int:
        """Append a decision row; return its seq once durable (awaitable)."""
        return (await self._asubmit([prepare(record)], None)).seqs[0]

    async def arecord_signal(self, record: AuditRecord) -> int:
        """Append a signal row; return its seq once durable (awaitable)."""
        return (await self._asubmit([prepare(record)], None)).seqs[0]

    async def arecord_order_event(self, record: AuditRecord) -> int:
        """Append an order event row; return its seq once durable (awaitable)."""
        return (await self._asubmit([prepare(record)], None)).seqs[0]

    async def arecord_operator_action(self, record: AuditRecord) -> int:
        """Append an operator action row; return its seq once durable (awaitable)."""
        return (await self._asubmit([prepare(record)], None)).seqs[0]

    async def arecord_many(self, records: Sequence[AuditRecord]) -> list[int]:
        """Append several rows in one durable transaction; return their seqs (awaitable)."""
        if not records:
            return []
        return (await self._asubmit([prepare(record) for record in records], None)).seqs

    # -- reads ------------------------------------------------------------------------------

    def find_signal(self, signal_id: str) -> dict[str, Any] | None:
        """Return the first ``signal_audit`` row of ``signal_id`` (as stored), or None."""
        raw = self._find_signal_raw(signal_id)
        return None if raw is None else stored_row(AuditTable.SIGNAL, *raw)

    def find_signals(self, signal_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Return the first ``signal_audit`` row of each of ``signal_ids`` that has one.

        One query for a batch (the gate's idempotency check), where ``find_signal`` per id
        would cost a query, and with PostgreSQL a round trip, each.
        """
        if not signal_ids:
            return {}
        found = self._find_signals_raw(list(dict.fromkeys(signal_ids)))
        return {key: stored_row(AuditTable.SIGNAL, *raw) for key, raw in found.items()}

    def _find_signals_raw(self, signal_ids: list[str]) -> dict[str, RawRow]:
        found: dict[str, RawRow] = {}
        for signal_id in signal_ids:
            raw = self._find_signal_raw(signal_id)
            if raw is not None:
                found[signal_id] = raw
        return found

    def rows(
        self,
        table: AuditTable,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        correlation_id: str | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> Iterator[dict[str, Any]]:
        """Yield stored rows with their chain fields and the stored canonical JSON."""
        table = AuditTable(table)
        for raw in self._select(table, since, until, correlation_id, limit, newest_first):
            yield stored_row(table, *raw)

    def raw_rows(
        self,
        table: AuditTable,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Iterator[RawRow]:
        """Yield ``(seq, prev_hash, row_hash, canonical_json)`` in seq order (for export)."""
        return self._select(AuditTable(table), since, until, None, None, False)

    def heads(self) -> tuple[ChainHead, ...]:
        """Return the head of every chain (seq 0 and the genesis hash when empty)."""
        out: list[ChainHead] = []
        for table in TABLES:
            head = self._head_raw(table)
            out.append(ChainHead(table, *head) if head else ChainHead(table, 0, "0" * 64))
        return tuple(out)

    def verify(self, expected: Sequence[ChainHead] = ()) -> VerifyReport:
        """Re-compute every chain from its genesis; compare with checkpointed heads if given."""
        return verify_links(((t, self._links(t)) for t in TABLES), expected)

    # -- control state ----------------------------------------------------------------------

    def latch_store(self) -> LatchStore:
        """Return the durable latch store kept in this database."""
        return DurableLatchStore(self._submit, self._cache)

    def kill_switch_store(self) -> KillSwitchStore:
        """Return the durable kill switch store kept in this database."""
        return DurableKillSwitchStore(self._submit, self._cache)


class SqlChainStore(ChainStoreBase):
    """A chain store whose rows live in SQL tables; backends give the placeholder and stream."""

    _placeholder = "?"
    _heads: dict[AuditTable, tuple[int, str]]

    def _fast_links(
        self, batch: list[Pending], max_rows: int | None = None
    ) -> tuple[AuditTable, int, dict[AuditTable, tuple[int, str]], list[LinkValues]] | None:
        """Chain a batch onto the head this process wrote last, when the fast path applies.

        It applies to rows of one chain, with no control-state write, whose head this process
        knows; otherwise None and the batch goes the locked, head-reading way. Returns the
        table, the head seq before the batch, the heads after it, and the rows' links.
        """
        rows = [row for pending in batch for row in pending.rows]
        if not rows or (max_rows is not None and len(rows) > max_rows):
            return None
        table = rows[0].table
        head = self._heads.get(table)
        if (
            head is None
            or any(pending.control is not None for pending in batch)
            or any(row.table is not table for row in rows)
        ):
            return None
        heads = {table: head}
        return table, head[0], heads, link_values(rows, heads)

    def _fast_committed(
        self,
        batch: list[Pending],
        table: AuditTable,
        start: int,
        heads: dict[AuditTable, tuple[int, str]],
    ) -> None:
        """Hand each caller its seqs after a fast-path commit and remember the new head."""
        seq = start
        for pending in batch:
            count = len(pending.rows)
            pending.seqs = list(range(seq + 1, seq + 1 + count))
            seq += count
        self._heads[table] = heads[table]

    def _stream(self, sql: str, params: tuple[Any, ...] = ()) -> Iterator[Any]:
        raise NotImplementedError

    def _select(
        self,
        table: AuditTable,
        since: datetime | None,
        until: datetime | None,
        correlation_id: str | None,
        limit: int | None,
        newest_first: bool,
    ) -> Iterator[RawRow]:
        mark = self._placeholder
        clauses: list[str] = []
        params: list[Any] = []
        if since is not None:
            clauses.append(f"timestamp_utc >= {mark}")
            params.append(format_utc(since))
        if until is not None:
            clauses.append(f"timestamp_utc <= {mark}")
            params.append(format_utc(until))
        if correlation_id is not None:
            clauses.append(f"correlation_id = {mark}")
            params.append(correlation_id)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        order = "DESC" if newest_first else "ASC"
        tail = f" LIMIT {int(limit)}" if limit is not None else ""
        sql = (
            f"SELECT seq, prev_hash, row_hash, canonical_json FROM {table.value}"
            f"{where} ORDER BY seq {order}{tail}"
        )
        for row in self._stream(sql, tuple(params)):
            yield int(row[0]), row[1], row[2], row[3]


__all__ = [
    "ChainStoreBase",
    "RawRow",
    "SqlChainStore",
    "compare_checkpoint",
    "report",
    "verify_links",
]
