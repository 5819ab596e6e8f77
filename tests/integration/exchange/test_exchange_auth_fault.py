"""Revoked keys and unreadable accounts, as both adapters see them from the simulator."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from pydantic import SecretStr

from tradeguard.clock import SystemClock
from tradeguard.codes import ErrorCode
from tradeguard.errors import ExchangeAuthError, ExchangeUnavailableError
from tradeguard.exchange import ValrExchange
from tradeguard.exchange.simulator import ExchangeSimulator
from tradeguard.policy import Side
from tradeguard.ports import OrderRequest

ORDER = OrderRequest("tg-auth-1", "BTCUSDT", Side.BUY, Decimal("0.01"))


@pytest.mark.parametrize("adapter", ["valr", "binance"])
def test_revoked_keys_refuse_signed_calls_with_exchange_auth_failed(
    request: pytest.FixtureRequest, simulator: ExchangeSimulator, adapter: str
) -> None:
    exchange = request.getfixturevalue(adapter)
    assert exchange.balances()
    reply = httpx.post(f"{simulator.base_url}/_sim/faults", json={"auth_fail": True})
    assert reply.status_code == 200 and reply.json()["auth_fail"] is True
    for call in (exchange.balances, exchange.open_orders, lambda: exchange.place_order(ORDER)):
        with pytest.raises(ExchangeAuthError) as caught:
            call()
        assert caught.value.code == ErrorCode.EXCHANGE_AUTH_FAILED
    # Public routes and the control surface keep answering; nothing was accepted.
    assert exchange.ticker("BTCUSDT").price > 0
    assert exchange.server_time() is not None
    assert simulator.accepted_orders() == []
    simulator.clear_faults()
    assert exchange.place_order(ORDER).symbol == "BTCUSDT"


def test_wrong_keys_are_refused_like_revoked_ones(simulator: ExchangeSimulator) -> None:
    wrong = ValrExchange(
        simulator.base_url, SecretStr("other-key"), SecretStr("other"), SystemClock()
    )
    try:
        with pytest.raises(ExchangeAuthError):
            wrong.balances()
    finally:
        wrong.close()


@pytest.mark.parametrize("adapter", ["valr", "binance"])
def test_unreadable_account_fails_the_reads_but_not_the_orders(
    request: pytest.FixtureRequest, simulator: ExchangeSimulator, adapter: str
) -> None:
    exchange = request.getfixturevalue(adapter)
    simulator.set_faults(account_unreadable=True)
    for call in (exchange.balances, exchange.open_orders):
        with pytest.raises(ExchangeUnavailableError) as caught:
            call()
        assert not isinstance(caught.value, ExchangeAuthError)
    assert exchange.place_order(ORDER).filled_quantity == ORDER.quantity


def test_the_new_faults_are_shown_and_validated(simulator: ExchangeSimulator) -> None:
    url = f"{simulator.base_url}/_sim/faults"
    bad = httpx.post(url, json={"auth_fail": "yes"})
    assert bad.status_code == 400 and "auth_fail" in bad.json()["message"]
    httpx.post(url, json={"account_unreadable": True}).raise_for_status()
    shown = httpx.get(url).json()
    assert shown["account_unreadable"] is True and shown["auth_fail"] is False
    httpx.post(url, json={}).raise_for_status()
    assert httpx.get(url).json()["account_unreadable"] is False
