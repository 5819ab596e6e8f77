"""Two instances on one database: a signal_id is executed once, whoever checks first.

Each gate checks ``signal_audit`` before it decides; two instances can both see a new
signal_id as unseen. The database's one-first-row-per-signal_id index (migration 0002) then
refuses the second write as a whole, so nothing of it is sent, and that gate answers the
signal as a repeat of the first instance's decision.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.unit.execution.factories import signal, wire
from tradeguard import open_audit_store
from tradeguard.audit.records import AuditTable
from tradeguard.execution import SignalOutcome, SignalResult


class StaleReads:
    """A store whose idempotency reads answer 'never seen' until told otherwise.

    It stands for the instant between another instance's check and its write: this gate
    checks, finds nothing, and only then does the other instance's row land.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.stale = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def find_signals(self, signal_ids: list[str]) -> dict[str, Any]:
        return {} if self.stale else self.inner.find_signals(signal_ids)

    def find_signal(self, signal_id: str) -> Any:
        return None if self.stale else self.inner.find_signal(signal_id)

    def record_many(self, records: list[Any]) -> list[int]:
        try:
            return self.inner.record_many(records)
        finally:
            self.stale = False  # after our write attempt, reads see the other instance


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'shared.db'}"
    else:
        yield request.getfixturevalue("postgres_url")


def _submitted(store: Any) -> list[dict[str, Any]]:
    return [r for r in store.rows(AuditTable.ORDER) if r["event"] == "SUBMITTED"]


@pytest.mark.parametrize("batched", [False, True])
def test_the_instance_that_loses_the_race_answers_as_a_repeat(url: str, batched: bool) -> None:
    first_store, second_store = open_audit_store(url), open_audit_store(url)
    try:
        first, second = wire(first_store), wire(StaleReads(second_store))
        body = signal(signal_id="raced", quantity="1")
        won = first.gate.submit(body)
        other = signal(quantity="1")  # decided in the same batch as the raced one
        if batched:
            lost, bystander = second.gate.submit_many([dict(body), other])
        else:
            lost, bystander = second.gate.submit(dict(body)), second.gate.submit(other)
        assert isinstance(won, SignalResult) and won.outcome is SignalOutcome.EXECUTED
        assert isinstance(lost, SignalResult) and lost.duplicate
        assert lost.correlation_id == won.correlation_id
        assert isinstance(bystander, SignalResult)
        assert bystander.outcome is SignalOutcome.EXECUTED
        assert second.positions.position("BTCUSDT") == Decimal(1)  # the bystander only
        raced = [r for r in _submitted(first_store) if r["correlation_id"] == won.correlation_id]
        assert len(raced) == 1
        assert first_store.verify().ok
    finally:
        first_store.close()
        second_store.close()


def test_instances_racing_on_every_signal_id_execute_each_once(url: str) -> None:
    stores = [open_audit_store(url), open_audit_store(url)]
    try:
        gates = [wire(store).gate for store in stores]
        bodies = [signal(signal_id=f"race-{i}", quantity="1") for i in range(40)]
        start = threading.Barrier(2)
        answers: list[list[Any]] = [[], []]

        def run(slot: int) -> None:
            start.wait()
            for body in bodies:
                answers[slot].append(gates[slot].submit(dict(body)))

        threads = [threading.Thread(target=run, args=(slot,)) for slot in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        submitted = _submitted(stores[0])
        assert len(submitted) == len(bodies)  # one order per signal_id, across both
        for one, two in zip(*answers, strict=True):
            assert one.correlation_id == two.correlation_id  # both answer the same decision
            assert one.duplicate != two.duplicate
        assert stores[0].verify().ok
    finally:
        for store in stores:
            store.close()
