"""Detection: time from a fault to NEUTRAL, on the real pipeline.

The pipeline is the failure simulator's (``ScenarioPipeline``): the service's own composition
root and background work, the VALR adapter against the loopback exchange simulator, the event
feed against the loopback SSE server, a real budget report and SQLite file. No signals flow, so
the exchange faults are found by the liveness probe alone (with traffic, the first failed order
call finds them sooner).

The observed state is the one the gate decides on: ``OperatorService.status`` builds a context
with the gate's own builder and evaluates it with the gate's policy (read-only). An observer
thread reads it every 2 ms and at once whenever a health change is announced. A trial's time is
from just before the fault is made (in process, so the moment is exact) to the end of the first
read that shows NEUTRAL.

Faults, at least ``TRIALS`` each (the injection moment is jittered against the probe schedule):

- ``exchange_down``: the simulator closes every trading connection without an answer;
- ``exchange_hang``: every trading request is delayed 5 s (latency fault);
- ``stale_ticker``: ticker timestamps frozen 2 h in the past (known at the next ticker poll);
- ``stale_ticker_timer``: ticker timestamps frozen at the fault: the data turns stale exactly
  ``max_market_data_age`` later, and the time reported is how late NEUTRAL shows after that
  moment (the staleness timer's precision);
- ``feed_loss``: the SSE server drops the stream and refuses the next two reconnections.

Target (SPEC §10 Detection): max <= 1 s for ``exchange_down`` and ``exchange_hang``.
"""

from __future__ import annotations

import os
import random
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

from tradeguard.logging import configure_logging
from tradeguard.simulator.pipeline import PipelineTimings, ScenarioPipeline

from .common import percentile, write_result

TRIALS = 20
TARGET_S = 1.0
WAIT_S = 15.0
POLL_S = 0.002
TIMINGS = PipelineTimings(feed_backoff_initial_seconds=1.0, feed_backoff_max_seconds=2.0)


class StateObserver:
    """Read the gate's state every ``POLL_S`` and whenever a health change is announced."""

    def __init__(self, pipeline: ScenarioPipeline) -> None:
        container = pipeline.require()
        self._status = container.operator.status
        self._changes = container.health_changes
        self._nudge = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._readings: list[tuple[float, str]] = []
        self._thread = threading.Thread(target=self._run, name="bench-observer", daemon=True)

    def __enter__(self) -> StateObserver:
        self._changes.subscribe(self._nudge.set)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._changes.unsubscribe(self._nudge.set)
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._nudge.clear()
            try:
                state = str(self._status()["state"])
            except Exception:  # a failed read is not a state; the next one counts
                state = "UNREADABLE"
            with self._lock:
                self._readings.append((time.monotonic(), state))
                del self._readings[:-2000]
            self._nudge.wait(POLL_S)

    def first(self, state: str, since: float, timeout: float = WAIT_S) -> float | None:
        """Return the monotonic end of the first read of ``state`` after ``since``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                found = [at for at, seen in self._readings if at > since and seen == state]
            if found:
                return found[0]
            time.sleep(POLL_S)
        return None

    def describe(self) -> str:
        """The latest readings and what the status says now (for an error message)."""
        status = self._status()
        checks = [c for c in status["health_checks"] if c["status"] != "GREEN"]
        with self._lock:
            recent = [seen for _, seen in self._readings[-20:]]
        return f"{status['state']} {status['reason_code']} {checks} recent={recent}"

    def steady(self, state: str, hold_s: float = 0.3) -> bool:
        """Wait until ``state`` has been read without a break for ``hold_s``."""
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            since = time.monotonic() - hold_s
            with self._lock:
                recent = [seen for at, seen in self._readings if at >= since]
            if len(recent) >= 3 and set(recent) == {state}:
                return True
            time.sleep(0.02)
        return False


def _trial(
    observer: StateObserver,
    make: Callable[[], object],
    clear: Callable[[], object],
    offset_s: float = 0.0,
) -> tuple[float | None, float | None]:
    # Returns (seconds to NEUTRAL past the fault + offset, seconds from clearing to ALLOW).
    if not observer.steady("ALLOW"):
        raise RuntimeError(f"not steadily ALLOW before the fault: {observer.describe()}")
    time.sleep(random.uniform(0.0, 0.25))  # vary the phase against the probe and ticker polls
    injected = time.monotonic()
    make()
    neutral = observer.first("NEUTRAL", injected, WAIT_S + offset_s)
    cleared = time.monotonic()
    clear()
    allow = observer.first("ALLOW", cleared)
    return (
        None if neutral is None else neutral - injected - offset_s,
        None if allow is None else allow - cleared,
    )


def _summary(samples: list[float | None], target_s: float | None) -> dict[str, Any]:
    found = [s for s in samples if s is not None]
    out: dict[str, Any] = {
        "trials": len(samples),
        "detected": len(found),
        "median_ms": round(statistics.median(found) * 1000, 1) if found else None,
        "p90_ms": round(percentile(found, 90) * 1000, 1) if found else None,
        "max_ms": round(max(found) * 1000, 1) if found else None,
        "min_ms": round(min(found) * 1000, 1) if found else None,
        "samples_ms": [None if s is None else round(s * 1000, 1) for s in samples],
    }
    if target_s is not None:
        out["target_max_ms"] = target_s * 1000
        out["met"] = len(found) == len(samples) and max(found) <= target_s
    return out


def _faults(pipeline: ScenarioPipeline) -> dict[str, tuple[Callable[[], object], ...]]:
    sim = pipeline.exchange_sim
    sse = pipeline.sse_server
    if sim is None or sse is None:
        raise RuntimeError("the pipeline's loopback servers are not running")

    def drop_feed() -> None:
        sse.refuse_next(2, "status")
        sse.drop_connections()

    return {
        "exchange_down": (lambda: sim.set_faults(down=True), sim.clear_faults),
        "exchange_hang": (lambda: sim.set_faults(latency_ms=5000), sim.clear_faults),
        "stale_ticker": (lambda: sim.set_faults(ticker_frozen_seconds=7200), sim.clear_faults),
        "stale_ticker_timer": (lambda: sim.set_faults(ticker_frozen_seconds=0), sim.clear_faults),
        "feed_loss": (drop_feed, sse.clear_refusals),
    }


TARGETS: dict[str, float | None] = {
    "exchange_down": TARGET_S,
    "exchange_hang": TARGET_S,
    "stale_ticker": None,
    "stale_ticker_timer": None,
    "feed_loss": None,
}


def run(trials: int = TRIALS) -> dict[str, Any]:
    """Measure every fault ``trials`` times on one pipeline; return the results."""
    configure_logging("ERROR", stream=open(os.devnull, "w"), cache=True)  # noqa: SIM115
    results: dict[str, Any] = {}
    with ScenarioPipeline(TIMINGS) as pipeline, StateObserver(pipeline) as observer:
        settings = pipeline.require().settings
        offsets = {"stale_ticker_timer": settings.max_market_data_age_seconds}
        for name, (make, clear) in _faults(pipeline).items():
            detect: list[float | None] = []
            recover: list[float | None] = []
            for _ in range(trials):
                found, back = _trial(observer, make, clear, offsets.get(name, 0.0))
                detect.append(found)
                recover.append(back)
            results[name] = {
                "to_neutral": _summary(detect, TARGETS[name]),
                "back_to_allow": _summary(recover, None),
            }
        config = {
            "exchange_probe_interval_seconds": settings.exchange_probe_interval_seconds,
            "exchange_probe_timeout_seconds": settings.exchange_probe_timeout_seconds,
            "exchange_probe_backoff_max_seconds": settings.exchange_probe_backoff_max_seconds,
            "exchange_request_timeout_seconds": settings.exchange_request_timeout_seconds,
            "max_market_data_age_seconds": settings.max_market_data_age_seconds,
            "heartbeat_interval_seconds": settings.heartbeat_interval_seconds,
            "feed_backoff_initial_seconds": settings.feed_backoff_initial_seconds,
            "observer_poll_seconds": POLL_S,
        }
    summary = {
        name: {
            "median_ms": data["to_neutral"]["median_ms"],
            "max_ms": data["to_neutral"]["max_ms"],
            **({"met": data["to_neutral"]["met"]} if "met" in data["to_neutral"] else {}),
        }
        for name, data in results.items()
    }
    return {"summary": summary, "config": config, "faults": results}


def write(result: dict[str, Any]) -> Any:
    """Write ``bench/results/detection.json``."""
    return write_result("detection", result)
