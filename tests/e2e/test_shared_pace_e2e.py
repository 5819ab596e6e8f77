"""Two instances on one PostgreSQL database share the order rate limits and the duplicate rule.

Two ``tradeguard run`` processes on one database trade LIVE against one exchange simulator.
A signal sent to the first and the same symbol, side and quantity from another signal sent to
the second is refused as a duplicate by the second; the per-symbol rate limit counts the orders
of both. What the simulator itself accepted (``GET /_sim/orders``) is the proof.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from tests.e2e.test_shared_caps_e2e import Service, _accepted, _env, _free_port, send
from tradeguard.exchange.simulator import ExchangeSimulator

PACE_ENV = {
    "TRADEGUARD_MAX_ORDERS_PER_SYMBOL": "2",
    "TRADEGUARD_MAX_ORDERS_PER_ACCOUNT": "1000",
    # Windows far longer than the test: the outcome never depends on how fast it runs.
    "TRADEGUARD_ORDER_RATE_WINDOW_SECONDS": "600",
    "TRADEGUARD_DUPLICATE_ORDER_WINDOW_SECONDS": "600",
    "TRADEGUARD_PRICE_COLLAR_PCT": "99",
}


@pytest.fixture
def bases(postgres_url: str, tmp_path: Path) -> Iterator[tuple[ExchangeSimulator, list[str]]]:
    with ExchangeSimulator() as sim:
        services = []
        try:
            for index in range(2):
                env = _env(postgres_url, sim, Decimal(10**9), _free_port())
                env.update(PACE_ENV)
                services.append(Service(env, tmp_path / f"s{index}.log"))
            for service in services:
                service.wait_allowing()
            yield sim, [s.base for s in services]
        finally:
            for service in services:
                service.stop()


def test_a_duplicate_and_the_rate_are_refused_across_two_instances(bases) -> None:
    sim, (first, second) = bases
    assert send(first, quantity="0.01").json()["outcome"] == "EXECUTED"
    duplicate = send(second, quantity="0.01").json()
    assert (duplicate["outcome"], duplicate["refusal_code"]) == ("REFUSED", "RISK_DUPLICATE_ORDER")
    assert send(second, quantity="0.02").json()["outcome"] == "EXECUTED"
    for base in (first, second):  # two BTCUSDT orders within the window, one from each
        refused = send(base, quantity="0.03").json()
        assert (refused["outcome"], refused["refusal_code"]) == ("REFUSED", "RISK_ORDER_RATE")
    assert sorted(o["quantity"] for o in _accepted(sim, "BUY", "MARKET")) == ["0.01", "0.02"]
