"""Processes sharing one PostgreSQL account in a test: a shared book and decide service each.

``BookDecider`` stands in for the gate of the decide API: it permits every intent its shared
book's caps let through (the book reserves it) and refuses the rest with the book's code, so
the tests exercise the shared permits and the shared book without the policy around them.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tradeguard.audit.records import AuditTable
from tradeguard.clock import FakeClock
from tradeguard.execution.decisions import Decided
from tradeguard.execution.results import SignalOutcome, SignalResult
from tradeguard.execution.shared_book import SharedPositionBook
from tradeguard.execution.shared_permits import SharedDecideService
from tradeguard.policy.orders import INTENT_OK
from tradeguard.ports import AuditStore
from tradeguard.signals import Signal, parse_signal

PRICES = {"AAA": Decimal(10), "BBB": Decimal(20)}


class BookDecider:
    """Permit what the shared book's caps let through; nothing else is decided."""

    def __init__(self, book: SharedPositionBook) -> None:
        self.book = book

    def decide(self, signal: Signal | Mapping[str, Any]) -> Decided:
        """Reserve the signal's quantity in the book; answer ALLOW or the book's refusal."""
        parsed = parse_signal(signal)
        check, reservation = self.book.check_and_reserve(
            parsed.symbol, parsed.side, parsed.quantity, lambda _position: INTENT_OK
        )
        refused = reservation is None
        result = SignalResult(
            signal_id=parsed.signal_id,
            correlation_id=f"permit-{uuid.uuid4().hex}",
            decision="ALLOW",
            reason_code="ALLOW",
            blocking_gate=None,
            precedence_rank=None,
            is_latched=False,
            outcome=SignalOutcome.REFUSED if refused else SignalOutcome.ACCEPTED,
            refusal_code=None if check.code is None else str(check.code),
        )
        return Decided(result, reservation)


@dataclass
class Process:
    """One process of the account: its shared book and its decide service."""

    book: SharedPositionBook
    decider: SharedDecideService

    def close(self) -> None:
        self.decider.close()
        self.book.close()


def process(
    url: str,
    account: str,
    clock: FakeClock,
    audit: AuditStore,
    *,
    ttl: float = 5.0,
    lease: float = 5.0,
    max_open_orders: int | None = None,
    max_gross_exposure: Decimal | None = None,
    resting_outlives_process: bool = True,
) -> Process:
    """Return one process's book and decide service on ``url``'s ``account``."""
    book = SharedPositionBook(
        clock,
        url,
        account=account,
        lease_seconds=lease,
        resting_outlives_process=resting_outlives_process,
        price_lookup=PRICES.__getitem__,
        max_open_orders=max_open_orders,
        max_gross_exposure=max_gross_exposure,
    )
    decider = SharedDecideService(
        BookDecider(book), audit, book, clock, url=url, account=account, ttl_seconds=ttl
    )
    return Process(book, decider)


def signal_body(symbol: str = "AAA", side: str = "BUY", quantity: Decimal = Decimal(1)) -> dict:
    """Return a signal body with a fresh ``signal_id``."""
    return {
        "signal_id": f"sig-{uuid.uuid4().hex}",
        "symbol": symbol,
        "side": side,
        "intent": "OPEN",
        "quantity": str(quantity),
    }


def report_body(status: str, filled: Decimal, order_id: str = "o-1") -> dict[str, str]:
    """Return a report body."""
    return {
        "exchange_order_id": order_id,
        "status": status,
        "filled_quantity": str(filled),
        "average_price": "10",
    }


def order_rows(audit: AuditStore, permit_id: str) -> list[dict[str, Any]]:
    """Return the ``order_audit`` rows of ``permit_id``."""
    return list(audit.rows(AuditTable.ORDER, correlation_id=permit_id))


def expiry_rows(audit: AuditStore, permit_id: str) -> list[dict[str, Any]]:
    """Return the CANCELLED / PERMIT_EXPIRED rows of ``permit_id``."""
    return [
        row
        for row in order_rows(audit, permit_id)
        if row.get("event") == "CANCELLED" and row.get("code") == "PERMIT_EXPIRED"
    ]
