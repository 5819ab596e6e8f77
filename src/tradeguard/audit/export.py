"""Export the chains (JSON lines or CSV) with their chain fields, and verify an export alone.

Every exported row carries ``table``, ``seq``, ``prev_hash``, ``row_hash`` and the stored
``canonical_json`` text, so an auditor re-computes each hash without the database. A time
window exports, per table, the contiguous seq range from the first to the last row inside it,
so the exported part of each chain is itself a verifiable chain.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from ..codes import ErrorCode
from ..errors import AuditTamperError, InvalidInputError
from ..ports import AuditStore, ChainHead, VerifyReport
from .base import ChainStoreBase, verify_links
from .chain import TABLES, StoredLink, canonical_seq_matches
from .records import AuditTable

FIELDS = ("table", "seq", "prev_hash", "row_hash", "canonical_json")
FORMATS = ("jsonl", "csv")


def _window(
    store: ChainStoreBase, table: AuditTable, since: datetime | None, until: datetime | None
) -> tuple[int, int] | None:
    low = high = None
    for seq, _prev, _digest, _canonical in store.raw_rows(table, since=since, until=until):
        low = seq if low is None else min(low, seq)
        high = seq if high is None else max(high, seq)
    return None if low is None or high is None else (low, high)


def _export_rows(
    store: ChainStoreBase, since: datetime | None, until: datetime | None
) -> Iterator[dict[str, Any]]:
    for table in TABLES:
        window = _window(store, table, since, until) if since or until else (1, 2**62)
        if window is None:
            continue
        for seq, prev, digest, canonical in store.raw_rows(table):
            if window[0] <= seq <= window[1]:
                yield {
                    "table": table.value,
                    "seq": seq,
                    "prev_hash": prev,
                    "row_hash": digest,
                    "canonical_json": canonical,
                }


def export_store(
    store: ChainStoreBase,
    out: Path,
    fmt: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> int:
    """Write the chains to ``out`` as ``jsonl`` or ``csv``; return the number of rows."""
    if fmt not in FORMATS:
        raise InvalidInputError(
            ErrorCode.INPUT_INVALID_VALUE, f"format must be jsonl or csv, not {fmt!r}"
        )
    count = 0
    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS) if fmt == "csv" else None
        if writer is not None:
            writer.writeheader()
        for row in _export_rows(store, since, until):
            if writer is not None:
                writer.writerow(row)
            else:
                handle.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
            count += 1
    return count


def _read_rows(handle: TextIO, is_csv: bool) -> Iterator[dict[str, Any]]:
    if is_csv:
        yield from csv.DictReader(handle)
        return
    for line in handle:
        if line.strip():
            yield json.loads(line)


def read_export(path: Path) -> dict[AuditTable, list[StoredLink]]:
    """Read an export into per-table links (in file order)."""
    chains: dict[AuditTable, list[StoredLink]] = {}
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            for row in _read_rows(handle, path.suffix.lower() == ".csv"):
                table, seq = AuditTable(row["table"]), int(row["seq"])
                canonical = str(row["canonical_json"])
                chains.setdefault(table, []).append(
                    (
                        seq,
                        str(row["prev_hash"]),
                        str(row["row_hash"]),
                        canonical,
                        canonical_seq_matches(canonical, seq),
                    )
                )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AuditTamperError(ErrorCode.AUD_008, f"cannot read the export {path}: {exc}") from exc
    return chains


def verify_export(path: Path, expected: Sequence[ChainHead] = ()) -> VerifyReport:
    """Re-compute the chains of an export; a chain may start mid-way (its first prev_hash)."""
    chains = read_export(path)
    return verify_links(((t, chains.get(t, [])) for t in TABLES), expected, anchored=False)


def verify_store(store: AuditStore, expected: Sequence[ChainHead] = ()) -> VerifyReport:
    """Verify ``store``'s chains and compare them with checkpointed heads (AUD-005)."""
    if isinstance(store, ChainStoreBase):
        return store.verify(expected)
    report = store.verify()
    if expected:
        raise AuditTamperError(
            ErrorCode.AUD_008, f"{type(store).__name__} cannot compare with a checkpoint"
        )
    return report


__all__ = ["FIELDS", "FORMATS", "export_store", "read_export", "verify_export", "verify_store"]
