"""Property 13 against the real thing: SQLite store, VALR adapter, loopback simulator.

Every order the simulator accepted (``GET /_sim/orders``, with its arrival time) has a
decision row in the SQLite trail that permits it, and that row was durably committed (the
store's ``record_many`` had returned) before the order arrived.
"""

from __future__ import annotations

import tempfile
import threading
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
from hypothesis import HealthCheck, given, settings
from pydantic import SecretStr

from tests.unit.execution.factories import wire
from tradeguard.audit import open_audit_store
from tradeguard.audit.records import AuditTable, PolicyDecisionRecord
from tradeguard.clock import SystemClock
from tradeguard.exchange import ValrExchange
from tradeguard.exchange.simulator import ExchangeSimulator
from tradeguard.policy import parse_utc
from tradeguard.signals import SignalReplayedError

from .supremacy import EXIT_INTENTS, apply_context, body_of, replayed, steps


class CommitWitness:
    """Wraps the store and notes when each decision row's transaction had committed."""

    def __init__(self, inner):
        self.inner = inner
        self.committed_at: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def record_many(self, records):
        seqs = self.inner.record_many(records)
        now = datetime.now(UTC)  # record_many returned: the rows are durable
        with self._lock:
            for record in records:
                if isinstance(record, PolicyDecisionRecord):
                    self.committed_at[record.correlation_id] = now
        return seqs


def run(plan, base_dir: Path) -> list[dict]:
    with ExchangeSimulator() as sim:
        control = httpx.Client(base_url=sim.base_url, timeout=5)
        exchange = ValrExchange(
            sim.base_url,
            SecretStr(sim.api_key),
            SecretStr(sim.api_secret),
            SystemClock(),
            timeout_s=2,
        )
        store = open_audit_store(f"sqlite:///{base_dir / 'audit.db'}")
        witness = CommitWitness(store)
        w = wire(witness, exchange=exchange)
        w.stack.reconciler._poll = 0.005
        w.dispatcher.register_handler(lambda s: 1 / 0)
        faults: dict = {}
        sent: list[dict] = []
        try:
            for kind, value in plan:
                if kind == "context":
                    apply_context(w.builder, value)
                elif kind in ("fault", "partial"):
                    if kind == "fault":
                        faults.pop("down", None)
                        faults.pop("reject_orders", None)
                        if value == "down":
                            faults["down"] = True
                        elif value == "reject":
                            faults["reject_orders"] = True
                    else:
                        faults["partial_fill_ratio"] = value
                    control.post("/_sim/faults", json=faults).raise_for_status()
                elif kind == "replay":
                    if sent:
                        index, same = value
                        try:
                            w.dispatcher.dispatch(replayed(sent[index % len(sent)], same))
                        except SignalReplayedError:
                            assert not same
                else:
                    body = body_of(value, f"s{len(sent)}", w.positions.position(value["symbol"]))
                    sent.append(body)
                    w.dispatcher.dispatch(body)
            control.post("/_sim/faults", json={}).raise_for_status()
            assert w.stack.reconciler.wait_idle(10)
            accepted = control.get("/_sim/orders").json()
            accepted = accepted["orders"] if isinstance(accepted, dict) else accepted
            check(accepted, store, witness)
            check_positions(accepted, exchange, w)
            return accepted
        finally:
            w.stack.reconciler.close()
            exchange.close()
            control.close()
            store.close()


def check(accepted, store, witness):
    for order in accepted:
        cid = order["client_order_id"].removeprefix("tg-")
        rows = list(store.rows(AuditTable.POLICY_DECISION, correlation_id=cid))
        assert len(rows) == 1, order
        decision = rows[0]["policy_decision"]
        assert decision == "ALLOW" or (decision == "NEUTRAL" and order["intent"] in EXIT_INTENTS)
        assert witness.committed_at[cid] <= parse_utc(order["arrived_at"]), order


def check_positions(accepted, exchange, w):
    totals: dict[str, Decimal] = {}
    for order in accepted:
        state = exchange.order_status(order["symbol"], order["order_id"])
        signed = (
            state.filled_quantity if order["side"] in ("BUY", "buy") else -state.filled_quantity
        )
        totals[order["symbol"]] = totals.get(order["symbol"], Decimal(0)) + signed
    for symbol, quantity in totals.items():
        assert w.positions.position(symbol) == quantity, symbol


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(plan=steps)
def test_every_order_the_simulator_accepted_was_permitted_by_a_committed_row(plan):
    with tempfile.TemporaryDirectory() as tmp:
        run(plan, Path(tmp))


def test_the_simulator_run_sees_neutral_exits_and_survives_faults(tmp_path):
    from .test_execution_policy_supremacy import NEUTRAL_EXIT

    plan = [
        *NEUTRAL_EXIT,
        ("partial", "0.5"),
        ("context", ("health", "GREEN")),
        ("fault", "down"),
        NEUTRAL_EXIT[0],
        ("fault", "reject"),
        NEUTRAL_EXIT[0],
        ("fault", None),
        NEUTRAL_EXIT[0],
    ]
    accepted = run(plan, tmp_path)
    assert [o["intent"] for o in accepted] == ["OPEN", "REDUCE", "CLOSE", "OPEN"]
