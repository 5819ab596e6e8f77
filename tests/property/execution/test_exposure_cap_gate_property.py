"""For any burst of signals through the gate, gross exposure ends under the cap.

Signals of random symbol, side, intent and size arrive in batches (``Gate.submit_many``, all
decided on one context) or from concurrent producer threads through the dispatcher; the
context always says ALLOW, so the policy never stops them. Whatever arrives, once the paper
exchange has filled what it was sent, the filled gross exposure is never above the cap, and
every signal the cap stopped is answered REFUSED with ``RISK_EXPOSURE`` and sends nothing.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.execution.factories import PRICES, signal, wire
from tradeguard.audit.records import AuditTable
from tradeguard.codes import ErrorCode
from tradeguard.execution import SignalResult

CAP = Decimal(250000)
SIGNALS = st.lists(
    st.builds(
        lambda symbol, side, intent, quantity: signal(
            symbol=symbol, side=side, intent=intent, quantity=str(quantity)
        ),
        symbol=st.sampled_from(sorted(PRICES)),
        side=st.sampled_from(["BUY", "SELL"]),
        intent=st.sampled_from(["OPEN", "OPEN", "CLOSE"]),
        quantity=st.decimals(min_value=Decimal("0.01"), max_value=Decimal(3), places=2),
    ),
    min_size=1,
    max_size=24,
)


def _dispatch_from_threads(dispatcher: Any, bodies: list[dict[str, Any]]) -> list[Any]:
    results: list[Any] = [None] * len(bodies)

    def produce(start: int) -> None:
        for index in range(start, len(bodies), 4):
            results[index] = dispatcher.dispatch(bodies[index])

    threads = [threading.Thread(target=produce, args=(start,)) for start in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bursts=st.lists(SIGNALS, min_size=1, max_size=3), threaded=st.booleans())
def test_no_burst_takes_gross_exposure_over_the_cap(
    bursts: list[list[dict[str, Any]]], threaded: bool
) -> None:
    w = wire(max_gross_exposure=CAP)
    for burst in bursts:
        results = (
            _dispatch_from_threads(w.dispatcher, burst) if threaded else w.gate.submit_many(burst)
        )
        assert w.positions.snapshot().gross_exposure <= CAP
        for result in results:
            assert isinstance(result, SignalResult)
            if result.refusal_code == ErrorCode.RISK_EXPOSURE.value:
                events = [r["event"] for r in w.rows(AuditTable.ORDER, result.correlation_id)]
                assert events == ["REFUSED"]
