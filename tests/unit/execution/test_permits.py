"""Permits: only the authority mints them; forged, altered, reused or stale ones fail."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from tradeguard.clock import FakeClock
from tradeguard.errors import PermitError
from tradeguard.execution import PermitAuthority
from tradeguard.policy import Decision, OrderIntent, Side


def mint(authority, **overrides):
    args = dict(
        correlation_id="c-1",
        intent=OrderIntent.OPEN,
        symbol="BTCUSDT",
        side=Side.BUY,
        quantity=Decimal(1),
        decision=Decision.ALLOW,
        decision_seq=7,
    )
    args.update(overrides)
    return authority.mint(**args)


def test_a_minted_permit_redeems_once():
    authority = PermitAuthority(FakeClock())
    permit = mint(authority)
    assert authority.redeem(permit) is permit
    with pytest.raises(PermitError, match="already used"):
        authority.redeem(permit)


@pytest.mark.parametrize(
    "change",
    [
        {"quantity": Decimal(2)},
        {"symbol": "ETHUSDT"},
        {"side": Side.SELL},
        {"intent": OrderIntent.INCREASE},
        {"correlation_id": "c-2"},
        {"decision_seq": 8},
    ],
)
def test_an_altered_permit_fails(change):
    authority = PermitAuthority(FakeClock())
    forged = dataclasses.replace(mint(authority), **change)
    with pytest.raises(PermitError) as caught:
        authority.redeem(forged)
    assert caught.value.code == "PERMIT_INVALID"


def test_a_permit_of_another_authority_fails():
    clock = FakeClock()
    with pytest.raises(PermitError):
        PermitAuthority(clock).redeem(mint(PermitAuthority(clock)))


def test_anything_that_is_not_a_permit_fails():
    with pytest.raises(PermitError):
        PermitAuthority(FakeClock()).redeem({"symbol": "BTCUSDT"})


def test_an_expired_permit_fails():
    clock = FakeClock()
    authority = PermitAuthority(clock, ttl_seconds=2)
    permit = mint(authority)
    clock.advance(2.5)
    with pytest.raises(PermitError, match="expired"):
        authority.redeem(permit)


@pytest.mark.parametrize(
    ("decision", "intent"),
    [
        (Decision.NEUTRAL, OrderIntent.OPEN),
        (Decision.HALT, OrderIntent.CLOSE),
        (Decision.HALT, OrderIntent.OPEN),
    ],
)
def test_no_permit_is_minted_for_an_intent_the_decision_does_not_permit(decision, intent):
    with pytest.raises(PermitError):
        mint(PermitAuthority(FakeClock()), decision=decision, intent=intent)


def test_no_permit_without_a_durable_record_seq():
    with pytest.raises(PermitError):
        mint(PermitAuthority(FakeClock()), decision_seq=0)


def test_executor_refuses_a_forged_permit_and_sends_nothing():
    from tests.unit.execution.factories import wire

    w = wire()
    permit = mint(w.stack.authority)
    forged = dataclasses.replace(permit, quantity=Decimal(100))
    with pytest.raises(PermitError):
        w.executor.execute(forged)
    assert w.exchange.open_orders() == [] and w.positions.position("BTCUSDT") == 0


def test_a_permit_altered_in_place_fails():
    authority = PermitAuthority(FakeClock())
    permit = mint(authority)
    object.__setattr__(permit, "quantity", Decimal(100))
    with pytest.raises(PermitError, match="altered"):
        authority.redeem(permit)


def test_an_equal_copy_of_a_minted_permit_fails_and_the_original_still_redeems():
    authority = PermitAuthority(FakeClock())
    permit = mint(authority)
    with pytest.raises(PermitError):
        authority.redeem(dataclasses.replace(permit))
    assert authority.redeem(permit) is permit


def test_many_outstanding_permits_do_not_slow_redeeming_and_expired_ones_are_swept():
    clock = FakeClock()
    authority = PermitAuthority(clock, ttl_seconds=1)
    stale = [mint(authority, correlation_id=f"old-{i}") for i in range(1500)]
    clock.advance(2)
    fresh = mint(authority, correlation_id="new")
    assert authority.outstanding() <= 1025
    assert authority.redeem(fresh) is fresh
    with pytest.raises(PermitError):
        authority.redeem(stale[0])
