"""Workers on PostgreSQL: signed signals/s of ``--workers 2`` against ``--workers 1``.

Both runs start the service as ``tradeguard run --workers N`` on one PostgreSQL schema each
(paper exchange, DRY_RUN), with the same load generator on this machine (bench_service's raw
HTTP/1.1 keep-alive client, CONCURRENCY connections, DURATION_S seconds after a warm-up). The
ratio (two workers / one) is the figure; its target is at least 1.4 on this 2-core machine.

The caps hold during the run: the exposure cap is set to what ``CAP_ORDERS`` orders carry at
the paper market's start price, low enough that the runs reach it, and the bench reads the
account's final position from the shared book and checks it against the cap. The check allows
``PRICE_MARGIN`` for the paper market's random walk (5 bps a step, one step per fill) between
the price an order was checked at (the last ticker the service polled) and the price it filled
at: the cap is checked at the former, the position is valued here at its average entry, the
latter. ``exposure_over_cap`` reports the plain ratio.

The CPU cost per signal is summed over the supervisor and every worker (``/proc``). Beside
it, each run reports what the rest of the machine spent while it ran, per signal: PostgreSQL's
processes (every ``postgres`` process on the machine, so other users of the server count
too), this load generator, and the whole machine's busy time (``/proc/stat``), with the
fraction of the machine that was busy. Two workers can be at most
``1 / machine_busy_fraction`` times as fast as one: when one worker already keeps most of the
machine busy, the ratio is bound by the machine, not by the service's locks.

Run: ``python -m bench workers`` → ``bench/results/workers.json``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from contextlib import suppress
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg

from bench.bench_service import (
    DURATION_S,
    SECRET,
    TOKEN,
    WARMUP_S,
    _free_port,
    _load,
    _signed_requests,
    _wait_healthy,
)
from bench.common import write_result

PG_URL = os.environ.get("TRADEGUARD_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
START_PRICE = Decimal(50000)  # the paper market's BTCUSDT start price
QUANTITY = Decimal("0.0001")  # bench_service's signals
CAP_ORDERS = 250
CAP = START_PRICE * QUANTITY * CAP_ORDERS
PRICE_MARGIN = Decimal("0.02")
TARGET_RATIO = 1.4


def _schema_url() -> tuple[str, str]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in PG_URL else "?"
    return schema, f"{PG_URL}{separator}options={quote(f'-csearch_path={schema}')}"


def _drop(schema: str) -> None:
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _start(port: int, url: str, workers: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEGUARD_")}
    env.update(
        {
            "TRADEGUARD_DATABASE_URL": url,
            "TRADEGUARD_WEBHOOK_SECRET": SECRET,
            "TRADEGUARD_OPERATOR_TOKEN": TOKEN,
            "TRADEGUARD_PORT": str(port),
            "TRADEGUARD_MAX_GROSS_EXPOSURE": str(CAP),
            "TRADEGUARD_MAX_OPEN_ORDERS": "1000000",
            "TRADEGUARD_PAPER_QUOTE_BALANCE": "1000000000000",
            # Many identical BUYs: the duplicate and rate controls would refuse most of them
            # and the bench would measure refusals; the caps stay on and are checked.
            "TRADEGUARD_DUPLICATE_ORDER_WINDOW_SECONDS": "0",
            "TRADEGUARD_MAX_ORDERS_PER_SYMBOL": "1000000000",
            "TRADEGUARD_MAX_ORDERS_PER_ACCOUNT": "1000000000",
            "TRADEGUARD_LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
        }
    )
    tradeguard = str(Path(sys.executable).with_name("tradeguard"))
    return subprocess.Popen(
        [tradeguard, "run", "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _tree(pid: int) -> list[int]:
    found = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return found
    for child in children:
        found += _tree(int(child))
    return found


def _cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _postgres_cpu_seconds() -> float:
    # Every PostgreSQL process on the machine (its backends serve the service's connections).
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return _cpu_seconds(pids)


def _machine_seconds() -> tuple[float, float]:
    # (all CPU time, idle CPU time) of the machine so far, from /proc/stat.
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    return sum(fields) / tick, (fields[3] + fields[4]) / tick


def _own_cpu() -> float:
    times = os.times()
    return times.user + times.system


def _final_position(url: str) -> dict[str, Any]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = list(conn.execute("SELECT symbol, quantity, average_entry FROM shared_positions"))
        held = conn.execute("SELECT count(*) FROM shared_reservations").fetchone()
    exposure = sum((abs(q) * (e or START_PRICE) for _, q, e in rows), Decimal(0))
    return {
        "positions": {s: str(q) for s, q, _ in rows},
        "exposure_at_average_entry": str(exposure),
        "cap": str(CAP),
        "exposure_over_cap": round(float(exposure / CAP), 4),
        "price_margin": str(PRICE_MARGIN),
        "caps_hold": exposure <= CAP * (1 + PRICE_MARGIN),
        "reservations_left": held[0] if held else None,
    }


def _measure(workers: int) -> dict[str, Any]:
    schema, url = _schema_url()
    port = _free_port()
    process = _start(port, url, workers)
    try:
        _wait_healthy(f"http://127.0.0.1:{port}/healthz", process)
        requests = _signed_requests(200_000)
        tree = _tree(process.pid)
        before = _cpu_seconds(tree)
        each = [_cpu_seconds([pid]) for pid in tree]
        postgres, client, (machine, idle) = _postgres_cpu_seconds(), _own_cpu(), _machine_seconds()
        result = asyncio.run(_load(port, requests))
        after = _cpu_seconds(tree)
        postgres = _postgres_cpu_seconds() - postgres
        client = _own_cpu() - client
        machine, idle = (a - b for a, b in zip(_machine_seconds(), (machine, idle), strict=True))
        served = max(1.0, result["requests"] * (DURATION_S + WARMUP_S) / DURATION_S)
        result["server_cpu_us_per_request"] = round((after - before) / served * 1e6)
        # Per process (supervisor first): shows whether both workers served the connections.
        result["process_cpu_seconds"] = [
            round(_cpu_seconds([pid]) - spent, 2) for pid, spent in zip(tree, each, strict=True)
        ]
        result["postgres_cpu_us_per_request"] = round(postgres / served * 1e6)
        result["client_cpu_us_per_request"] = round(client / served * 1e6)
        result["machine_cpu_us_per_request"] = round((machine - idle) / served * 1e6)
        result["machine_busy_fraction"] = round(1 - idle / machine, 3) if machine else None
        result["processes"] = len(tree)
        process.terminate()
        process.wait(30)
        result["final"] = _final_position(url)
        return result
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        # The service runs in a session of its own: end any worker the supervisor left behind
        # (a killed supervisor does not stop its workers, which would load the next run).
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        _drop(schema)


def run() -> dict[str, Any]:
    """Measure one worker, then two, then one again; the ratio uses the mean of the ones."""
    one_a = _measure(1)
    two = _measure(2)
    one_b = _measure(1)
    one_per_s = (one_a["per_second"] + one_b["per_second"]) / 2
    ratio = two["per_second"] / one_per_s if one_per_s else 0.0
    caps = all(r["final"]["caps_hold"] for r in (one_a, two, one_b))
    return {
        "setup": {
            "database": "PostgreSQL 127.0.0.1, one fresh schema per run",
            "service": "tradeguard run --workers N: paper exchange, DRY_RUN, shared book",
            "load": "bench_service's client on this machine (same cores as the server)",
            "cap_orders": CAP_ORDERS,
            "max_gross_exposure": str(CAP),
        },
        "one_worker_first": one_a,
        "two_workers": two,
        "one_worker_after": one_b,
        "summary": {
            "one_worker_per_s": round(one_per_s, 1),
            "two_workers_per_s": two["per_second"],
            "ratio_two_vs_one": round(ratio, 2),
            "target_ratio": TARGET_RATIO,
            "meets_target": ratio >= TARGET_RATIO,
            "one_worker_cpu_us_per_request": one_a["server_cpu_us_per_request"],
            "two_workers_cpu_us_per_request": two["server_cpu_us_per_request"],
            "one_worker_machine_busy_fraction": one_a["machine_busy_fraction"],
            "two_workers_machine_busy_fraction": two["machine_busy_fraction"],
            "one_worker_machine_cpu_us_per_request": one_a["machine_cpu_us_per_request"],
            "two_workers_machine_cpu_us_per_request": two["machine_cpu_us_per_request"],
            "caps_hold": caps,
            "final_exposure_two_workers": two["final"]["exposure_at_average_entry"],
            "cap": str(CAP),
        },
    }


def write(result: dict[str, Any]) -> Path:
    """Write ``bench/results/workers.json``."""
    return write_result("workers", result)
