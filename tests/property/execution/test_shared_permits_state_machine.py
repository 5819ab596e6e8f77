"""Shared permits and resting orders on PostgreSQL behave as one process would, for any steps.

Two processes (a ``SharedPositionBook`` and a ``SharedDecideService`` each) on one real
PostgreSQL schema mint permits, report them through either process, let them expire (swept by
either), rest orders on the exchange, read the account (which settles the resting orders the
exchange no longer lists) and die (their lease expires). The model is one in-memory
``PositionBook`` with the same caps, where a resting order is held as the in-memory book holds
an order it found resting (``hold_resting``), and a list of permits with their state. After
every step: the shared state equals the model's (positions, quantities in flight, every
reservation and resting order), each permit has exactly the ``order_audit`` rows its steps
wrote (one per accepted report, one CANCELLED / PERMIT_EXPIRED row when it expired, never
two), and the permits still held are the model's.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tests.property.execution.test_shared_book_state_machine import _view
from tests.shared_state_support import (
    PRICES,
    expiry_rows,
    order_rows,
    process,
    report_body,
    signal_body,
)
from tradeguard.audit.postgres import PostgresAuditStore
from tradeguard.clock import FakeClock
from tradeguard.errors import InvalidInputError
from tradeguard.execution import PositionBook, Reservation
from tradeguard.execution.shared_book import RESTING_SETTLE_GRACE
from tradeguard.policy import Side
from tradeguard.policy.orders import INTENT_OK

D = Decimal
CAP = D(200)
MAX_OPEN = 4
TTL = 5.0
LEASE = 60.0
QUANTITIES = st.sampled_from([D("0.5"), D(1), D("2.5"), D(4)])
SYMBOLS = st.sampled_from(sorted(PRICES))
WHO = st.integers(0, 1)


@dataclass
class Permit:
    permit_id: str
    minted_by: int
    symbol: str
    side: Side
    quantity: Decimal
    reservation: Reservation
    expires_at: datetime
    filled: Decimal = Decimal(0)
    order_id: str | None = None
    state: str = "HELD"
    rows: int = 0


def _caps() -> dict[str, Any]:
    return {
        "price_lookup": PRICES.__getitem__,
        "max_gross_exposure": CAP,
        "max_open_orders": MAX_OPEN,
    }


def _ok(_position: Decimal) -> Any:
    return INTENT_OK


def machine(url: str, audit: PostgresAuditStore) -> type[RuleBasedStateMachine]:
    class SharedPermitsMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.clock = FakeClock()
            account = f"acct-{uuid.uuid4().hex[:8]}"
            self.processes = [
                process(
                    url,
                    account,
                    self.clock,
                    audit,
                    ttl=TTL,
                    lease=LEASE,
                    max_open_orders=MAX_OPEN,
                    max_gross_exposure=CAP,
                )
                for _ in range(2)
            ]
            self.model = PositionBook(self.clock, **_caps())
            # Drawn in insertion order, never by sorted id: ids minted in the same millisecond
            # (UUIDv7) sort by random bits, which would make the draws differ between runs.
            self.permits: dict[str, Permit] = {}
            self.resting: dict[str, datetime] = {}  # order id: when its row was written
            self.turn = 0

        def _expire_model(self) -> int:
            now = self.clock.now()
            expired = 0
            for permit in self.permits.values():
                if permit.state == "HELD" and permit.order_id is None and now > permit.expires_at:
                    self.model.release(permit.reservation)
                    permit.state, permit.rows = "EXPIRED", permit.rows + 1
                    expired += 1
            return expired

        @rule(who=WHO, symbol=SYMBOLS, side=st.sampled_from(Side), quantity=QUANTITIES)
        def decide(self, who: int, symbol: str, side: Side, quantity: Decimal) -> None:
            body = signal_body(symbol, side.value, quantity)
            answer = self.processes[who].decider.decide(body)  # sweeps due permits first
            self._expire_model()
            _, reservation = self.model.check_and_reserve(symbol, side, quantity, _ok)
            assert answer.permitted == (reservation is not None)
            if reservation is not None:
                assert answer.permit_id is not None and answer.expires_at is not None
                self.permits[answer.permit_id] = Permit(
                    answer.permit_id, who, symbol, side, quantity, reservation, answer.expires_at
                )

        @precondition(lambda self: bool(self.permits))
        @rule(
            data=st.data(),
            who=WHO,
            status=st.sampled_from(["NEW", "PARTIALLY_FILLED", "FILLED", "CANCELLED"]),
            share=st.sampled_from([D(0), D("0.5"), D(1)]),
        )
        def report(self, data: st.DataObject, who: int, status: str, share: Decimal) -> None:
            permit = self.permits[data.draw(st.sampled_from(list(self.permits)))]
            if status in ("NEW", "PARTIALLY_FILLED") and share == 1:
                share = D("0.5")
            filled = permit.quantity if status == "FILLED" else permit.quantity * share
            filled = max(permit.filled, filled)
            body = report_body(status, filled, f"o-{permit.permit_id}")
            expected = self._expected_refusal(permit)
            if expected is not None:
                with pytest.raises(InvalidInputError) as refused:
                    self.processes[who].decider.report(permit.permit_id, body)
                assert refused.value.code == expected
                return
            answer = self.processes[who].decider.report(permit.permit_id, body)
            applied = filled - permit.filled
            assert answer.applied_quantity == applied
            if applied > 0:
                self.model.apply_fill(
                    permit.symbol, permit.side, applied, D(10), reservation=permit.reservation
                )
            permit.filled, permit.order_id = filled, body["exchange_order_id"]
            permit.rows += 1
            if status in ("FILLED", "CANCELLED"):
                self.model.release(permit.reservation)
                permit.state = "REPORTED"

        def _expected_refusal(self, permit: Permit) -> str | None:
            if permit.state == "EXPIRED":
                return "PERMIT_EXPIRED"
            if permit.state == "REPORTED":
                return "PERMIT_ALREADY_REPORTED"
            if permit.order_id is None and self.clock.now() > permit.expires_at:
                self.model.release(permit.reservation)  # the report expires it, once
                permit.state, permit.rows = "EXPIRED", permit.rows + 1
                return "PERMIT_EXPIRED"
            return None

        @rule(who=WHO, seconds=st.sampled_from([0.5, 2.0, TTL + 1]))
        def advance_and_sweep(self, who: int, seconds: float) -> None:
            self.clock.advance(seconds)
            for each in self.processes:  # both alive: each renews its lease
                each.book.renew()
            assert self.processes[who].decider.expire_due() == self._expire_model()

        @rule(who=WHO, symbol=SYMBOLS, side=st.sampled_from(Side), quantity=QUANTITIES)
        def rest(self, who: int, symbol: str, side: Side, quantity: Decimal) -> None:
            book = self.processes[who].book
            _, shared = book.check_and_reserve(symbol, side, quantity, _ok)
            _, model = self.model.check_and_reserve(symbol, side, quantity, _ok)
            assert (shared is None) == (model is None)
            if shared is None or model is None:
                return
            order_id = f"x-{uuid.uuid4().hex[:10]}"
            book.rest(shared, order_id, symbol, side, quantity)
            self.model.release(model)
            self.model.hold_resting(order_id, symbol, side, quantity)
            self.resting[order_id] = self.clock.now()

        @precondition(lambda self: bool(self.resting))
        @rule(who=WHO, data=st.data())
        def read_account(self, who: int, data: st.DataObject) -> None:
            # The exchange lists some of the resting orders; the read began ``ago`` seconds back.
            listed = data.draw(st.sets(st.sampled_from(list(self.resting))))
            ago = data.draw(st.sampled_from([0.0, 6.0]))
            started = self.clock.now() - timedelta(seconds=ago)
            self.processes[who].book.settle_resting(sorted(listed), started)
            for order_id, placed in list(self.resting.items()):
                if order_id not in listed and placed < started - RESTING_SETTLE_GRACE:
                    self.model.release_resting(order_id)
                    del self.resting[order_id]

        @rule(dead=WHO)
        def die(self, dead: int) -> None:
            # ``dead`` stops renewing; past its lease the other one's next step sweeps its
            # reservations (its permits' holds), never the resting orders (the exchange's).
            self.clock.advance(LEASE * 2)
            self.processes[1 - dead].book.renew()
            for permit in self.permits.values():
                if permit.minted_by == dead and permit.state == "HELD":
                    self.model.release(permit.reservation)

        @invariant()
        def shared_state_equals_the_model(self) -> None:
            self.turn = 1 - self.turn
            assert _view(self.processes[self.turn].book) == _view(self.model)

        @invariant()
        def each_permit_has_the_rows_of_its_steps(self) -> None:
            for permit in self.permits.values():
                assert len(order_rows(audit, permit.permit_id)) == permit.rows
                expired = 1 if permit.state == "EXPIRED" else 0
                assert len(expiry_rows(audit, permit.permit_id)) == expired
            held = sum(1 for p in self.permits.values() if p.state == "HELD")
            assert self.processes[self.turn].decider.outstanding() == held

        def teardown(self) -> None:
            for each in self.processes:
                each.close()

    return SharedPermitsMachine


def test_shared_permits_and_resting_orders_behave_as_one_process(postgres_url: str) -> None:
    audit = PostgresAuditStore(postgres_url)  # migrates the schema
    try:
        run_state_machine_as_test(
            machine(postgres_url, audit),
            settings=settings(
                max_examples=100,
                stateful_step_count=12,
                deadline=None,
                suppress_health_check=list(HealthCheck),
            ),
        )
    finally:
        audit.close()
