"""Canonical JSON: encode time per typical audit row, the stdlib encoder vs the orjson path.

Each row is what ``chain.prepare`` hands to the encoder: a record's ``to_row()`` plus the seq
marker (``seq_template``). ``stdlib_ns`` is the encoder the orjson path falls back to, which is
the whole encoder as it was before; ``orjson_ns`` is ``canonical_json`` as it is now (the type
check and orjson); ``type_check_ns`` is the type check alone, a part of ``orjson_ns``. The
encoders alternate batch by batch in one run; ``ratio`` is old / new from the medians (higher
is better).
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tradeguard.audit import canonical
from tradeguard.audit.records import OrderEvent, OrderEventRecord, SignalRecord
from tradeguard.codes import ErrorCode, PolicyReasonCode
from tradeguard.policy import Decision, OperatorActionRecord, PolicyDecisionRecord

from .common import write_result

MARKER = "\x00tradeguard-seq\x00"


def decision_record(cid: str, now: datetime, confidence: Decimal) -> PolicyDecisionRecord:
    """A typical ALLOW decision row (also the row the audit bench appends)."""
    return PolicyDecisionRecord(
        correlation_id=cid,
        timestamp_utc=now,
        policy_decision=Decision.ALLOW,
        reason_code=PolicyReasonCode.ALLOW_ALL_GATES_PASSED,
        blocking_gate=None,
        precedence_rank=None,
        context_snapshot={
            "kill_switch_active": False,
            "budget_signal": "ALLOW",
            "health_status": "GREEN",
            "risk_assessment": "HEALTHY",
            "correlation_id": cid,
            "timestamp_utc": "2026-03-01T12:00:00.123456Z",
            "incomplete_sources": [],
        },
        ai_confidence=confidence,
    )


def _rows() -> dict[str, dict[str, Any]]:
    cid = str(uuid.uuid4())
    now = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    records = {
        "decision": decision_record(cid, now, Decimal("87.5")),
        "signal": SignalRecord(
            signal_id="sig-20260301-000123",
            correlation_id=cid,
            timestamp_utc=now,
            content_hash="ab" * 32,
            payload={
                "signal_id": "sig-20260301-000123",
                "symbol": "BTCZAR",
                "side": "BUY",
                "intent": "OPEN",
                "quantity": "0.010",
                "order_type": "LIMIT",
                "price": "1234567.89",
                "ai_confidence": "87.5",
                "strategy": "mean-reversion",
                "source": "freqtrade",
                "timestamp": "2026-03-01T12:00:00.000000Z",
            },
            ai_confidence=Decimal("87.5"),
            policy_bypassed=False,
            decision="ALLOW",
            reason_code="ALLOW_ALL_GATES_PASSED",
            outcome="SUBMITTED",
        ),
        "order": OrderEventRecord(
            correlation_id=cid,
            timestamp_utc=now,
            event=OrderEvent.FILLED,
            symbol="BTCZAR",
            side="BUY",
            intent="OPEN",
            requested_quantity=Decimal("0.010"),
            filled_quantity=Decimal("0.010"),
            price=Decimal("1234567.89"),
            exchange="valr",
            exchange_order_id="e-123456",
            client_order_id=cid,
            details={"decision": "ALLOW", "decision_seq": 4711},
        ),
        "operator": OperatorActionRecord(
            action=ErrorCode.KILL_SWITCH_ENGAGED,
            correlation_id=cid,
            operator_id="alice",
            reason="drill",
            timestamp_utc=now,
            details={"source": "cli"},
        ),
    }
    return {name: {**r.to_row(), "seq": MARKER} for name, r in records.items()}


def _alternating(
    encoders: list[Callable[[object], object]], row: object, rounds: int
) -> list[float]:
    clock = time.perf_counter_ns
    batch = 1000
    samples: list[list[float]] = [[] for _ in encoders]
    for _ in range(rounds):
        for encode, out in zip(encoders, samples, strict=True):
            start = clock()
            for _ in range(batch):
                encode(row)
            out.append((clock() - start) / batch)
    return [statistics.median(ns) for ns in samples]


def measure(rounds: int = 40) -> dict[str, Any]:
    """Return per-row encode times (ns) of the old and the new encoder and their ratio."""
    old = canonical._stdlib_canonical_json
    new = canonical.canonical_json
    check = canonical._plain  # the type check that keeps floats, enums, ... away from orjson
    per_row: dict[str, Any] = {}
    for name, row in _rows().items():
        if old(row) != new(row) or not check(row):  # equal work on the fast path, or nothing
            raise RuntimeError(f"{name}: the encoders disagree or the row misses the fast path")
        old_ns, new_ns, check_ns = _alternating([old, new, check], row, rounds)
        per_row[name] = {
            "stdlib_ns": round(old_ns),
            "orjson_ns": round(new_ns),
            "type_check_ns": round(check_ns),
            "ratio": round(old_ns / new_ns, 2),
        }
    return {
        "per_row": per_row,
        "ratio_decision_row": per_row["decision"]["ratio"],
        "ratio_min": min(r["ratio"] for r in per_row.values()),
    }


def run() -> dict[str, Any]:
    """Measure and return the result with its summary."""
    result = measure()
    summary = {
        "encode_ns_old_vs_new": {
            name: [r["stdlib_ns"], r["orjson_ns"]] for name, r in result["per_row"].items()
        },
        "ratio_decision_row": result["ratio_decision_row"],
        "ratio_min": result["ratio_min"],
    }
    return {"summary": summary, **result}


def write(result: dict[str, Any]) -> Any:
    """Write ``bench/results/canonical.json``."""
    return write_result("canonical", result)
