"""One kill switch for every process on the same database: engaged in one process, another
process's policy context shows it within 100 ms (SQLite and PostgreSQL), measured."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from tradeguard.audit import AuditTable, open_audit_store
from tradeguard.clock import SystemClock
from tradeguard.codes import ErrorCode
from tradeguard.sources import CircuitBreaker

PROPAGATION_LIMIT_S = 0.100
CYCLES = 5

# The other instance: a real policy context builder over its own store connection. It reports
# on stdout the monotonic time (system-wide on Linux) at which it first sees each change.
WATCHER = textwrap.dedent(
    """
    import sys, time, uuid
    from tradeguard.audit import open_audit_store
    from tradeguard.clock import SystemClock
    from tradeguard.sources import CircuitBreaker, PolicyContextBuilder
    from tradeguard.sources import BudgetEvaluation, HealthReport, RiskEvaluation
    from tradeguard.policy import BudgetSignal, HealthStatus, RiskAssessment

    class Ok:
        def current(self): return BudgetEvaluation(BudgetSignal.ALLOW, None)
        def report(self): return HealthReport(HealthStatus.GREEN, ())
        def assess(self): return RiskEvaluation(RiskAssessment.HEALTHY)

    store = open_audit_store(sys.argv[1])
    breaker = CircuitBreaker(store.kill_switch_store(), SystemClock())
    builder = PolicyContextBuilder(breaker, Ok(), Ok(), Ok(), SystemClock(), 0.25)
    cycles = int(sys.argv[2])
    print("READY", flush=True)
    for _ in range(cycles):
        for wanted in (True, False):
            deadline = time.monotonic() + 10
            while builder.build(str(uuid.uuid4())).kill_switch_active is not wanted:
                if time.monotonic() > deadline:
                    print("TIMEOUT", flush=True)
                    sys.exit(1)
                time.sleep(0.0005)
            print(f"SEEN {wanted} {time.monotonic()!r}", flush=True)
    builder.close()
    store.close()
    """
)


def _measure(url: str) -> list[float]:
    store = open_audit_store(url)
    breaker = CircuitBreaker(store.kill_switch_store(), SystemClock())
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[3] / "src")}
    child = subprocess.Popen(
        [sys.executable, "-c", WATCHER, url, str(CYCLES)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert child.stdout is not None
    delays: list[float] = []
    try:
        assert child.stdout.readline().strip() == "READY"
        for cycle in range(CYCLES):
            for active in (True, False):
                time.sleep(0.15)  # let the watcher settle on the previous state
                if active:
                    breaker.engage("alice", f"drill {cycle}", str(uuid.uuid4()))
                else:
                    breaker.release("alice", f"drill {cycle} over", str(uuid.uuid4()))
                committed = time.monotonic()
                line = child.stdout.readline().split()
                assert line[:2] == ["SEEN", str(active)], line
                delays.append(float(line[2]) - committed)
        assert child.wait(timeout=10) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    rows = list(store.rows(AuditTable.OPERATOR))
    assert [row["action"] for row in rows] == [
        ErrorCode.KILL_SWITCH_ENGAGED.value,
        ErrorCode.KILL_SWITCH_RELEASED.value,
    ] * CYCLES
    store.close()
    return delays


def _check(delays: list[float], backend: str) -> None:
    print(
        f"\n{backend} kill switch propagation across processes: "
        f"median {statistics.median(delays) * 1000:.1f} ms, max {max(delays) * 1000:.1f} ms "
        f"over {len(delays)} changes"
    )
    assert max(delays) < PROPAGATION_LIMIT_S, delays


def test_kill_switch_engaged_in_one_process_blocks_another_within_100ms_sqlite(
    tmp_path: Path,
) -> None:
    _check(_measure(f"sqlite:///{tmp_path / 'shared.db'}"), "SQLite")


@pytest.mark.postgres
def test_kill_switch_engaged_in_one_process_blocks_another_within_100ms_postgres(
    postgres_url: str,
) -> None:
    _check(_measure(postgres_url), "PostgreSQL")
