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
moves them alike; the median round of each is reported with its ratio to ``none``. Every round
also checks that no decision was lost: every signal answered EXECUTED and the chain verifies.
"""

from __future__ import annotations

import os
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

ROUNDS = 3
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
    base = _median(rounds["none"])
    summary: dict[str, Any] = {
        "raise_per_second": RAISE_PER_SECOND,
        "alert_timeout_seconds": ALERT_TIMEOUT_SECONDS,
    }
    for mode in MODES:
        chosen = _median(rounds[mode])
        results[mode] = chosen
        results[f"{mode}_rounds"] = [
            {k: r[k] for k in ("signals_per_second", "p50_ms", "p99_ms", "alert_outcomes")}
            for r in rounds[mode]
        ]
        summary[mode] = {
            "signals_per_second": chosen["signals_per_second"],
            "p50_ms": chosen["p50_ms"],
            "p99_ms": chosen["p99_ms"],
            "alert_outcomes": chosen["alert_outcomes"],
            "no_decision_lost": all(r["no_decision_lost"] for r in rounds[mode]),
        }
        if mode != "none":
            summary[f"{mode}_vs_none"] = {
                "throughput_ratio": round(
                    chosen["signals_per_second"] / base["signals_per_second"], 3
                ),
                "p50_ratio": round(chosen["p50_ms"] / base["p50_ms"], 3),
                "p99_ratio": round(chosen["p99_ms"] / base["p99_ms"], 3),
            }
    results["summary"] = summary
    return results


def write(result: dict[str, Any]) -> Path:
    """Write ``bench/results/alerts.json``."""
    return write_result("alerts", result)
