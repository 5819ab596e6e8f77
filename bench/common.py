"""Helpers shared by the benchmarks: percentiles, timing loops, result files."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def percentile(samples: Sequence[float], pct: float) -> float:
    """Return the ``pct`` percentile (nearest rank) of ``samples``."""
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def summarize_ns(samples: Sequence[float]) -> dict[str, float]:
    """Median, p99 and mean of nanosecond samples."""
    return {
        "median_ns": statistics.median(samples),
        "p99_ns": percentile(samples, 99),
        "mean_ns": statistics.fmean(samples),
        "samples": len(samples),
    }


def per_call_ns(func: Callable[[], object], calls: int, batch: int = 1000) -> list[float]:
    """Time ``func`` in batches and return the per-call cost (ns) of each batch."""
    out: list[float] = []
    clock = time.perf_counter_ns
    for _ in range(max(1, calls // batch)):
        start = clock()
        for _ in range(batch):
            func()
        out.append((clock() - start) / batch)
    return out


def write_result(name: str, data: dict[str, Any]) -> Path:
    """Write ``bench/results/<name>.json`` with the machine it ran on."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": name,
        "generated_at": datetime.now(UTC).isoformat(),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        **data,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    return path
