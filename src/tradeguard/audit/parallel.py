"""Verify long SQLite chains in seq ranges, one worker process per range, and join the results.

Range ``[lo, hi]`` is read from ``lo - 1``: that row's stored ``row_hash`` anchors the range
(the worker of the range before checks the row itself). When that row is missing, the range
starts expecting seq ``lo - 1``, so its first row is the break, exactly where a single pass
would report it. The first break of the chain is the first break of the lowest range that has
one, so the reported seq is the same as a single pass finds.
"""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from ..ports import ChainBreak, ChainHead
from .canonical import GENESIS_HASH
from .chain import ChainResult, verify_chain
from .records import AuditTable

# Raw bytes: hashing needs no decode, and a byte that is not UTF-8 is a break, not a crash.
LINKS_SQL = (
    "SELECT seq, prev_hash, row_hash, CAST(canonical_json AS BLOB), NULL FROM {table} "
    "WHERE seq >= ? AND seq <= ? ORDER BY seq"
)
ROWS_PER_WORKER = 250_000
MAX_WORKERS = 4


def verify_range(
    path: str, table: AuditTable, lo: int, hi: int, wanted: Mapping[int, str]
) -> ChainResult:
    """Verify seqs ``lo..hi`` of one chain (run in a worker process)."""
    conn = sqlite3.connect(path, timeout=30.0)
    try:
        rows = conn.execute(LINKS_SQL.format(table=table.value), (max(lo - 1, 1), hi))
        anchor = (1, GENESIS_HASH)
        if lo > 1:
            first = next(rows, None)
            if first is None:
                return ChainResult(table)
            if first[0] == lo - 1:
                anchor = (lo, first[2])
            else:  # the anchoring row is missing: the range's first row is the break
                anchor = (lo - 1, "")
                rows = itertools.chain((first,), rows)  # type: ignore[assignment]
        return verify_chain(table, rows, wanted=wanted, anchor=anchor)
    finally:
        conn.close()


def split(last_seq: int, workers: int) -> list[tuple[int, int]]:
    """Return ``workers`` contiguous ranges covering seqs ``1..last_seq``."""
    size = -(-last_seq // workers)
    return [(lo, min(lo + size - 1, last_seq)) for lo in range(1, last_seq + 1, size)]


def join(table: AuditTable, parts: Sequence[ChainResult]) -> ChainResult:
    """Join the results of consecutive ranges into the result of the whole chain."""
    result = ChainResult(table)
    for part in parts:
        result.rows_checked += part.rows_checked
        result.hashes_at.update(part.hashes_at)
        if result.first_break is None:
            result.first_break = part.first_break
        if part.rows_checked:
            result.head = part.head
    if result.head is None:
        result.head = ChainHead(table, 0, GENESIS_HASH)
    return result


def worker_count(last_seq: int, rows_per_worker: int = ROWS_PER_WORKER) -> int:
    """Return how many processes are worth starting for a chain that ends at ``last_seq``."""
    cpus = os.cpu_count() or 1
    return max(1, min(MAX_WORKERS, cpus, last_seq // max(rows_per_worker, 1)))


def verify_tables(
    path: str,
    last_seqs: Mapping[AuditTable, int],
    wanted: Mapping[AuditTable, Mapping[int, str]],
    *,
    rows_per_worker: int = ROWS_PER_WORKER,
) -> dict[AuditTable, ChainResult]:
    """Verify the chains that are long enough in parallel; return their results.

    Workers are fresh interpreters (``python -m tradeguard.audit.parallel``): never a fork of
    a process that runs threads, and no re-import of the caller's main module.

    Raises:
        OSError: A worker could not be started, failed, or answered nonsense.
    """
    plans = {
        table: split(last, count)
        for table, last in last_seqs.items()
        if (count := worker_count(last, rows_per_worker)) > 1
    }
    workers = {
        table: [_start(path, table, lo, hi, wanted.get(table, {})) for lo, hi in ranges]
        for table, ranges in plans.items()
    }
    try:
        return {
            table: join(table, [_finish(table, process) for process in processes])
            for table, processes in workers.items()
        }
    finally:
        for processes in workers.values():
            for process in processes:
                if process.poll() is None:
                    process.kill()
                    process.wait()


def _start(
    path: str, table: AuditTable, lo: int, hi: int, wanted: Mapping[int, str]
) -> subprocess.Popen[bytes]:
    request: dict[str, Any] = {"path": path, "table": table.value, "lo": lo, "hi": hi}
    request["wanted"] = {str(seq): digest for seq, digest in wanted.items() if lo <= seq <= hi}
    process = subprocess.Popen(
        [sys.executable, "-m", "tradeguard.audit.parallel"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    if process.stdin is not None:  # tiny, and written before any worker is waited for
        process.stdin.write(json.dumps(request).encode())
        process.stdin.close()
        process.stdin = None
    return process


def _finish(table: AuditTable, process: subprocess.Popen[bytes]) -> ChainResult:
    out, err = process.communicate()
    if process.returncode != 0:
        raise OSError(f"verify worker exited with {process.returncode}: {err.decode()[-500:]}")
    try:
        data: dict[str, Any] = json.loads(out)
        result = ChainResult(table, rows_checked=int(data["rows"]))
        if data["break"] is not None:
            seq, code, message = data["break"]
            result.first_break = ChainBreak(table, int(seq), str(code), str(message))
        if data["head"] is not None:
            result.head = ChainHead(table, int(data["head"][0]), str(data["head"][1]))
        result.hashes_at = {int(seq): str(digest) for seq, digest in data["hashes"].items()}
    except (ValueError, KeyError, TypeError) as exc:
        raise OSError(f"verify worker answered nonsense: {exc}") from exc
    return result


def main() -> int:
    """Worker entry: read a range request (JSON) on stdin, write its result (JSON) on stdout."""
    request = json.loads(sys.stdin.buffer.read())
    wanted = {int(seq): digest for seq, digest in request["wanted"].items()}
    table = AuditTable(request["table"])
    result = verify_range(request["path"], table, int(request["lo"]), int(request["hi"]), wanted)
    broken = result.first_break
    answer = {
        "rows": result.rows_checked,
        "break": None if broken is None else [broken.seq, broken.code, broken.message],
        "head": None if result.head is None else [result.head.seq, result.head.row_hash],
        "hashes": {str(seq): digest for seq, digest in result.hashes_at.items()},
    }
    sys.stdout.write(json.dumps(answer))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["ROWS_PER_WORKER", "join", "split", "verify_range", "verify_tables", "worker_count"]
