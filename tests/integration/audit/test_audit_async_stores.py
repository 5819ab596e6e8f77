"""The asyncio append API on real stores: durable seqs, shared chains, errors where awaited."""

from __future__ import annotations

import asyncio
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.audit_factories import decision, operator_action, order, signal
from tradeguard import open_audit_store
from tradeguard.audit.records import AuditTable
from tradeguard.errors import AuditUnavailableError, InvalidInputError

TASKS = 16
THREADS = 4
EACH = 25


def _refused_by_the_database(signal_id: str) -> Any:
    # A record the database refuses while canonical JSON accepts it: its confidence is out
    # of range, set around the record's own validation, as a buggy caller could.
    record = signal(signal_id)
    object.__setattr__(record, "ai_confidence", Decimal("150"))
    return record


async def _append_every_table(store: Any) -> dict[AuditTable, list[int]]:
    seqs = {
        AuditTable.POLICY_DECISION: [await store.arecord_decision(decision(1))],
        AuditTable.SIGNAL: [await store.arecord_signal(signal("sig-async"))],
        AuditTable.ORDER: [await store.arecord_order_event(order(2))],
        AuditTable.OPERATOR: [await store.arecord_operator_action(operator_action(i=3))],
    }
    seqs[AuditTable.POLICY_DECISION] += await store.arecord_many([decision(4), decision(5)])
    assert await store.arecord_many([]) == []
    return seqs


def test_sqlite_async_appends_are_durable_once_they_return(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    store = open_audit_store(url)
    records = [decision(i) for i in range(10)]

    async def main() -> list[int]:
        return list(await asyncio.gather(*(store.arecord_decision(r) for r in records)))

    seqs = asyncio.run(main())
    every_table = asyncio.run(_append_every_table(store))
    store.close()
    reopened = open_audit_store(url)
    try:
        for record, seq in zip(records, seqs, strict=True):
            found = list(
                reopened.rows(AuditTable.POLICY_DECISION, correlation_id=record.correlation_id)
            )
            assert [row["seq"] for row in found] == [seq]
        assert every_table[AuditTable.POLICY_DECISION] == [11, 12, 13]
        heads = {head.table: head.seq for head in reopened.heads()}
        assert heads == {
            AuditTable.POLICY_DECISION: 13,
            AuditTable.SIGNAL: 1,
            AuditTable.ORDER: 1,
            AuditTable.OPERATOR: 1,
        }
        found_signal = reopened.find_signal("sig-async")
        assert found_signal is not None and found_signal["seq"] == 1
        assert reopened.verify().ok
    finally:
        reopened.close()


def test_memory_store_has_the_same_async_api() -> None:
    store = open_audit_store("memory://")
    seqs = asyncio.run(_append_every_table(store))
    assert seqs[AuditTable.POLICY_DECISION] == [1, 2, 3]
    assert seqs[AuditTable.OPERATOR] == [1]
    assert store.verify().ok
    store.close()
    with pytest.raises(AuditUnavailableError):
        asyncio.run(store.arecord_decision(decision()))  # type: ignore[attr-defined]


def _mixed_appends(url: str) -> None:
    store = open_audit_store(url)
    thread_seqs: list[int] = []
    lock = threading.Lock()

    def thread_work(worker: int) -> None:
        for i in range(EACH):
            seq = store.record_decision(decision(worker * 1000 + i))
            with lock:
                thread_seqs.append(seq)

    async def task_work(worker: int) -> list[int]:
        out = []
        for i in range(EACH):
            if i % 10 == 0:
                out += await store.arecord_many([decision(i), decision(i + 1)])
            else:
                out.append(await store.arecord_decision(decision(worker * 1000 + i)))
        return out

    async def main() -> list[int]:
        threads = [threading.Thread(target=thread_work, args=(w,)) for w in range(THREADS)]
        for thread in threads:
            thread.start()
        results = await asyncio.gather(*(task_work(w) for w in range(TASKS)))
        for thread in threads:
            await asyncio.to_thread(thread.join, 60)
        return [seq for seqs in results for seq in seqs]

    task_seqs = asyncio.run(main())
    try:
        expected = THREADS * EACH + TASKS * (EACH + len(range(0, EACH, 10)))
        assert sorted(task_seqs + thread_seqs) == list(range(1, expected + 1))
        report = store.verify()
        assert report.ok, report.breaks
        assert {h.table: h.seq for h in report.heads}[AuditTable.POLICY_DECISION] == expected
    finally:
        store.close()


def test_sqlite_chain_verifies_after_mixed_thread_and_task_appends(tmp_path: Path) -> None:
    _mixed_appends(f"sqlite:///{tmp_path / 'audit.db'}")


@pytest.mark.postgres
def test_postgres_chain_verifies_after_mixed_thread_and_task_appends(postgres_url: str) -> None:
    _mixed_appends(postgres_url)


def _refused_row_spares_its_neighbours(url: str) -> None:
    store = open_audit_store(url)

    async def main() -> list[Any]:
        calls = [
            store.arecord_signal(signal("before")),
            store.arecord_signal(_refused_by_the_database("bad")),
            store.arecord_signal(signal("after")),
            store.arecord_decision(decision(1)),
        ]
        return await asyncio.gather(*calls, return_exceptions=True)

    try:
        before, bad, after, other = asyncio.run(main())
        assert isinstance(bad, InvalidInputError) and bad.code == "INPUT_INVALID_VALUE"
        assert sorted([before, after]) == [1, 2] and other == 1
        assert store.find_signal("bad") is None
        assert store.verify().ok
    finally:
        store.close()


def test_sqlite_refused_row_in_an_async_batch_spares_its_neighbours(tmp_path: Path) -> None:
    _refused_row_spares_its_neighbours(f"sqlite:///{tmp_path / 'audit.db'}")


@pytest.mark.postgres
def test_postgres_refused_row_in_an_async_batch_spares_its_neighbours(postgres_url: str) -> None:
    _refused_row_spares_its_neighbours(postgres_url)


@pytest.mark.postgres
def test_postgres_lost_connection_raises_aud_006_in_the_awaiting_task(postgres_url: str) -> None:
    store = open_audit_store(postgres_url)
    try:
        assert asyncio.run(store.arecord_decision(decision(1))) == 1
        writer_pid = store._write_conn.info.backend_pid  # type: ignore[attr-defined]
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (writer_pid,))
        with pytest.raises(AuditUnavailableError) as lost:
            asyncio.run(store.arecord_decision(decision(2)))
        assert lost.value.code == "AUD-006"
        assert asyncio.run(store.arecord_decision(decision(3))) == 2  # reconnected
        assert store.verify().ok
    finally:
        store.close()


def test_closing_the_store_leaves_no_task_waiting(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    store = open_audit_store(url)

    async def append_until_closed(worker: int) -> tuple[list[int], BaseException | None]:
        seqs: list[int] = []
        for i in range(10_000):
            try:
                seqs.append(await store.arecord_decision(decision(worker * 10_000 + i)))
            except AuditUnavailableError as exc:
                return seqs, exc
        return seqs, None

    async def main() -> list[tuple[list[int], BaseException | None]]:
        tasks = [asyncio.create_task(append_until_closed(w)) for w in range(8)]
        await asyncio.sleep(0.1)
        await asyncio.to_thread(store.close)
        return list(await asyncio.wait_for(asyncio.gather(*tasks), timeout=10))

    outcomes = asyncio.run(main())
    returned = sorted(seq for seqs, _ in outcomes for seq in seqs)
    assert all(isinstance(error, AuditUnavailableError) for _, error in outcomes)
    assert {error.code for _, error in outcomes if isinstance(error, AuditUnavailableError)} == {
        "AUD-006"
    }
    reopened = open_audit_store(url)
    try:
        heads = {h.table: h.seq for h in reopened.heads()}
        assert returned == list(range(1, len(returned) + 1))
        assert heads[AuditTable.POLICY_DECISION] >= len(returned)  # every returned seq is kept
        assert reopened.verify().ok
    finally:
        reopened.close()
