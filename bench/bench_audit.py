"""Audit trail: durable appends/s and latency, verify rows/s, baselines and floors in one run.

What each figure is:

- ``appends`` (threads): 1, 8 and 32 threads, each appending one record and blocking until it
  is durable before the next (group commit), on SQLite (WAL, ``synchronous=FULL``) and
  PostgreSQL (``synchronous_commit=on``). Latency is per append, as the caller sees it.
- ``task_appends`` (asyncio): 1, 8 and 32 tasks in one event loop, each awaiting its durable
  ``arecord_decision`` before the next; the same writer, chain and durability. The 32 tasks
  end up in one batch, so the loop's work between two commits (canonical JSON and asyncio,
  about 15-20 us a task) adds to each commit instead of overlapping it.
- ``commit_floor_32_rows``: one thread commits prepared 32-row batches (fresh records) back to
  back through the same writer: no appenders, no canonical JSON. With 32 appenders that each
  wait for their append, a batch holds at most 32 rows, so ``32 / mean commit time`` bounds
  what any appender design can reach on this machine and schema (``ceiling_appends_per_s``).
- ``gil_floor``: 32 threads, or 32 tasks, through ``GroupCommitWriter`` with a commit that
  writes nothing (``no_op``) or only sleeps 300 us like a fast fsync (``sleep_300us``). It
  is the cost of handing appends between appenders and the writer in one CPython process on
  this machine: thread appenders cannot exceed it whatever the database does.
- baseline SQLite: one durable transaction per row (BEGIN IMMEDIATE, read head, insert,
  commit), each thread with its own connection;
- baseline PostgreSQL: the trigger design (BEFORE INSERT trigger: advisory lock, last hash
  ``FOR UPDATE``, pgcrypto ``digest``; one commit per row), 32 threads with a connection each;
  the PostgreSQL target is 10x this figure at the same concurrency, measured in the same run;
- verify rows/s over 1,000,000 SQLite rows (written with ``record_many`` in large batches);
- p99 append latency at a paced 1,000 appends/s (4 threads);
- canonical JSON encode time per typical row of each table, the stdlib encoder (as it was)
  vs ``canonical_json`` (orjson path), and their ratio (``bench_canonical``).

``summary.targets_met`` compares the best 32-appender figure (threads or tasks) with each
target; the figures behind it are in the sections above.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast
from urllib.parse import quote

from tradeguard import open_audit_store
from tradeguard.audit.base import ChainStoreBase
from tradeguard.audit.chain import PreparedRow, prepare
from tradeguard.audit.records import AuditRecord
from tradeguard.audit.writer import GroupCommitWriter, Pending
from tradeguard.ids import new_correlation_id
from tradeguard.policy import PolicyDecisionRecord

from . import bench_canonical
from .common import percentile, write_result

PG_URL = os.environ.get("TRADEGUARD_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
VERIFY_ROWS = 1_000_000
RECORD_MANY_ROWS = 100_000
TARGETS = {
    "sqlite_32_appends_per_s": 50_000,
    "postgres_vs_trigger_baseline": 6.0,
    "sqlite_32_vs_one_commit_per_row": 3.0,
    "verify_rows_per_s": 300_000,
    "paced_1000_p99_ms": 5.0,
}


def _record(i: int) -> PolicyDecisionRecord:
    # The correlation id the gate gives every decision (time-ordered UUIDv7, see ids.py).
    return bench_canonical.decision_record(
        new_correlation_id(), datetime.now(UTC), Decimal(i % 100)
    )


def _threads(count: int, per_thread: int, append: Callable[[Any], object]) -> dict[str, Any]:
    records = [[_record(i) for i in range(per_thread)] for _ in range(count)]
    latencies: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(count + 1)

    def work(mine: list[PolicyDecisionRecord]) -> None:
        local: list[float] = []
        clock = time.perf_counter
        barrier.wait()
        for record in mine:
            start = clock()
            append(record)
            local.append(clock() - start)
        with lock:
            latencies.extend(local)

    threads = [threading.Thread(target=work, args=(mine,)) for mine in records]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return {
        "threads": count,
        "appends": len(latencies),
        "appends_per_s": round(len(latencies) / elapsed),
        "p50_ms": round(percentile(latencies, 50) * 1e3, 3),
        "p99_ms": round(percentile(latencies, 99) * 1e3, 3),
    }


def _tasks(count: int, per_task: int, append: Callable[[Any], Awaitable[object]]) -> dict[str, Any]:
    records = [[_record(i) for i in range(per_task)] for _ in range(count)]
    latencies: list[float] = []

    async def work(mine: list[PolicyDecisionRecord]) -> None:
        clock = time.perf_counter
        for record in mine:
            start = clock()
            await append(record)
            latencies.append(clock() - start)

    async def main() -> float:
        started = time.perf_counter()
        await asyncio.gather(*(work(mine) for mine in records))
        return time.perf_counter() - started

    elapsed = asyncio.run(main())
    return {
        "tasks": count,
        "appends": len(latencies),
        "appends_per_s": round(len(latencies) / elapsed),
        "p50_ms": round(percentile(latencies, 50) * 1e3, 3),
        "p99_ms": round(percentile(latencies, 99) * 1e3, 3),
    }


def _writer_stats(store: Any) -> dict[str, float]:
    # Where the group commit's time went: rows per commit, the commit itself, and the time
    # between commits (the appenders' turnaround). With N appenders each waiting for its own
    # commit, a commit holds at most N rows, so N / (commit + between) bounds the rate.
    return cast(dict[str, float], store._writer.stats().to_dict())  # bench only


def _open(url: str) -> ChainStoreBase:
    # The asyncio methods are on every store class, not (yet) on the ``AuditStore`` protocol.
    return cast(ChainStoreBase, open_audit_store(url))


def _store_tasks(url: str, counts: dict[int, int]) -> list[dict[str, Any]]:
    out = []
    for tasks, total in counts.items():
        store = _open(url)
        try:
            out.append(_tasks(tasks, total // tasks, store.arecord_decision))
            out[-1]["writer"] = _writer_stats(store)
            if not store.verify().ok:
                raise RuntimeError("chain broken after the benchmark")
        finally:
            store.close()
    return out


def _store_appends(url: str, counts: dict[int, int]) -> list[dict[str, Any]]:
    out = []
    for threads, total in counts.items():
        store = open_audit_store(url)
        try:
            out.append(_threads(threads, total // threads, store.record_decision))
            out[-1]["writer"] = _writer_stats(store)
            if not store.verify().ok:
                raise RuntimeError("chain broken after the benchmark")
        finally:
            store.close()
    return out


def _commit_floor(url: str, rows: int = 32, commits: int = 500) -> dict[str, Any]:
    store = _open(url)
    # Fresh records for every commit: repeating the same ones would insert the same random
    # correlation ids each time and touch far fewer index pages than real appends do.
    batches = [[prepare(_record(i)) for i in range(rows)] for _ in range(commits)]
    submit = store._submit  # bench only: commit prepared rows without appenders
    times: list[float] = []
    try:
        for prepared in batches:
            started = time.perf_counter()
            submit(prepared, None)
            times.append(time.perf_counter() - started)
    finally:
        store.close()
    # The ceiling uses the mean: WAL checkpoints make a few commits slow, and they count.
    mean = sum(times) / len(times)
    return {
        "rows_per_commit": rows,
        "commits": commits,
        "mean_ms": round(mean * 1e3, 3),
        "p50_ms": round(percentile(times, 50) * 1e3, 3),
        "p99_ms": round(percentile(times, 99) * 1e3, 3),
        "ceiling_appends_per_s": round(rows / mean),
    }


def _floor_commit(sleep_s: float) -> Callable[[list[Pending]], None]:
    def commit(batch: list[Pending]) -> None:
        if sleep_s:
            time.sleep(sleep_s)
        for pending in batch:
            pending.seqs = [1]

    return commit


def _gil_floor(appenders: int = 32, each: int = 1000) -> dict[str, Any]:
    row = prepare(_record(0))
    rows: list[PreparedRow] = [row]
    out: dict[str, Any] = {"appenders": appenders, "appends": appenders * each}
    for label, sleep_s in (("no_op", 0.0), ("sleep_300us", 0.0003)):
        writer = GroupCommitWriter(_floor_commit(sleep_s), name="bench-floor")
        try:
            threads = _threads(appenders, each, lambda _item: writer.submit(rows))
            tasks = _tasks(appenders, each, lambda _item: writer.asubmit(rows))
        finally:
            writer.close()
        out[label] = {
            "threads_appends_per_s": threads["appends_per_s"],
            "tasks_appends_per_s": tasks["appends_per_s"],
        }
    return out


def _paced(url: str, rate: int = 1000, seconds: float = 3.0, workers: int = 4) -> dict[str, Any]:
    store = open_audit_store(url)
    latencies: list[float] = []
    lock = threading.Lock()
    per_worker = int(rate * seconds) // workers
    interval = workers / rate
    start_at = time.perf_counter() + 0.05

    def work(offset: int) -> None:
        local = []
        for i in range(per_worker):
            due = start_at + (i * workers + offset) / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            record = _record(i)
            begin = time.perf_counter()
            store.record_decision(record)
            local.append(time.perf_counter() - begin)
        with lock:
            latencies.extend(local)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    store.close()
    return {
        "target_rate": rate,
        "interval_per_worker_ms": interval * 1e3,
        "appends": len(latencies),
        "p50_ms": round(percentile(latencies, 50) * 1e3, 3),
        "p99_ms": round(percentile(latencies, 99) * 1e3, 3),
        "max_ms": round(max(latencies) * 1e3, 3),
    }


def _sqlite_baseline(path: str, threads: int, total: int) -> dict[str, Any]:
    store = open_audit_store(f"sqlite:///{path}")  # creates the schema
    store.close()
    from tradeguard.audit.chain import link
    from tradeguard.audit.sqlite import connect

    local = threading.local()

    def append(record: PolicyDecisionRecord) -> None:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = connect(path)
        row = prepare(record)
        conn.execute("BEGIN IMMEDIATE")
        head = conn.execute(
            "SELECT seq, row_hash FROM policy_decision_audit ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        heads = {row.table: (head[0], head[1])} if head else {}
        linked = link([row], heads)[0]
        conn.execute(
            "INSERT INTO policy_decision_audit (seq, prev_hash, row_hash, canonical_json) "
            "VALUES (?, ?, ?, ?)",
            (linked.seq, linked.prev_hash, linked.row_hash, linked.canonical_json),
        )
        conn.execute("COMMIT")

    return _threads(threads, total // threads, append)


_TRIGGER_SQL = """
CREATE TABLE trigger_audit (
    seq BIGINT PRIMARY KEY, prev_hash TEXT NOT NULL, row_hash TEXT NOT NULL,
    canonical_json TEXT NOT NULL);
CREATE FUNCTION trigger_audit_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE last RECORD;
BEGIN
    PERFORM pg_advisory_xact_lock(424242);
    SELECT seq, row_hash INTO last FROM trigger_audit ORDER BY seq DESC LIMIT 1 FOR UPDATE;
    NEW.seq := COALESCE(last.seq, 0) + 1;
    NEW.prev_hash := COALESCE(last.row_hash, repeat('0', 64));
    NEW.row_hash := encode(digest(NEW.prev_hash || NEW.canonical_json, 'sha256'), 'hex');
    RETURN NEW;
END $$;
CREATE TRIGGER trigger_audit_chain BEFORE INSERT ON trigger_audit
    FOR EACH ROW EXECUTE FUNCTION trigger_audit_chain();
"""


def _pg_schema() -> tuple[str, str]:
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in PG_URL else "?"
    return schema, f"{PG_URL}{sep}options={quote(f'-csearch_path={schema},public')}"


def _drop_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _pg_trigger_baseline(url: str, threads: int, total: int) -> dict[str, Any]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pgcrypto SCHEMA public")
        conn.execute(_TRIGGER_SQL)
    local = threading.local()
    connections: list[Any] = []

    def append(record: PolicyDecisionRecord) -> None:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = psycopg.connect(url)
            conn.execute("SET synchronous_commit = on")
            connections.append(conn)
        body = prepare(record)
        conn.execute(
            "INSERT INTO trigger_audit (seq, prev_hash, row_hash, canonical_json) "
            "VALUES (0, '', '', %s)",
            (body.head + "0" + body.tail,),
        )
        conn.commit()

    result = _threads(threads, total // threads, append)
    for conn in connections:
        conn.close()
    return result


def _verify_rate(path: str) -> dict[str, Any]:
    url = f"sqlite:///{path}"
    store = _open(url)
    batch: list[AuditRecord] = [_record(i) for i in range(20_000)]
    started = time.perf_counter()
    for _ in range(RECORD_MANY_ROWS // len(batch)):
        store.record_many(batch)
    written = time.perf_counter() - started
    # The rest of the 1,000,000 rows only has to exist: append the same prepared rows again
    # (each gets its own seq and hash) instead of re-serialising 900,000 records.
    prepared = [prepare(record) for record in batch]
    submit = store._submit  # bench set-up only
    for _ in range((VERIFY_ROWS - RECORD_MANY_ROWS) // len(batch)):
        submit(prepared, None)
    started = time.perf_counter()
    report = store.verify()
    elapsed = time.perf_counter() - started
    store.close()
    return {
        "rows": report.rows_checked,
        "ok": report.ok,
        "verify_s": round(elapsed, 2),
        "verify_rows_per_s": round(report.rows_checked / elapsed),
        "record_many_rows_per_s": round(RECORD_MANY_ROWS / written),
    }


def _postgres_part() -> dict[str, Any]:
    try:
        schema, url = _pg_schema()
    except Exception as exc:  # the bench still reports SQLite without a server
        return {"skipped": f"PostgreSQL unavailable: {exc}"}
    try:
        appends = _store_appends(url, {1: 1000, 8: 4000, 32: 12_800})
        tasks = _store_tasks(url, {1: 1000, 8: 4000, 32: 12_800})
        floor = _commit_floor(url)
        baseline = _pg_trigger_baseline(url, 32, 4000)
        paced = _paced(url, seconds=2.0)
    finally:
        _drop_schema(schema)
    per_s = baseline["appends_per_s"]
    return {
        "appends": appends,
        "task_appends": tasks,
        "commit_floor_32_rows": floor,
        "trigger_baseline_32_threads": baseline,
        "ratio_32_vs_trigger_baseline": round(appends[-1]["appends_per_s"] / per_s, 2),
        "ratio_32_tasks_vs_trigger_baseline": round(tasks[-1]["appends_per_s"] / per_s, 2),
        "ratio_commit_floor_vs_trigger_baseline": round(floor["ceiling_appends_per_s"] / per_s, 2),
        "paced_1000_per_s": paced,
    }


def _load() -> dict[str, float]:
    one, five, fifteen = os.getloadavg()
    return {"load_1m": round(one, 2), "load_5m": round(five, 2), "load_15m": round(fifteen, 2)}


def _per_s(runs: list[dict[str, Any]], key: str) -> dict[str, int]:
    return {str(run[key]): run["appends_per_s"] for run in runs}


def _p99(runs: list[dict[str, Any]], key: str) -> dict[str, float]:
    return {str(run[key]): run["p99_ms"] for run in runs}


def _sqlite_ratio(sqlite: dict[str, Any], best: int) -> dict[str, Any]:
    # The durable group commit against one durable transaction per row, in the same run.
    per_row = sqlite["one_commit_per_row_32_threads"]["appends_per_s"]
    floor = sqlite["commit_floor_32_rows"]["ceiling_appends_per_s"]
    ratio = round(best / per_row, 2) if per_row else 0.0
    return {
        "appends_per_s_32": best,
        "one_commit_per_row_per_s": per_row,
        "ratio": ratio,
        "target": TARGETS["sqlite_32_vs_one_commit_per_row"],
        "met": ratio >= TARGETS["sqlite_32_vs_one_commit_per_row"],
        "commit_floor_ceiling_per_s": floor,
        "commit_floor_ratio": round(floor / per_row, 2) if per_row else 0.0,
    }


def _targets_met(sqlite: dict[str, Any], verify: dict[str, Any], postgres: dict[str, Any]) -> Any:
    best_sqlite = max(
        sqlite["appends"][-1]["appends_per_s"], sqlite["task_appends"][-1]["appends_per_s"]
    )
    met: dict[str, Any] = {
        "sqlite_32_appends_per_s": {
            "best": best_sqlite,
            "target": TARGETS["sqlite_32_appends_per_s"],
            "met": best_sqlite >= TARGETS["sqlite_32_appends_per_s"],
            "commit_floor_ceiling": sqlite["commit_floor_32_rows"]["ceiling_appends_per_s"],
        },
        "sqlite_32_vs_one_commit_per_row": _sqlite_ratio(sqlite, best_sqlite),
        "verify_rows_per_s": {
            "value": verify["verify_rows_per_s"],
            "target": TARGETS["verify_rows_per_s"],
            "met": verify["verify_rows_per_s"] >= TARGETS["verify_rows_per_s"],
        },
    }
    paced = {"sqlite": sqlite["paced_1000_per_s"]["p99_ms"]}
    if "appends" in postgres:
        ratio = max(
            postgres["ratio_32_vs_trigger_baseline"], postgres["ratio_32_tasks_vs_trigger_baseline"]
        )
        met["postgres_vs_trigger_baseline"] = {
            "best_appends_per_s_32": max(
                postgres["appends"][-1]["appends_per_s"],
                postgres["task_appends"][-1]["appends_per_s"],
            ),
            "trigger_baseline_per_s": postgres["trigger_baseline_32_threads"]["appends_per_s"],
            "commit_floor_ceiling_per_s": postgres["commit_floor_32_rows"]["ceiling_appends_per_s"],
            "best_ratio": ratio,
            "target": TARGETS["postgres_vs_trigger_baseline"],
            "met": ratio >= TARGETS["postgres_vs_trigger_baseline"],
            "commit_floor_ratio": postgres["ratio_commit_floor_vs_trigger_baseline"],
        }
        paced["postgres"] = postgres["paced_1000_per_s"]["p99_ms"]
    met["paced_1000_p99_ms"] = {
        "value": paced,
        "target": TARGETS["paced_1000_p99_ms"],
        "met": max(paced.values()) <= TARGETS["paced_1000_p99_ms"],
    }
    return met


def _summary(sqlite: dict[str, Any], verify: dict[str, Any], postgres: dict[str, Any]) -> Any:
    summary: dict[str, Any] = {
        "sqlite_appends_per_s": _per_s(sqlite["appends"], "threads"),
        "sqlite_p99_ms": _p99(sqlite["appends"], "threads"),
        "sqlite_task_appends_per_s": _per_s(sqlite["task_appends"], "tasks"),
        "sqlite_task_p99_ms": _p99(sqlite["task_appends"], "tasks"),
        "sqlite_commit_floor_32_rows_mean_ms": sqlite["commit_floor_32_rows"]["mean_ms"],
        "sqlite_one_commit_per_row_32_threads_per_s": sqlite["one_commit_per_row_32_threads"][
            "appends_per_s"
        ],
        "sqlite_paced_1000_p99_ms": sqlite["paced_1000_per_s"]["p99_ms"],
        "verify_rows_per_s": verify["verify_rows_per_s"],
        "sqlite_32_threads_writer": sqlite["appends"][-1]["writer"],
        "sqlite_32_tasks_writer": sqlite["task_appends"][-1]["writer"],
    }
    if "appends" in postgres:
        summary.update(
            postgres_appends_per_s=_per_s(postgres["appends"], "threads"),
            postgres_task_appends_per_s=_per_s(postgres["task_appends"], "tasks"),
            postgres_task_p99_ms=_p99(postgres["task_appends"], "tasks"),
            postgres_commit_floor_32_rows_mean_ms=postgres["commit_floor_32_rows"]["mean_ms"],
            postgres_trigger_baseline_per_s=postgres["trigger_baseline_32_threads"][
                "appends_per_s"
            ],
            postgres_ratio_vs_trigger=postgres["ratio_32_vs_trigger_baseline"],
            postgres_task_ratio_vs_trigger=postgres["ratio_32_tasks_vs_trigger_baseline"],
            postgres_paced_1000_p99_ms=postgres["paced_1000_per_s"]["p99_ms"],
            postgres_32_threads_writer=postgres["appends"][-1]["writer"],
            postgres_32_tasks_writer=postgres["task_appends"][-1]["writer"],
        )
    return summary


def _sqlite_part(workdir: str) -> dict[str, Any]:
    return {
        "appends": _store_appends(
            f"sqlite:///{workdir}/appends.db", {1: 2000, 8: 8000, 32: 32_000}
        ),
        "task_appends": _store_tasks(
            f"sqlite:///{workdir}/tasks.db", {1: 2000, 8: 8000, 32: 32_000}
        ),
        "commit_floor_32_rows": _commit_floor(f"sqlite:///{workdir}/floor.db"),
        "one_commit_per_row_32_threads": _sqlite_baseline(f"{workdir}/baseline.db", 32, 4000),
        "paced_1000_per_s": _paced(f"sqlite:///{workdir}/paced.db"),
        "sqlite_version": sqlite3.sqlite_version,
    }


def run() -> dict[str, Any]:
    """Run every measurement and return the result with its summary."""
    load_at_start = _load()
    started = time.perf_counter()
    workdir = tempfile.mkdtemp(prefix="bench-audit-", dir=os.environ.get("BENCH_TMPDIR"))
    try:
        sqlite = _sqlite_part(workdir)
        verify = _verify_rate(f"{workdir}/verify.db")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    postgres = _postgres_part()
    gil_floor = _gil_floor()
    encode = bench_canonical.measure()
    summary: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "load_at_start": load_at_start,
        "load_at_end": _load(),
        "duration_s": round(time.perf_counter() - started, 1),
        **_summary(sqlite, verify, postgres),
        "gil_floor_32_appenders_per_s": {
            label: gil_floor[label] for label in ("no_op", "sleep_300us")
        },
        "canonical_json_ratio_old_vs_new": {
            "decision_row": encode["ratio_decision_row"],
            "min_over_tables": encode["ratio_min"],
        },
        "targets_met": _targets_met(sqlite, verify, postgres),
    }
    return {
        "summary": summary,
        "targets": TARGETS,
        "sqlite": sqlite,
        "verify": verify,
        "postgres": postgres,
        "gil_floor": gil_floor,
        "canonical_json": encode,
    }


def write(result: dict[str, Any]) -> Any:
    """Write ``bench/results/audit.json``."""
    return write_result("audit", result)
