"""Property: whatever the decide API answers, or fails to, a freqtrade entry goes ahead only on
ALLOW with a permit, and an exit only with a permit under ALLOW or NEUTRAL (SPEC §2)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.integration.freqtrade.decide_stub import (
    DecideStub,
    StubReply,
    decide_answer,
    running_stub,
)
from tradeguard.integrations.freqtrade import TradeGuardMixin

TIMEOUT = 0.1
_REQUIRED = ("signal_id", "correlation_id", "decision", "reason_code", "codes", "permitted")


class Strategy(TradeGuardMixin):
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config


@pytest.fixture(scope="module")
def stub() -> Iterator[DecideStub]:
    with running_stub() as server:
        yield server


@pytest.fixture(scope="module")
def strategy(stub: DecideStub) -> Iterator[Strategy]:
    # One instance for every example, as freqtrade keeps one: its HTTP client is reused.
    instance = Strategy({"tradeguard": {"url": stub.base_url, "secret": "s", "timeout": TIMEOUT}})
    yield instance
    instance.ft_bot_cleanup()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def decide_bodies(draw: st.DrawFn) -> Any:
    body = decide_answer(
        decision=draw(st.sampled_from(["ALLOW", "NEUTRAL", "HALT", "allow", "", "MAYBE"])),
        permitted=draw(st.booleans()),
        permit_id=draw(st.sampled_from([None, "p-1", "x" * 40])),
    )
    if draw(st.booleans()):
        body["permit_id"] = draw(st.none() | st.just("") | st.integers() | st.text(max_size=5))
    if draw(st.integers(0, 4)) == 0:
        del body[draw(st.sampled_from(_REQUIRED))]
    if draw(st.integers(0, 4)) == 0:
        body[draw(st.sampled_from(_REQUIRED))] = draw(json_values)
    return body


@st.composite
def replies(draw: st.DrawFn) -> tuple[StubReply, Any]:
    kind = draw(st.sampled_from(["answer", "answer", "answer", "json", "bytes", "drop", "slow"]))
    status = draw(st.sampled_from([200, 200, 200, 201, 302, 401, 409, 422, 500, 503]))
    if kind == "answer":
        body = draw(decide_bodies())
        return StubReply(status, json.dumps(body).encode()), body
    if kind == "json":
        body = draw(json_values)
        return StubReply(status, json.dumps(body).encode()), body
    if kind == "bytes":
        return StubReply(status, draw(st.binary(max_size=40))), None
    if kind == "drop":
        return StubReply(drop=True), None
    # An answer far past the timeout: no scheduling luck can make it arrive in time.
    return StubReply(200, json.dumps(decide_answer("ALLOW")).encode(), delay=2.0), None


def _carries_permit(status: int, body: Any, decisions: set[str]) -> bool:
    return (
        200 <= status < 300
        and isinstance(body, dict)
        and body.get("decision") in decisions
        and body.get("permitted") is True
        # The client reads any non-null permit_id as text (0 becomes "0"); empty is none.
        and body.get("permit_id") is not None
        and str(body["permit_id"]) != ""
    )


@settings(max_examples=150, deadline=None)
@given(replies())
def test_any_answer_or_failure_confirms_only_what_a_permit_allows(
    stub: DecideStub, strategy: Strategy, reply_and_body: tuple[StubReply, Any]
) -> None:
    reply, body = reply_and_body
    stub.reply = reply
    now = datetime.now(UTC)
    entered = strategy.confirm_trade_entry(
        pair="BTC/USDT",
        order_type="market",
        amount=0.01,
        rate=50000.0,
        time_in_force="GTC",
        current_time=now,
        entry_tag=None,
        side="long",
    )
    exited = strategy.confirm_trade_exit(
        pair="BTC/USDT",
        trade=SimpleNamespace(is_short=False),
        order_type="limit",
        amount=0.01,
        rate=50000.0,
        time_in_force="GTC",
        exit_reason="exit_signal",
        current_time=now,
    )
    assert entered in (True, False) and exited in (True, False)
    timely = not reply.drop and reply.delay < TIMEOUT
    if entered:
        assert timely and _carries_permit(reply.status, body, {"ALLOW"})
    if exited:
        assert timely and _carries_permit(reply.status, body, {"ALLOW", "NEUTRAL"})
    well_formed = (
        body
        == decide_answer(
            decision=str(body.get("decision")), permitted=True, permit_id=body.get("permit_id")
        )
        if isinstance(body, dict) and "decision" in body
        else False
    )
    if timely and well_formed and _carries_permit(reply.status, body, {"ALLOW"}):
        assert entered and exited
