"""A fresh exchange simulator on a loopback port per test, and adapters pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from tradeguard.clock import SystemClock
from tradeguard.exchange import CcxtExchange, ValrExchange
from tradeguard.exchange.simulator import ExchangeSimulator


@pytest.fixture
def simulator() -> Iterator[ExchangeSimulator]:
    with ExchangeSimulator() as sim:
        yield sim


@pytest.fixture
def valr(simulator: ExchangeSimulator) -> Iterator[ValrExchange]:
    exchange = ValrExchange(
        simulator.base_url,
        SecretStr(simulator.api_key),
        SecretStr(simulator.api_secret),
        SystemClock(),
        timeout_s=2,
    )
    yield exchange
    exchange.close()


@pytest.fixture
def binance(simulator: ExchangeSimulator) -> Iterator[CcxtExchange]:
    exchange = CcxtExchange(
        "binance",
        api_key=SecretStr(simulator.api_key),
        api_secret=SecretStr(simulator.api_secret),
        base_url=simulator.base_url,
        clock=SystemClock(),
        timeout_s=2,
    )
    yield exchange
    exchange.close()
