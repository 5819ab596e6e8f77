"""Alerts never slow the gate: dispatch latency with no alert target vs a dead or hanging one.

The dispatch benchmark's gate (SQLite, paper exchange, 8 producer threads) runs while a raiser
thread publishes alerts (``RAISE_PER_SECOND`` distinct conditions, so nothing is folded and the
target's queue fills and drops) to the service's real ``AlertDispatcher`` with an apprise
``json://`` target that is:

- ``none``: no target configured (``TRADEGUARD_ALERT_URLS`` unset), the baseline;
- ``dead``: a loopback port nothing listens on (connection refused at once, then retries);
- ``hanging``: a loopback server that accepts connections and never answers (each attempt
  waits out the per-target timeout).

The three modes run interleaved in ``ROUNDS`` rounds on fresh databases, so the machine's load
moves them alike. Each mode's median round is reported, and, as the figure to compare, the
median over rounds of each round's ratio to the ``none`` run right before it (adjacent runs see
the same load; on a shared machine whole rounds differ by a third). The process CPU time per
signal (every thread, the alert workers included) is the figure least moved by other load.
Every round also checks that no decision was lost: every signal answered EXECUTED and the
chain verifies.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.alert_receiver import closed_port_url, hanging_target

from tradeguard.alerts import AlertDispatcher, build_alert_dispatcher
from tradeguard.clock import SystemClock
from tradeguard.logging import configure_logging
from tradeguard.ports import Alert, AlertSeverity
from tradeguard.settings import Settings

from . import bench_dispatch
from .common import write_result

ROUNDS = 5
RAISE_PER_SECOND = 200
ALERT_TIMEOUT_SECONDS = 2.0
MODES = ("none", "dead", "hanging")


@contextmanager
def _target(mode: str) -> Iterator[str | None]:
    if mode == "none":
        yield None
    elif mode == "dead":
        yield closed_port_url()
    else:
        with hanging_target() as url:
            yield url


@contextmanager
def _raising(dispatcher: AlertDispatcher, raised: dict[str, int]) -> Iterator[None]:
    """Publish distinct alerts at ``RAISE_PER_SECOND`` until the block ends."""
    stop = threading.Event()

    def raiser() -> None:
        while not stop.wait(1 / RAISE_PER_SECOND):
            raised["alerts"] += 1
            dispatcher.publish(
                Alert(
                    event="bench_condition",
                    code="HALT_RISK_CRITICAL",
                    severity=AlertSeverity.CRITICAL,
                    summary="benchmark alert",
                    correlation_id=str(uuid.uuid4()),
                    condition=f"bench:{raised['alerts']}",
                )
            )

    thread = threading.Thread(target=raiser, name="bench-alert-raiser", daemon=True)
    dispatcher.start()
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _round(mode: str, url: str) -> dict[str, Any]:
    with _target(mode) as target:
        settings = Settings(
            database_url="memory://",
            alert_urls=target,
            alert_timeout_seconds=ALERT_TIMEOUT_SECONDS,
        )
        dispatcher = build_alert_dispatcher(settings, SystemClock())
        raised = {"alerts": 0}
        result = bench_dispatch._measure(url, during=_raising(dispatcher, raised))
        dispatcher.close(timeout=0)
    expected = result["signals"]
    result["alerts_raised"] = raised["alerts"]
    result["alert_outcomes"] = dict(dispatcher.counts)
    result["no_decision_lost"] = (
        result["outcomes"] == {"EXECUTED": expected} and result["chain_verified"]
    )
    return result


def _median(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    ranked = sorted(rounds, key=lambda r: r["signals_per_second"])
    return ranked[len(ranked) // 2]


def _cpu(result: dict[str, Any]) -> int:
    return int(result["cpu_us_per_signal"]["user"] + result["cpu_us_per_signal"]["system"])


def _paired(mode: str, rounds: dict[str, list[dict[str, Any]]]) -> dict[str, float]:
    """The median over rounds of ``mode``'s figures divided by the same round's ``none``."""
    pairs = list(zip(rounds[mode], rounds["none"], strict=True))
    figures = {
        "throughput_ratio": lambda r: r["signals_per_second"],
        "p50_ratio": lambda r: r["p50_ms"],
        "p99_ratio": lambda r: r["p99_ms"],
        "cpu_per_signal_ratio": _cpu,
    }
    return {
        name: round(statistics.median(read(one) / read(base) for one, base in pairs), 3)
        for name, read in figures.items()
    }


def run() -> dict[str, Any]:
    """Measure dispatch in each mode, interleaved; return the figures and their ratios."""
    configure_logging("ERROR", stream=open(os.devnull, "w"), cache=True)  # noqa: SIM115
    results: dict[str, Any] = {"load_average_at_start": os.getloadavg()}
    rounds: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(ROUNDS):
            for mode in MODES:
                url = f"sqlite:///{Path(tmp) / f'alerts-{mode}-{index}.db'}"
                rounds[mode].append(_round(mode, url))
    summary: dict[str, Any] = {
        "raise_per_second": RAISE_PER_SECOND,
        "alert_timeout_seconds": ALERT_TIMEOUT_SECONDS,
    }
    for mode in MODES:
        chosen = _median(rounds[mode])
        results[mode] = chosen
        results[f"{mode}_rounds"] = [
            {
                k: r[k]
                for k in (
                    "signals_per_second",
                    "p50_ms",
                    "p99_ms",
                    "cpu_us_per_signal",
                    "alert_outcomes",
                )
            }
            for r in rounds[mode]
        ]
        summary[mode] = {
            "signals_per_second": chosen["signals_per_second"],
            "p50_ms": chosen["p50_ms"],
            "p99_ms": chosen["p99_ms"],
            "cpu_us_per_signal": _cpu(chosen),
            "alert_outcomes": chosen["alert_outcomes"],
            "no_decision_lost": all(r["no_decision_lost"] for r in rounds[mode]),
        }
        if mode != "none":
            summary[f"{mode}_vs_none"] = _paired(mode, rounds)
    results["summary"] = summary
    return results


def write(result: dict[str, Any]) -> Path:
    """Write ``bench/results/alerts.json``."""
    return write_result("alerts", result)
