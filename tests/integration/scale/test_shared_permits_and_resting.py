"""Two processes on one PostgreSQL account: shared decide permits and shared resting orders.

A permit minted by one process is reported through the other, exactly once under concurrent
reports, and expires exactly once whoever sweeps. A resting order counts in the open-orders
cap and the worst exposure of both processes, after its process died too, until an account
read shows the exchange no longer lists it.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from tests.shared_state_support import (
    Process,
    expiry_rows,
    order_rows,
    process,
    report_body,
    signal_body,
)
from tradeguard.audit.postgres import PostgresAuditStore
from tradeguard.clock import FakeClock
from tradeguard.errors import AuditUnavailableError, InvalidInputError
from tradeguard.execution.shared_book import RESTING_SETTLE_GRACE
from tradeguard.policy import Side
from tradeguard.policy.orders import INTENT_OK

D = Decimal
TTL = 5.0
LEASE = 5.0


@pytest.fixture
def audit(postgres_url: str) -> Iterator[PostgresAuditStore]:
    store = PostgresAuditStore(postgres_url)  # migrates the schema
    yield store
    store.close()


@pytest.fixture
def two(postgres_url: str, audit: PostgresAuditStore) -> Iterator[tuple[FakeClock, list[Process]]]:
    clock = FakeClock()
    account = f"acct-{uuid.uuid4().hex[:8]}"
    made = [
        process(postgres_url, account, clock, audit, ttl=TTL, lease=LEASE, max_open_orders=3)
        for _ in range(2)
    ]
    yield clock, made
    for made_process in made:
        made_process.close()


def _race(*calls: Callable[[], Any]) -> list[Any]:
    # Start every call at once; each entry is its answer or the exception it raised.
    barrier = threading.Barrier(len(calls))
    answers: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        barrier.wait()
        try:
            answers[index] = calls[index]()
        except Exception as exc:
            answers[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return answers


def _refusal(call: Callable[[], Any]) -> str:
    with pytest.raises(InvalidInputError) as refused:
        call()
    return str(refused.value.code)


def test_a_permit_minted_by_one_process_is_reported_through_the_other(
    two: tuple[FakeClock, list[Process]], audit: PostgresAuditStore
) -> None:
    _, (first, second) = two
    answer = first.decider.decide(signal_body(quantity=D(2)))
    assert answer.permitted and answer.permit_id is not None
    assert second.book.reserved("AAA") == (D(2), D(0))
    reported = second.decider.report(answer.permit_id, report_body("FILLED", D(2)))
    assert (reported.applied_quantity, reported.open) == (D(2), False)
    for made in (first, second):
        assert made.book.reserved("AAA") == (D(0), D(0))
        assert made.book.position("AAA") == D(2)
    assert [row["event"] for row in order_rows(audit, answer.permit_id)] == ["FILLED"]
    code = _refusal(lambda: first.decider.report(answer.permit_id, report_body("FILLED", D(2))))
    assert code == "PERMIT_ALREADY_REPORTED"
    assert len(order_rows(audit, answer.permit_id)) == 1


def test_two_processes_taking_one_report_at_once_apply_it_once(
    two: tuple[FakeClock, list[Process]], audit: PostgresAuditStore
) -> None:
    _, processes = two
    answer = processes[0].decider.decide(signal_body(quantity=D(2)))
    permit_id = answer.permit_id
    assert permit_id is not None
    body = report_body("FILLED", D(2))
    answers = _race(*(lambda p=p: p.decider.report(permit_id, body) for p in processes))
    refused = [a for a in answers if isinstance(a, Exception)]
    assert len(refused) == 1, answers
    assert getattr(refused[0], "code", None) == "PERMIT_ALREADY_REPORTED"
    assert processes[1].book.position("AAA") == D(2)
    assert processes[1].book.reserved("AAA") == (D(0), D(0))
    assert len(order_rows(audit, permit_id)) == 1


def test_a_due_permit_expires_once_whoever_sweeps(
    two: tuple[FakeClock, list[Process]], audit: PostgresAuditStore
) -> None:
    clock, processes = two
    answer = processes[0].decider.decide(signal_body(quantity=D(3)))
    permit_id = answer.permit_id
    assert permit_id is not None
    clock.advance(TTL + 1)
    counts = _race(*(p.decider.expire_due for p in processes), processes[1].decider.expire_due)
    assert sorted(counts) == [0, 0, 1]
    assert len(expiry_rows(audit, permit_id)) == 1
    assert processes[1].book.reserved("AAA") == (D(0), D(0))
    code = _refusal(lambda: processes[1].decider.report(permit_id, report_body("NEW", D(0))))
    assert code == "PERMIT_EXPIRED"
    assert len(order_rows(audit, permit_id)) == 1


def test_a_report_after_the_ttl_expires_the_permit_there_once(
    two: tuple[FakeClock, list[Process]], audit: PostgresAuditStore
) -> None:
    clock, (first, second) = two
    permit_id = first.decider.decide(signal_body()).permit_id
    assert permit_id is not None
    clock.advance(TTL + 1)
    code = _refusal(lambda: second.decider.report(permit_id, report_body("FILLED", D(1))))
    assert code == "PERMIT_EXPIRED"
    assert first.decider.expire_due() == 0
    assert len(expiry_rows(audit, permit_id)) == 1
    assert first.book.reserved("AAA") == (D(0), D(0))
    assert first.book.position("AAA") == D(0)


def test_refused_reports_change_nothing_on_either_process(
    two: tuple[FakeClock, list[Process]], audit: PostgresAuditStore
) -> None:
    _, (first, second) = two
    permit_id = first.decider.decide(signal_body(quantity=D(2))).permit_id
    assert permit_id is not None
    second.decider.report(permit_id, report_body("PARTIALLY_FILLED", D(1)))
    before = (len(order_rows(audit, permit_id)), first.book.reserved("AAA"))
    assert before == (1, (D(1), D(0)))
    assert _refusal(lambda: second.decider.report("nope", report_body("NEW", D(0)))) == (
        "PERMIT_UNKNOWN"
    )
    for body in (
        report_body("FILLED", D(3)),  # above the permit
        report_body("FILLED", D("0.5")),  # smaller than before
        report_body("FILLED", D(2), order_id="o-other"),  # another order
    ):
        assert _refusal(lambda b=body: first.decider.report(permit_id, b)) == (
            "PERMIT_REPORT_INVALID"
        )
    assert (len(order_rows(audit, permit_id)), second.book.reserved("AAA")) == before
    assert second.book.position("AAA") == D(1)
    assert first.decider.outstanding() == 1


def _rest(made: Process, order_id: str, quantity: Decimal = Decimal(1)) -> bool:
    # Reserve as an order would, then rest it on the exchange; False when refused.
    _, reservation = made.book.check_and_reserve(
        "AAA", Side.BUY, quantity, lambda _position: INTENT_OK
    )
    if reservation is None:
        return False
    made.book.rest(reservation, order_id, "AAA", Side.BUY, quantity)
    return True


def test_resting_orders_of_both_processes_count_in_the_open_orders_cap(
    two: tuple[FakeClock, list[Process]],
) -> None:
    _, (first, second) = two
    assert _rest(first, "x1") and _rest(second, "x2") and _rest(first, "x3")
    assert not _rest(second, "x4")
    check, _ = second.book.check_and_reserve("AAA", Side.BUY, D(1), lambda _p: INTENT_OK)
    assert str(check.code) == "RISK_OPEN_ORDERS"
    assert first.book.reserved("AAA") == (D(3), D(0))  # their unfilled quantity is held
    first.book.release_resting("x1")  # cancelled through an executor
    assert _rest(second, "x4")


def test_a_dead_processes_resting_orders_hold_until_the_exchange_drops_them(
    two: tuple[FakeClock, list[Process]],
) -> None:
    clock, (first, second) = two
    placed = clock.now()
    assert _rest(first, "x1") and _rest(first, "x2") and _rest(first, "x3")
    clock.advance(LEASE * 2)  # ``first`` died: its lease expired
    second.book.renew()
    assert second.book.reserved("AAA") == (D(3), D(0))
    assert not _rest(second, "y1")
    # A read that began before the rows were old enough may have missed them: nothing drops.
    second.book.settle_resting([], placed)
    assert second.book.reserved("AAA") == (D(3), D(0))
    # A later read that lists only x2: x1 and x3 filled or were cancelled on the exchange.
    second.book.settle_resting(["x2"], clock.now())
    assert second.book.reserved("AAA") == (D(1), D(0))
    assert _rest(second, "y1") and _rest(second, "y2") and not _rest(second, "y3")


def test_paper_resting_orders_go_with_their_process(
    postgres_url: str, audit: PostgresAuditStore
) -> None:
    clock = FakeClock()
    account = f"acct-{uuid.uuid4().hex[:8]}"
    first, second = (
        process(
            postgres_url,
            account,
            clock,
            audit,
            lease=LEASE,
            max_open_orders=3,
            resting_outlives_process=False,
        )
        for _ in range(2)
    )
    try:
        assert _rest(first, "p1") and _rest(first, "p2")
        second.book.settle_resting([], clock.now() + RESTING_SETTLE_GRACE * 2)
        assert second.book.reserved("AAA") == (D(2), D(0))  # not its exchange: untouched
        clock.advance(LEASE * 2)
        second.book.renew()
        assert second.book.reserved("AAA") == (D(0), D(0))
    finally:
        first.close()
        second.close()


def test_a_permit_that_cannot_be_stored_is_not_granted(
    two: tuple[FakeClock, list[Process]], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, (first, second) = two

    def down() -> Any:
        raise psycopg.OperationalError("the database went away")

    monkeypatch.setattr(first.decider, "_connection", down)
    with pytest.raises(AuditUnavailableError) as failed:
        first.decider.decide(signal_body())
    assert failed.value.code == "SHARED_STATE_UNAVAILABLE"
    assert second.book.reserved("AAA") == (D(0), D(0))
    with pytest.raises(AuditUnavailableError):
        first.decider.report("any", report_body("NEW", D(0)))
