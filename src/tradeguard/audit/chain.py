"""Building and re-computing the per-table hash chains, independent of any database."""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from ..codes import ErrorCode
from ..errors import AuditTamperError, InvalidInputError
from ..ports import ChainBreak, ChainHead
from .canonical import GENESIS_HASH, seq_template
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


# (seq, prev_hash, row_hash, canonical_json): one row as the stores insert it.
LinkValues = tuple[int, str, str, str]


def link_values(
    rows: Iterable[PreparedRow], heads: dict[AuditTable, tuple[int, str]]
) -> list[LinkValues]:
    """Chain ``rows`` onto ``heads`` (seq, row_hash per table), updating ``heads`` in place.

    The writer runs this under its lock, so it does only the seq splice and the sha256.
    """
    out: list[LinkValues] = []
    append = out.append
    sha = hashlib.sha256
    genesis = (0, GENESIS_HASH)
    for row in rows:
        table = row.table
        seq, prev = heads.get(table, genesis)
        seq += 1
        canonical = f"{row.head}{seq}{row.tail}"
        digest = sha(f"{prev}{canonical}".encode()).hexdigest()
        heads[table] = (seq, digest)
        append((seq, prev, digest, canonical))
    return out


def link(rows: Iterable[PreparedRow], heads: dict[AuditTable, tuple[int, str]]) -> list[LinkedRow]:
    """Chain ``rows`` onto ``heads`` (seq, row_hash per table), updating ``heads`` in place."""
    rows = list(rows)
    values = link_values(rows, heads)
    return [LinkedRow(row.table, *value) for row, value in zip(rows, values, strict=True)]


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


def _body(canonical: str | bytes) -> bytes:
    return (
        canonical if type(canonical) is bytes else str(canonical).encode("utf-8", "surrogateescape")
    )


def _check(link: StoredLink, exp_seq: int, exp_prev: str) -> str | None:
    """Return what is wrong with one stored row, or None when it is intact."""
    seq, prev, stored, canonical, seq_known = link
    body = _body(canonical)
    computed = hashlib.sha256(prev.encode("ascii", "replace") + body).hexdigest()
    seq_ok = (b'"seq":%d' % seq in body) if seq_known is None else seq_known
    if seq == exp_seq and prev == exp_prev and computed == stored and seq_ok:
        return None
    return _problem(seq, exp_seq, prev, exp_prev, stored, computed)


def _intact_prefix(
    links: Iterator[StoredLink], exp_seq: int, exp_prev: str, want: Mapping[int, str]
) -> tuple[int, StoredLink | None, dict[int, str], tuple[int, str]]:
    """Hash rows while they are intact (the hot loop of ``verify``).

    Returns the number of intact rows, the first row that is not (None at the end), the
    wanted hashes seen and the last intact (seq, row_hash).
    """
    sha = hashlib.sha256
    found: dict[int, str] = {}
    count = 0
    for link in links:
        seq, prev, stored, canonical, seq_known = link
        body = canonical if type(canonical) is bytes else _body(canonical)
        if (
            seq != exp_seq
            or prev != exp_prev
            or sha(prev.encode("ascii", "replace") + body).hexdigest() != stored
            or not ((b'"seq":%d' % seq in body) if seq_known is None else seq_known)
        ):
            return count, link, found, (exp_seq - 1, exp_prev)
        if seq in want:
            found[seq] = stored
        count += 1
        exp_seq = seq + 1
        exp_prev = stored
    return count, None, found, (exp_seq - 1, exp_prev)


def verify_chain(
    table: AuditTable,
    links: Iterable[StoredLink],
    *,
    anchored: bool = True,
    wanted: Mapping[int, str] | None = None,
    anchor: tuple[int, str] | None = None,
) -> ChainResult:
    """Re-compute one chain from ``links`` in seq order and report its first break.

    Args:
        table: The chain's table.
        links: Stored rows in ascending seq order.
        anchored: True when the first row must be seq 1 with the genesis prev_hash; False for
            an export that starts mid-chain (its first prev_hash is taken as given).
        wanted: Seqs whose stored row_hash should be collected (checkpoint comparison).
        anchor: The (seq, prev_hash) the first row must have: verifying one range of a chain
            whose previous row someone else checks. Overrides ``anchored``.
    """
    result = ChainResult(table)
    want = wanted or {}
    rows = iter(links)
    exp_seq, exp_prev = anchor or (1, GENESIS_HASH)
    if (
        not anchored and anchor is None
    ):  # an export's first row: its prev_hash is the anchor (genesis at 1)
        first = next(rows, None)
        if first is None:
            result.head = ChainHead(table, 0, GENESIS_HASH)
            return result
        exp_seq, exp_prev = first[0], (GENESIS_HASH if first[0] == 1 else first[1])
        rows = itertools.chain((first,), rows)
    count, bad, result.hashes_at, (seq, stored) = _intact_prefix(rows, exp_seq, exp_prev, want)
    if bad is not None:
        message = _check(bad, seq + 1, stored) or "the row could not be checked"
        result.first_break = ChainBreak(table, bad[0], ErrorCode.AUD_004.value, message)
        for seq, _prev, stored, _canonical, _known in itertools.chain((bad,), rows):
            if seq in want:
                result.hashes_at[seq] = stored
            count += 1
    result.rows_checked = count
    result.head = ChainHead(table, seq, stored if count else GENESIS_HASH)
    return result


def tamper_code(message: str) -> ErrorCode | None:
    """Return the AUD code a trigger put at the start of a database error message."""
    for code in (ErrorCode.AUD_001, ErrorCode.AUD_002, ErrorCode.AUD_003):
        if code.value in message:
            return code
    return None


FIRST_SIGNAL_ROW: Final = "reason_code NOT IN ('SIGNAL_DUPLICATE', 'SIGNAL_REPLAYED')"
"""The rows of ``signal_audit`` that are a signal's first (migration 0002's unique index)."""

_FIRST_SIGNAL_VIOLATIONS: Final = (
    "signal_audit_first_signal_id_idx",  # PostgreSQL names the index
    "UNIQUE constraint failed: signal_audit.signal_id",  # SQLite names the column
)


def duplicate_signal_error(exc: BaseException) -> InvalidInputError | None:
    """Translate a violation of the one-first-row-per-signal_id index (SIGNAL_DUPLICATE)."""
    text = str(exc)
    if not any(marker in text for marker in _FIRST_SIGNAL_VIOLATIONS):
        return None
    return InvalidInputError(
        ErrorCode.SIGNAL_DUPLICATE,
        "another submission recorded this signal_id first; nothing of this one was written",
    )


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
    "FIRST_SIGNAL_ROW",
    "TABLES",
    "ChainResult",
    "LinkValues",
    "LinkedRow",
    "PreparedRow",
    "StoredLink",
    "canonical_seq_matches",
    "duplicate_signal_error",
    "link",
    "link_values",
    "prepare",
    "stored_row",
    "tamper_code",
    "tamper_error",
    "verify_chain",
]
