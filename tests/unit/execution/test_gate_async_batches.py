"""Gate.asubmit_many: the event-loop twin of submit_many answers every batch alike."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tradeguard.audit import open_audit_store
from tradeguard.audit.records import AuditTable
from tradeguard.errors import AuditUnavailableError
from tradeguard.execution import SignalOutcome, SignalResult

from .factories import signal, wire


class AsyncBrokenStore:
    """An audit store whose writes fail (reads work)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def record_many(self, records: list[Any]) -> list[int]:
        raise AuditUnavailableError("AUD-006", "disk full")

    async def arecord_many(self, records: list[Any]) -> list[int]:
        raise AuditUnavailableError("AUD-006", "disk full")


def _shape(answer: SignalResult | Exception) -> tuple[Any, ...]:
    if isinstance(answer, SignalResult):
        return (answer.decision, answer.outcome, answer.codes, answer.duplicate)
    return (type(answer).__name__, getattr(answer, "code", None))


_bodies = st.lists(
    st.fixed_dictionaries(
        {
            "intent": st.sampled_from(["OPEN", "INCREASE", "REDUCE", "CLOSE", "CANCEL"]),
            "side": st.sampled_from(["BUY", "SELL"]),
            "quantity": st.sampled_from(["1", "2", "0.5"]),
            "repeat": st.booleans(),
            "invalid": st.booleans(),
        }
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bodies=_bodies, health=st.sampled_from(["GREEN", "YELLOW", "RED"]))
def test_for_any_batch_asubmit_many_answers_as_submit_many(
    bodies: list[dict[str, Any]], health: str
) -> None:
    batch: list[dict[str, Any]] = []
    for index, body in enumerate(bodies):
        sent = signal(
            signal_id=f"s-{index}",
            intent=body["intent"],
            side=body["side"],
            quantity="-1" if body["invalid"] else body["quantity"],
        )
        batch.append(sent)
        if body["repeat"]:
            batch.append(dict(sent))
    threaded, looped = wire(), wire()
    for w in (threaded, looped):
        w.builder.health = health
        w.gate.submit(signal(signal_id="seed", quantity="3"))  # a position to reduce
    expected = [_shape(a) for a in threaded.gate.submit_many(batch)]
    answered = [_shape(a) for a in asyncio.run(looped.gate.asubmit_many(batch))]
    assert answered == expected
    assert looped.positions.position("BTCUSDT") == threaded.positions.position("BTCUSDT")
    for table in (AuditTable.SIGNAL, AuditTable.POLICY_DECISION, AuditTable.ORDER):
        assert len(list(looped.rows(table))) == len(list(threaded.rows(table)))


def test_when_the_batch_cannot_be_recorded_no_signal_of_it_is_sent() -> None:
    w = wire(AsyncBrokenStore(open_audit_store("memory://")))
    results = asyncio.run(w.gate.asubmit_many([signal() for _ in range(4)]))
    assert all(isinstance(r, AuditUnavailableError) for r in results)
    assert w.positions.position("BTCUSDT") == 0
    assert w.positions.reserved("BTCUSDT") == (0, 0)
    assert w.exchange.open_orders() == []


def test_concurrent_batches_on_one_loop_share_a_durable_store(tmp_path: Path) -> None:
    store = open_audit_store(f"sqlite:///{tmp_path / 'a.db'}")
    w = wire(store)

    async def main() -> list[list[SignalResult | Exception]]:
        batches = [[signal(quantity="1") for _ in range(8)] for _ in range(6)]
        return await asyncio.gather(*(w.gate.asubmit_many(b) for b in batches))

    try:
        answers = [a for batch in asyncio.run(main()) for a in batch]
        assert all(
            isinstance(a, SignalResult) and a.outcome is SignalOutcome.EXECUTED for a in answers
        )
        assert w.positions.position("BTCUSDT") == Decimal(48)
        report = store.verify()
        assert report.ok
        decisions = {r["correlation_id"]: r for r in w.rows(AuditTable.POLICY_DECISION)}
        for order in w.rows(AuditTable.ORDER):
            assert order["details"]["decision_seq"] == decisions[order["correlation_id"]]["seq"]
    finally:
        store.close()


def test_a_slow_source_never_stalls_the_event_loop() -> None:
    w = wire()
    original = w.builder.build

    def slow_build(correlation_id: str) -> Any:
        time.sleep(1.0)  # a source that takes its time (well within no timeout of ours)
        return original(correlation_id)

    w.builder.build = slow_build  # type: ignore[method-assign]

    async def main() -> tuple[list[SignalResult | Exception], int]:
        ticks = 0
        decided = asyncio.ensure_future(w.gate.asubmit_many([signal(quantity="1")]))
        while not decided.done():  # the loop must keep running other work meanwhile
            await asyncio.sleep(0.05)
            ticks += 1
        return await decided, ticks

    (answer,), ticks = asyncio.run(main())
    assert isinstance(answer, SignalResult) and answer.outcome is SignalOutcome.EXECUTED
    assert ticks >= 10  # ~20 expected in the second the build took; 0 if it blocked the loop
