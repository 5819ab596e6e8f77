"""For any interleaving of decides, reports, expiries, signals and kill switch flips.

A Hypothesis state machine drives ``DecideService`` over a real gate, position book, paper
exchange and audit store, and keeps a model of the permits it issued. After every step: the
book's reservations are exactly the unfilled rest of the open permits, its position is exactly
the fills reported plus the signals executed, the worst gross exposure never exceeds the cap,
and a refused report changed nothing (no row, no fill, no freed reservation).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from tests.unit.execution.factories import signal, wire
from tradeguard.audit.records import AuditTable
from tradeguard.clock import FakeClock
from tradeguard.errors import InvalidInputError
from tradeguard.execution.decide import DecideService

TTL = 5.0
CAP = Decimal(5000)  # 0.1 BTC at 50,000
PRICE = Decimal(50000)
QUANTITIES = st.sampled_from([Decimal("0.01"), Decimal("0.02"), Decimal("0.05")])


@dataclass
class Permit:
    permit_id: str
    side: str
    quantity: Decimal
    deadline: float
    filled: Decimal = Decimal(0)
    reported: bool = False


class DecideMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock(datetime(2026, 6, 1, tzinfo=UTC))
        self.wired = wire(clock=self.clock, max_gross_exposure=CAP, max_open_orders=6)
        self.service = DecideService(
            self.wired.gate, self.wired.audit, self.wired.positions, self.clock, ttl_seconds=TTL
        )
        self.open: dict[str, Permit] = {}
        # Insertion order, not sorted ids: permit ids are UUIDv7, and two minted in the same
        # millisecond sort by their random bits, which would make the draws differ between runs.
        self.closed: dict[str, None] = {}
        self.position = Decimal(0)

    def _orders(self) -> int:
        return len(self.wired.rows(AuditTable.ORDER))

    @rule(
        side=st.sampled_from(["BUY", "SELL"]),
        intent=st.sampled_from(["OPEN", "CLOSE", "REDUCE"]),
        quantity=QUANTITIES,
    )
    def decide(self, side: str, intent: str, quantity: Decimal) -> None:
        answer = self.service.decide(signal(side=side, intent=intent, quantity=str(quantity)))
        assert (answer.permit_id is not None) == answer.permitted
        event(f"decide {intent} permitted={answer.permitted}")
        if answer.permitted:
            assert answer.permit_id not in self.open
            deadline = self.clock.monotonic() + TTL
            self.open[answer.permit_id] = Permit(answer.permit_id, side, quantity, deadline)

    @precondition(lambda self: bool(self.open))
    @rule(
        data=st.data(),
        status=st.sampled_from(["NEW", "PARTIALLY_FILLED", "FILLED", "CANCELLED", "REJECTED"]),
        share=st.sampled_from([Decimal(0), Decimal("0.5"), Decimal(1)]),
    )
    def report(self, data: st.DataObject, status: str, share: Decimal) -> None:
        permit = self.open[data.draw(st.sampled_from(list(self.open)))]
        if status in ("NEW", "PARTIALLY_FILLED") and share == 1:
            share = Decimal("0.5")
        filled = max(permit.filled, permit.quantity * share)
        if status == "FILLED":
            filled = permit.quantity
        answer = self.service.report(
            permit.permit_id,
            {
                "exchange_order_id": f"o-{permit.permit_id}",
                "status": status,
                "filled_quantity": str(filled),
                "average_price": str(PRICE),
            },
        )
        applied = filled - permit.filled
        event(f"report {status} open={answer.open}")
        assert answer.applied_quantity == applied
        self.position += applied if permit.side == "BUY" else -applied
        permit.filled, permit.reported = filled, True
        if not answer.open:
            del self.open[permit.permit_id]
            self.closed[permit.permit_id] = None

    @rule(data=st.data(), kind=st.sampled_from(["unknown", "closed", "too_much", "shrink"]))
    def bad_report(self, data: st.DataObject, kind: str) -> None:
        if kind == "closed" and not self.closed:
            kind = "unknown"
        if kind in ("too_much", "shrink") and not self.open:
            kind = "unknown"
        before = (
            self._orders(),
            self.wired.positions.position("BTCUSDT"),
            self.wired.positions.reserved("BTCUSDT"),
        )
        body = {"exchange_order_id": "o-x", "status": "FILLED", "filled_quantity": "0"}
        if kind == "unknown":
            target, code = "no-such-permit", "PERMIT_UNKNOWN"
        elif kind == "closed":
            target = data.draw(st.sampled_from(list(self.closed)))
            code = "PERMIT_ALREADY_REPORTED|PERMIT_EXPIRED"
        else:
            permit = self.open[data.draw(st.sampled_from(list(self.open)))]
            target, code = permit.permit_id, "PERMIT_REPORT_INVALID"
            if kind == "too_much":
                body["filled_quantity"] = str(permit.quantity + Decimal("0.001"))
            elif permit.filled > 0:
                body["exchange_order_id"] = f"o-{permit.permit_id}"
                body["filled_quantity"] = str(permit.filled / 2)
            else:
                body["filled_quantity"] = "-1"
        with pytest.raises(InvalidInputError) as refused:
            self.service.report(target, body)
        assert getattr(refused.value, "code", None) in code.split("|") or (
            kind == "shrink" and refused.value.code == "PERMIT_REPORT_INVALID"
        )
        after = (
            self._orders(),
            self.wired.positions.position("BTCUSDT"),
            self.wired.positions.reserved("BTCUSDT"),
        )
        assert after == before

    @rule(
        side=st.sampled_from(["BUY", "SELL"]),
        intent=st.sampled_from(["OPEN", "CLOSE"]),
        quantity=QUANTITIES,
    )
    def send_signal(self, side: str, intent: str, quantity: Decimal) -> None:
        result = self.wired.gate.submit(signal(side=side, intent=intent, quantity=str(quantity)))
        if result.executed:
            filled = Decimal(result.order.filled_quantity)
            self.position += filled if side == "BUY" else -filled

    @rule(seconds=st.sampled_from([0.5, 2.0, TTL + 0.5]))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.service.expire_due()
        now = self.clock.monotonic()
        for permit_id, permit in list(self.open.items()):
            if not permit.reported and now > permit.deadline:
                del self.open[permit_id]
                self.closed[permit_id] = None

    @rule()
    def flip_kill_switch(self) -> None:
        self.wired.builder.kill = not self.wired.builder.kill

    @invariant()
    def book_matches_the_permits(self) -> None:
        rest_buy = sum(
            (p.quantity - p.filled for p in self.open.values() if p.side == "BUY"), Decimal(0)
        )
        rest_sell = sum(
            (p.quantity - p.filled for p in self.open.values() if p.side == "SELL"), Decimal(0)
        )
        positions = self.wired.positions
        assert positions.reserved("BTCUSDT") == (rest_buy, rest_sell)
        assert positions.position("BTCUSDT") == self.position
        assert self.service.outstanding() == len(self.open)

    @invariant()
    def exposure_never_above_the_cap(self) -> None:
        buy, sell = self.wired.positions.reserved("BTCUSDT")
        worst = max(abs(self.position + buy), abs(self.position - sell))
        assert worst * PRICE <= CAP


DecideMachine.TestCase.settings = settings(
    max_examples=100,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
TestDecidePermits = DecideMachine.TestCase
