"""Building and re-computing the per-table hash chains, independent of any database."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..codes import ErrorCode
from ..errors import AuditTamperError, InvalidInputError
from ..ports import ChainBreak, ChainHead
from .canonical import GENESIS_HASH, row_hash, seq_template
from .records import TABLE_OF, AuditRecord, AuditTable

TABLES: tuple[AuditTable, ...] = tuple(AuditTable)

# (seq, prev_hash, row_hash, canonical_json as text or raw bytes, whether the canonical JSON's
# seq equals the column; None: check here by finding the '"seq":N' member in the bytes)
StoredLink = tuple[int, str, str, str | bytes, bool | None]


@dataclass(frozen=True, slots=True)
class PreparedRow:
    """A record turned into canonical JSON around its (not yet known) seq."""

    table: AuditTable
    head: str
    tail: str


@dataclass(frozen=True, slots=True)
class LinkedRow:
    """A row with its place in the chain: ready to insert."""

    table: AuditTable
    seq: int
    prev_hash: str
    row_hash: str
    canonical_json: str


def prepare(record: AuditRecord) -> PreparedRow:
    """Return ``record`` as canonical JSON waiting for its seq."""
    table = TABLE_OF.get(type(record))
    if table is None:
        raise InvalidInputError(
            ErrorCode.INPUT_INVALID_VALUE, f"{type(record).__name__} is not an audit record"
        )
    head, tail = seq_template(record.to_row())
    return PreparedRow(table, head, tail)


def link(rows: Iterable[PreparedRow], heads: dict[AuditTable, tuple[int, str]]) -> list[LinkedRow]:
    """Chain ``rows`` onto ``heads`` (seq, row_hash per table), updating ``heads`` in place."""
    out: list[LinkedRow] = []
    for row in rows:
        seq, prev = heads.get(row.table, (0, GENESIS_HASH))
        seq += 1
        canonical = f"{row.head}{seq}{row.tail}"
        digest = row_hash(prev, canonical)
        heads[row.table] = (seq, digest)
        out.append(LinkedRow(row.table, seq, prev, digest, canonical))
    return out


def canonical_seq_matches(canonical: str, seq: int) -> bool:
    """Return True when the canonical JSON's ``seq`` equals ``seq`` (False if unparseable)."""
    try:
        data = json.loads(canonical)
    except ValueError:
        return False
    return isinstance(data, dict) and data.get("seq") == seq


@dataclass(slots=True)
class ChainResult:
    """What re-computing one chain found."""

    table: AuditTable
    rows_checked: int = 0
    head: ChainHead | None = None
    first_break: ChainBreak | None = None
    hashes_at: dict[int, str] = field(default_factory=dict)


def _problem(seq: int, exp_seq: int, prev: str, exp_prev: str, stored: str, computed: str) -> str:
    if seq != exp_seq:
        return f"expected seq {exp_seq}, found {seq} (rows removed, duplicated or inserted)"
    if prev != exp_prev:
        return "prev_hash does not equal the previous row's row_hash (a row was removed or changed)"
    if stored != computed:
        return "row_hash does not match the stored canonical JSON (the row was changed)"
    return "the seq inside the canonical JSON differs from the seq column"


def verify_chain(
    table: AuditTable,
    links: Iterable[StoredLink],
    *,
    anchored: bool = True,
    wanted: Mapping[int, str] | None = None,
) -> ChainResult:
    """Re-compute one chain from ``links`` in seq order and report its first break.

    Args:
        table: The chain's table.
        links: Stored rows in ascending seq order.
        anchored: True when the first row must be seq 1 with the genesis prev_hash; False for
            an export that starts mid-chain (its first prev_hash is taken as given).
        wanted: Seqs whose stored row_hash should be collected (checkpoint comparison).
    """
    result = ChainResult(table)
    want = wanted or {}
    sha = hashlib.sha256
    exp_seq, exp_prev = (1, GENESIS_HASH) if anchored else (-1, "")
    count = 0
    seq, stored = 0, GENESIS_HASH
    for seq, prev, stored, canonical, seq_known in links:
        count += 1
        if exp_seq == -1:  # an export's first row: its prev_hash is the anchor (genesis at 1)
            exp_seq, exp_prev = seq, (GENESIS_HASH if seq == 1 else prev)
        body = (
            canonical
            if isinstance(canonical, bytes)
            else canonical.encode("utf-8", "surrogateescape")
        )
        computed = sha(prev.encode("ascii", "replace") + body).hexdigest()
        seq_ok = (b'"seq":%d' % seq in body) if seq_known is None else seq_known
        if result.first_break is None and not (
            seq == exp_seq and prev == exp_prev and computed == stored and seq_ok
        ):
            message = _problem(seq, exp_seq, prev, exp_prev, stored, computed)
            result.first_break = ChainBreak(table, seq, ErrorCode.AUD_004.value, message)
        if seq in want:
            result.hashes_at[seq] = stored
        exp_seq, exp_prev = seq + 1, stored
    result.rows_checked = count
    result.head = ChainHead(table, seq, stored if count else GENESIS_HASH)
    return result


def tamper_code(message: str) -> ErrorCode | None:
    """Return the AUD code a trigger put at the start of a database error message."""
    for code in (ErrorCode.AUD_001, ErrorCode.AUD_002, ErrorCode.AUD_003):
        if code.value in message:
            return code
    return None


def tamper_error(exc: BaseException) -> AuditTamperError | None:
    """Translate a database error raised by an append-only trigger into ``AuditTamperError``."""
    code = tamper_code(str(exc))
    if code is None:
        return None
    return AuditTamperError(code, str(exc).strip().splitlines()[0])


def stored_row(
    table: AuditTable, seq: int, prev: str, digest: str, canonical: str
) -> dict[str, Any]:
    """Return a stored row as the dict ``AuditStore.rows`` yields."""
    data: dict[str, Any] = json.loads(canonical)
    data.update(
        seq=seq, prev_hash=prev, row_hash=digest, canonical_json=canonical, table=table.value
    )
    return data


__all__ = [
    "TABLES",
    "ChainResult",
    "LinkedRow",
    "PreparedRow",
    "StoredLink",
    "canonical_seq_matches",
    "link",
    "prepare",
    "stored_row",
    "tamper_code",
    "tamper_error",
    "verify_chain",
]
