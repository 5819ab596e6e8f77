"""The book shared on PostgreSQL behaves as one in-memory book, whatever two instances do.

Two ``SharedPositionBook`` instances on one real PostgreSQL schema (the ``postgres_url``
fixture) reserve, release, fill and die (their lease expires); the model is one in-memory
``PositionBook`` with the same caps fed the same steps, where an instance's death releases its
reservations. After every step both agree on every position and every quantity in flight, and
the worst exposure the reservations could leave is never above the cap.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)

from tradeguard.audit.postgres import PostgresAuditStore
from tradeguard.clock import FakeClock
from tradeguard.execution import PositionBook
from tradeguard.execution.shared_book import SharedPositionBook
from tradeguard.policy import Side
from tradeguard.policy.orders import INTENT_OK

D = Decimal
PRICES = {"AAA": D(10), "BBB": D(20)}
CAP = D(200)
MAX_OPEN = 4
LEASE = 5.0
QUANTITIES = st.sampled_from([D("0.5"), D(1), D("2.5"), D(4)])


def _ok(_position: Decimal) -> Any:
    return INTENT_OK


def _caps() -> dict[str, Any]:
    return {
        "price_lookup": PRICES.__getitem__,
        "max_gross_exposure": CAP,
        "max_open_orders": MAX_OPEN,
    }


def _view(book: PositionBook) -> tuple[dict[str, tuple[Any, ...]], list[Decimal], Decimal]:
    with book._transaction() as state:  # the seam both books share; read-only here
        books = {
            symbol: (
                b.quantity,
                b.average_entry,
                b.realised_today,
                b.inflight_buy,
                b.inflight_sell,
                b.worst_size(),
            )
            for symbol, b in state.books.items()
            if (b.quantity, b.inflight_buy, b.inflight_sell) != (0, 0, 0) or b.realised_today
        }
        held = sorted(remaining for _, _, remaining in state.reservations.values())
        return books, held, state.realised_total


def machine(url: str) -> type[RuleBasedStateMachine]:
    class SharedBookMachine(RuleBasedStateMachine):
        held = Bundle("held")

        def __init__(self) -> None:
            super().__init__()
            self.clock = FakeClock()
            account = f"acct-{uuid.uuid4().hex[:8]}"
            self.books = [
                SharedPositionBook(self.clock, url, account=account, lease_seconds=LEASE, **_caps())
                for _ in range(2)
            ]
            self.model = PositionBook(self.clock, **_caps())
            self.owned: list[tuple[int, Any]] = []  # (instance, model reservation) still live
            self.filled: dict[str, Decimal] = {}  # model reservation id: quantity filled
            self.turn = 0

        @rule(
            target=held,
            who=st.integers(0, 1),
            symbol=st.sampled_from(sorted(PRICES)),
            side=st.sampled_from(Side),
            quantity=QUANTITIES,
        )
        def reserve(self, who: int, symbol: str, side: Side, quantity: Decimal) -> Any:
            shared = self.books[who].check_and_reserve(symbol, side, quantity, _ok)
            model = self.model.check_and_reserve(symbol, side, quantity, _ok)
            assert shared[0] == model[0]
            assert (shared[1] is None) == (model[1] is None)
            if model[1] is not None:
                self.owned.append((who, model[1]))
            return (who, shared[1], model[1])

        @rule(entry=held)
        def release(self, entry: Any) -> None:
            who, shared, model = entry
            self.books[who].release(shared)
            self.model.release(model)

        @rule(
            entry=held, part=st.sampled_from([D("0.5"), D(1)]), price=st.sampled_from([D(9), D(11)])
        )
        def fill(self, entry: Any, part: Decimal, price: Decimal) -> None:
            # A fill of part of what is left of the order (an order never fills past its size).
            who, shared, model = entry
            if model is None:
                return
            left = model.quantity - self.filled.get(model.reservation_id, D(0))
            quantity = min(left, model.quantity * part)
            if quantity <= 0:
                return
            self.filled[model.reservation_id] = model.quantity - left + quantity
            self.books[who].apply_fill(
                model.symbol, model.side, quantity, price, reservation=shared
            )
            self.model.apply_fill(model.symbol, model.side, quantity, price, reservation=model)

        @rule(dead=st.integers(0, 1))
        def expire(self, dead: int) -> None:
            # ``dead`` stops renewing; past its lease the other instance's next step sweeps
            # its reservations. In the model, its orders in flight are released.
            self.clock.advance(LEASE * 2)
            self.books[1 - dead].renew()
            for who, reservation in self.owned:
                if who == dead:
                    self.model.release(reservation)
            self.owned = [(w, r) for w, r in self.owned if w != dead]

        @invariant()
        def agrees_with_the_model_and_stays_under_the_cap(self) -> None:
            # What an instance loads from the database (each in turn) is what the model holds:
            # positions, entries, P&L, quantities in flight, reservations.
            expected = _view(self.model)
            self.turn = 1 - self.turn
            assert _view(self.books[self.turn]) == expected
            worst = D(0)
            for symbol, (quantity, _, _, buy, sell, _) in expected[0].items():
                worst += max(abs(quantity + buy), abs(quantity - sell)) * PRICES[symbol]
            filled = sum(abs(v[0]) * PRICES[s] for s, v in expected[0].items())
            # The worst case only grows through a check, and a fill at another price than the
            # check's cannot raise it: it never goes above the cap (or the filled exposure).
            assert worst <= max(CAP, filled)

        def teardown(self) -> None:
            for book in self.books:
                book.close()

    return SharedBookMachine


def test_two_instances_on_one_database_behave_as_one_book(postgres_url):
    PostgresAuditStore(postgres_url).close()  # migrates the schema
    run_state_machine_as_test(
        machine(postgres_url),
        settings=settings(max_examples=100, stateful_step_count=10, deadline=None),
    )
