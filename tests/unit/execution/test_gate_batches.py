"""Gate.submit_many: the same answers as one by one, one durable write, write-ahead kept."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tradeguard.audit import open_audit_store
from tradeguard.audit.records import AuditTable, OrderEventRecord
from tradeguard.errors import AuditUnavailableError, InvalidInputError
from tradeguard.execution import SignalOutcome, SignalResult
from tradeguard.signals import SignalReplayedError

from .factories import signal, wire
from .test_gate_decisions import BrokenStore


class CountingStore:
    """A store that counts ``record_many`` calls and remembers what each one held."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.writes: list[list[Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def record_many(self, records: list[Any]) -> list[int]:
        self.writes.append(list(records))
        return self.inner.record_many(records)


def test_a_batch_records_every_decision_in_one_write_and_every_order_event_in_another():
    store = CountingStore(open_audit_store("memory://"))
    w = wire(store)
    results = w.gate.submit_many([signal(quantity="1") for _ in range(5)])
    assert all(isinstance(r, SignalResult) and r.outcome is SignalOutcome.EXECUTED for r in results)
    assert len(store.writes) == 2
    decisions, orders = store.writes
    assert len(decisions) == 10 and len(orders) == 10
    assert all(isinstance(record, OrderEventRecord) for record in orders)
    assert w.positions.position("BTCUSDT") == Decimal(5)
    for result in results:
        assert isinstance(result, SignalResult)
        events = [r["event"] for r in w.rows(AuditTable.ORDER, result.correlation_id)]
        assert events == ["SUBMITTED", "FILLED"]


def test_each_signal_of_a_batch_gets_its_own_answer_or_error():
    w = wire()
    w.gate.submit(signal(signal_id="seen", quantity="1"))
    results = w.gate.submit_many(
        [
            signal(quantity="1"),
            {"signal_id": "bad", "symbol": "BTCUSDT"},  # invalid: no side, no quantity
            signal(signal_id="seen", quantity="1"),  # an honest retry
            signal(signal_id="seen", quantity="9"),  # the same id, other content
            signal(intent="CLOSE", side="SELL", quantity="100"),  # larger than the position
        ]
    )
    assert isinstance(results[0], SignalResult) and results[0].outcome is SignalOutcome.EXECUTED
    assert isinstance(results[1], InvalidInputError)
    assert isinstance(results[2], SignalResult) and results[2].duplicate
    assert isinstance(results[3], SignalReplayedError)
    assert isinstance(results[4], SignalResult) and results[4].outcome is SignalOutcome.REFUSED
    assert w.positions.position("BTCUSDT") == Decimal(2)


def test_a_signal_id_repeated_within_a_batch_executes_once():
    w = wire()
    body = signal(quantity="1")
    first, second = w.gate.submit_many([body, dict(body)])
    assert isinstance(first, SignalResult) and isinstance(second, SignalResult)
    assert not first.duplicate and second.duplicate
    assert second.correlation_id == first.correlation_id
    assert w.positions.position("BTCUSDT") == Decimal(1)
    assert len([r for r in w.rows(AuditTable.ORDER) if r["event"] == "SUBMITTED"]) == 1


def test_when_the_batch_cannot_be_recorded_no_signal_of_it_is_sent():
    w = wire(BrokenStore(open_audit_store("memory://")))
    results = w.gate.submit_many([signal() for _ in range(4)])
    assert all(isinstance(r, AuditUnavailableError) for r in results)
    assert w.positions.position("BTCUSDT") == 0
    assert w.positions.reserved("BTCUSDT") == (0, 0)
    assert w.exchange.open_orders() == []


def test_a_halt_in_a_batch_refuses_and_records_its_reason():
    w = wire()
    w.builder.kill = True
    (result,) = w.gate.submit_many([signal()])
    assert isinstance(result, SignalResult)
    assert result.decision == "HALT" and result.outcome is SignalOutcome.REFUSED
    assert w.exchange.open_orders() == [] and w.positions.position("BTCUSDT") == 0


_bodies = st.lists(
    st.fixed_dictionaries(
        {
            "intent": st.sampled_from(["OPEN", "INCREASE", "REDUCE", "CLOSE"]),
            "side": st.sampled_from(["BUY", "SELL"]),
            "quantity": st.sampled_from(["1", "2", "0.5"]),
            "repeat": st.booleans(),
        }
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bodies=_bodies, neutral=st.booleans())
def test_for_any_batch_every_order_has_a_durable_permitting_decision_written_before_it(
    bodies: list[dict[str, Any]], neutral: bool
) -> None:
    w = wire()
    if neutral:
        w.builder.health = "YELLOW"
    batch = []
    for body in bodies:
        sent = signal(intent=body["intent"], side=body["side"], quantity=body["quantity"])
        batch.append(sent)
        if body["repeat"]:
            batch.append(dict(sent))
    w.gate.submit_many(batch)
    decisions = {r["correlation_id"]: r for r in w.rows(AuditTable.POLICY_DECISION)}
    for order in w.rows(AuditTable.ORDER):
        if order["event"] != "SUBMITTED":
            continue
        decision = decisions[order["correlation_id"]]
        assert decision["policy_decision"] in ("ALLOW", "NEUTRAL")
        assert order["details"]["decision_seq"] == decision["seq"]
        if decision["policy_decision"] == "NEUTRAL":
            assert order["intent"] in ("REDUCE", "CLOSE")
    submitted = [r for r in w.rows(AuditTable.ORDER) if r["event"] == "SUBMITTED"]
    assert len({r["correlation_id"] for r in submitted}) == len(submitted)
