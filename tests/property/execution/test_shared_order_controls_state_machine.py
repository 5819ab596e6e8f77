"""Two instances on one database pace orders as one process would, in any interleaving.

Two ``SharedPositionBook`` instances on one real PostgreSQL schema (the ``postgres_url``
fixture), each with its own ``OrderControls`` and a monotonic clock of its own (they share
only the wall clock, as processes on NTP-synchronised hosts do), receive orders in any
interleaving while time moves in bursts and gaps. The model is one in-memory ``PositionBook``
with the same controls fed the same orders: every decision of the shared books is the model's.
Independently of both, the orders admitted are checked against the rules themselves: at no
moment do more than the per-symbol or per-account limit of them fall within one rate window,
and no two of another signal with the same symbol, side and quantity fall within the
duplicate window.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from tradeguard.audit.postgres import PostgresAuditStore
from tradeguard.clock import FakeClock
from tradeguard.codes import ErrorCode
from tradeguard.execution import PositionBook
from tradeguard.execution.order_controls import OrderControls, OrderLimits
from tradeguard.execution.shared_book import SharedPositionBook
from tradeguard.policy import Side
from tradeguard.policy.orders import INTENT_OK, IntentCheck

D = Decimal
PER_SYMBOL, PER_ACCOUNT, RATE_WINDOW, DUPLICATE_WINDOW = 2, 3, 1.0, 0.75
LIMITS = OrderLimits(
    max_orders_per_symbol=PER_SYMBOL,
    max_orders_per_account=PER_ACCOUNT,
    rate_window_seconds=RATE_WINDOW,
    duplicate_window_seconds=DUPLICATE_WINDOW,
)
PACING = {ErrorCode.RISK_ORDER_RATE, ErrorCode.RISK_DUPLICATE_ORDER}


def _ok(_position: Decimal) -> IntentCheck:
    return INTENT_OK


class ProcessClock:
    """The shared wall clock, and a monotonic clock of this process (``offset`` apart)."""

    def __init__(self, wall: FakeClock, offset: float) -> None:
        self.wall, self.offset = wall, offset

    def now(self) -> datetime:
        return self.wall.now()

    def monotonic(self) -> float:
        return self.wall.monotonic() + self.offset


def machine(url: str) -> type[RuleBasedStateMachine]:
    class SharedPacingMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.clock = FakeClock()
            self.elapsed = 0.0  # quarter seconds: exact in binary, on both clocks
            account = f"acct-{uuid.uuid4().hex[:8]}"
            self.books = [
                SharedPositionBook(ProcessClock(self.clock, offset), url, account=account)
                for offset in (0.0, 12_345.0)
            ]
            for book in self.books:
                book.controls = OrderControls(None, LIMITS)
            self.model = PositionBook(self.clock, controls=OrderControls(None, LIMITS))
            # (time, symbol, side, quantity, signal) of every order admitted.
            self.admitted: list[tuple[float, str, Side, Decimal, str]] = []

        @rule(seconds=st.sampled_from([0.25, 0.5, 0.75, 1.0, 2.0]))
        def wait(self, seconds: float) -> None:
            self.clock.advance(seconds)
            self.elapsed += seconds

        @rule(
            who=st.integers(0, 1),
            symbol=st.sampled_from(["AAA", "BBB"]),
            side=st.sampled_from(Side),
            quantity=st.sampled_from([D(1), D("2.0"), D(2)]),
            signal=st.sampled_from(["s0", "s1", "s2"]),
        )
        def order(self, who: int, symbol: str, side: Side, quantity: Decimal, signal: str) -> None:
            # Each order is resolved at once (released): the book stays flat, so every order
            # adds risk and meets every control; only the controls' memory is left of it.
            shared, held = self.books[who].check_and_reserve(
                symbol, side, quantity, _ok, signal_id=signal
            )
            self.books[who].release(held)
            model, model_held = self.model.check_and_reserve(
                symbol, side, quantity, _ok, signal_id=signal
            )
            self.model.release(model_held)
            assert shared == model
            assert shared.permitted or shared.code in PACING
            if shared.permitted:
                self.admitted.append((self.elapsed, symbol, side, quantity, signal))

        @invariant()
        def the_orders_admitted_keep_the_rules(self) -> None:
            if not self.admitted:
                return
            at, symbol, side, quantity, signal = self.admitted[-1]
            before = self.admitted[:-1]
            in_rate = [o for o in before if at - o[0] < RATE_WINDOW]
            assert len(in_rate) < PER_ACCOUNT
            assert sum(o[1] == symbol for o in in_rate) < PER_SYMBOL
            assert not any(
                at - o[0] < DUPLICATE_WINDOW
                and o[1:4] == (symbol, side, quantity)
                and o[4] != signal
                for o in before
            )

        def teardown(self) -> None:
            for book in self.books:
                book.close()

    return SharedPacingMachine


def test_two_instances_on_one_database_pace_orders_as_one_process(postgres_url):
    PostgresAuditStore(postgres_url).close()  # migrates the schema
    run_state_machine_as_test(
        machine(postgres_url),
        settings=settings(max_examples=100, stateful_step_count=20, deadline=None),
    )
