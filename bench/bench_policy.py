"""Policy core cost: ``evaluate()`` per call and ``PolicyContext`` construction.

Baseline in the same process: a bare if-chain over the same four values, so the figures are
read as a ratio to the cheapest possible gate on this machine.
"""

from __future__ import annotations

import itertools
import os
import random
import uuid
from typing import Any

from tradeguard.clock import FakeClock, SystemClock
from tradeguard.policy import PolicyContext, TradePermissionPolicy

from .common import per_call_ns, summarize_ns, write_result

CALLS = 1_000_000
STAMP = "2026-01-01T00:00:00.000000Z"


def _contexts(mixed: bool, count: int) -> list[PolicyContext]:
    rng = random.Random(7)
    cid = str(uuid.uuid4())
    out = []
    for _ in range(count):
        if mixed:
            out.append(
                PolicyContext(
                    rng.random() < 0.05,
                    rng.choice(["ALLOW"] * 9 + ["RDS_EXCEEDED"]),
                    rng.choice(["GREEN"] * 8 + ["YELLOW", "RED"]),
                    rng.choice(["HEALTHY"] * 8 + ["WARNING", "CRITICAL"]),
                    cid,
                    STAMP,
                )
            )
        else:
            out.append(PolicyContext(False, "ALLOW", "GREEN", "HEALTHY", cid, STAMP))
    return out


def _if_chain(kill: bool, budget: str, health: str, risk: str) -> str:
    if kill:
        return "HALT"
    if budget != "ALLOW":
        return "HALT"
    if health != "GREEN":
        return "NEUTRAL"
    if risk == "CRITICAL":
        return "HALT"
    return "ALLOW"


def _measure_stream(policy: TradePermissionPolicy, contexts: list[PolicyContext]) -> dict[str, Any]:
    stream = itertools.cycle(contexts)
    nxt = stream.__next__
    evaluate = policy.evaluate
    result = summarize_ns(per_call_ns(lambda: evaluate(nxt()), CALLS))
    result["stream_overhead_median_ns"] = summarize_ns(per_call_ns(nxt, CALLS))["median_ns"]
    return result


def run() -> dict[str, Any]:
    """Measure and return the results."""
    results: dict[str, Any] = {}
    clock = SystemClock()
    # The default configuration: a 300 s re-validation window on the system clock.
    results["evaluate_all_pass"] = _measure_stream(
        TradePermissionPolicy(300, clock=clock), _contexts(False, 4096)
    )
    results["evaluate_mixed"] = _measure_stream(
        TradePermissionPolicy(300, clock=clock), _contexts(True, 4096)
    )
    # Worst case: a zero window, so every HALT latches and the next pass clears (two saves).
    results["evaluate_mixed_latch_churn"] = _measure_stream(
        TradePermissionPolicy(0, clock=FakeClock()), _contexts(True, 4096)
    )
    args = (False, "ALLOW", "GREEN", "HEALTHY")
    results["baseline_if_chain"] = summarize_ns(per_call_ns(lambda: _if_chain(*args), CALLS))
    cid = str(uuid.uuid4())
    results["context_construction"] = summarize_ns(
        per_call_ns(
            lambda: PolicyContext(False, "ALLOW", "GREEN", "HEALTHY", cid, STAMP), CALLS // 5
        )
    )
    median = results["evaluate_all_pass"]["median_ns"]
    results["summary"] = {
        "evaluate_all_pass_median_ns": median,
        "evaluate_all_pass_p99_ns": results["evaluate_all_pass"]["p99_ns"],
        "evaluate_mixed_median_ns": results["evaluate_mixed"]["median_ns"],
        "evaluate_mixed_p99_ns": results["evaluate_mixed"]["p99_ns"],
        "evaluate_latch_churn_median_ns": results["evaluate_mixed_latch_churn"]["median_ns"],
        "context_construction_median_ns": results["context_construction"]["median_ns"],
        "if_chain_median_ns": results["baseline_if_chain"]["median_ns"],
        "evaluate_vs_if_chain_ratio": median / results["baseline_if_chain"]["median_ns"],
        "targets": {"evaluate_median_ns": 1000, "construction_median_ns": 3000},
        "load_at_start": os.getloadavg(),
    }
    return results


def write(result: dict[str, Any]) -> Any:
    """Write ``bench/results/policy.json``."""
    return write_result("policy", result)
