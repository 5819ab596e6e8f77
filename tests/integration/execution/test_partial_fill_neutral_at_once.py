"""A partial fill makes the very next decision NEUTRAL, not one cached sample's age later."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

from tests.service_support import make_settings, signal_body
from tradeguard.background import prime_sources
from tradeguard.bootstrap import build_container
from tradeguard.execution import SignalOutcome


def test_the_signal_after_a_partial_fill_is_decided_on_fresh_health() -> None:
    container = build_container(make_settings(paper_partial_fill_ratio=Decimal("0.5")))
    prime_sources(container)
    paper = container.exchange.inner
    reported = threading.Event()
    status = paper.order_status

    def slow_status(symbol: str, order_id: str) -> Any:
        reported.wait(5.0)  # the exchange has not reported the remainder yet
        return status(symbol, order_id)

    paper.order_status = slow_status
    try:
        gate = container.gate
        first = gate.submit(signal_body(quantity="0.02"))
        assert first.decision == "ALLOW" and first.outcome is SignalOutcome.PARTIALLY_FILLED
        assert container.execution.reconciler.pending()
        # At once, well within the health source's cached sample age.
        follow = gate.submit(signal_body(quantity="0.02"))
        assert follow.decision == "NEUTRAL", follow.reason_code
        assert follow.reason_code == "NEUTRAL_HEALTH_YELLOW"
        assert follow.outcome is SignalOutcome.REFUSED
        reported.set()
        assert container.execution.reconciler.wait_idle(5.0)
        assert gate.submit(signal_body(quantity="0.01")).decision == "ALLOW"
    finally:
        reported.set()
        container.close()
