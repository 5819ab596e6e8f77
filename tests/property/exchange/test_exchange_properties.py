"""For-any rules of the exchange adapters: signing, partial fills, balances, fault specs."""

from __future__ import annotations

import hashlib
import hmac
from decimal import ROUND_DOWN, Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tradeguard.clock import FakeClock
from tradeguard.exchange import PaperExchange, RemainderPolicy, sign_request
from tradeguard.exchange.simulator import SimulatorFaults
from tradeguard.exchange.simulator.protocol import SimRequest
from tradeguard.exchange.simulator.state import SimulatorState
from tradeguard.exchange.simulator.valr_api import ValrDialect
from tradeguard.policy import Side
from tradeguard.ports import OrderRequest, OrderStatus

STEP = Decimal("0.00000001")
quantities = st.decimals(min_value=Decimal("0.001"), max_value=Decimal(1000), places=3)
ratios = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(1), places=2)
paths = st.from_regex(r"/v[12]/[a-z/]{1,30}(\?[a-z]{1,8}=[a-z0-9]{1,8})?", fullmatch=True)


@settings(max_examples=200)
@given(
    secret=st.text(min_size=1, max_size=64),
    timestamp=st.integers(min_value=0, max_value=2**45),
    verb=st.sampled_from(["GET", "POST", "DELETE", "PUT"]),
    path=paths,
    body=st.text(max_size=200),
)
def test_signature_is_hmac_sha512_of_timestamp_verb_path_body(secret, timestamp, verb, path, body):
    expected = hmac.new(
        secret.encode(), f"{timestamp}{verb}{path}{body}".encode(), hashlib.sha512
    ).hexdigest()

    assert sign_request(secret, timestamp, verb.lower(), path, body) == expected


@settings(max_examples=100, deadline=None)
@given(
    path=paths,
    body=st.text(alphabet='abcdef{}:,"0123456789', min_size=1, max_size=80),
    flip=st.integers(min_value=0, max_value=10_000),
)
def test_simulator_accepts_exactly_the_requests_signed_with_its_secret(path, body, flip):
    dialect = ValrDialect(SimulatorState(FakeClock()), "key", "secret")

    def request(signed_body: str, sent_body: str) -> SimRequest:
        signature = sign_request("secret", 1700000000000, "POST", path, signed_body)
        return SimRequest(
            method="POST",
            path=path.split("?")[0],
            raw_path=path,
            query={},
            headers={
                "X-VALR-API-KEY": "key",
                "X-VALR-TIMESTAMP": "1700000000000",
                "X-VALR-SIGNATURE": signature,
                "Content-Type": "application/json",
            },
            body=sent_body.encode(),
        )

    index = flip % len(body)
    tampered = body[:index] + ("x" if body[index] != "x" else "y") + body[index + 1 :]

    assert dialect._authenticate(request(body, body)) is None
    assert dialect._authenticate(request(body, tampered)).status == 401


@settings(max_examples=150, deadline=None)
@given(quantity=quantities, ratio=ratios, remainder=st.sampled_from(list(RemainderPolicy)))
def test_partial_fill_fills_the_ratio_then_reaches_the_remainder_policy_outcome(
    quantity, ratio, remainder
):
    exchange = PaperExchange(
        FakeClock(),
        price_source=lambda symbol: Decimal(100),
        partial_fill_ratio=ratio,
        partial_fill_remainder=remainder,
    )

    placed = exchange.place_order(OrderRequest("c", "BTCUSDT", Side.BUY, quantity))
    polled = exchange.order_status("BTCUSDT", placed.order_id)

    first_fill = (quantity * ratio).quantize(STEP, rounding=ROUND_DOWN)
    assert placed.filled_quantity == first_fill
    if first_fill == quantity:
        assert placed.status is OrderStatus.FILLED and polled.status is OrderStatus.FILLED
        return
    assert placed.status is (OrderStatus.PARTIALLY_FILLED if first_fill else OrderStatus.NEW)
    expected = {
        RemainderPolicy.FILL: (OrderStatus.FILLED, quantity),
        RemainderPolicy.CANCEL: (OrderStatus.CANCELLED, first_fill),
        RemainderPolicy.REST: (placed.status, first_fill),
    }[remainder]
    assert (polled.status, polled.filled_quantity) == expected


@settings(max_examples=100, deadline=None)
@given(
    orders=st.lists(
        st.tuples(st.sampled_from([Side.BUY, Side.SELL]), quantities, ratios),
        min_size=1,
        max_size=12,
    )
)
def test_balances_always_equal_the_fills_the_exchange_reports(orders):
    exchange = PaperExchange(FakeClock(), price_source=lambda symbol: Decimal(3))
    ids = []
    for index, (side, quantity, ratio) in enumerate(orders):
        exchange.partial_fill_ratio = ratio
        ids.append(exchange.place_order(OrderRequest(f"c{index}", "ETHUSDT", side, quantity)))

    reported = [exchange.order_status("ETHUSDT", state.order_id) for state in ids]
    position = sum(
        (s.filled_quantity if s.side is Side.BUY else -s.filled_quantity for s in reported),
        Decimal(0),
    )

    totals = {b.currency: b.total for b in exchange.balances()}
    assert totals.get("ETH", Decimal(0)) == position
    assert totals["USDT"] == Decimal(100000) - position * 3
    assert all(s.status.is_terminal for s in reported)


@settings(max_examples=100)
@given(
    down=st.booleans(),
    latency=st.integers(min_value=0, max_value=10_000),
    skew=st.integers(min_value=-(10**7), max_value=10**7),
    ratio=st.none() | ratios,
    remainder=st.sampled_from(list(RemainderPolicy)),
    frozen=st.none() | st.floats(min_value=0, max_value=1e6, allow_nan=False),
    reject=st.booleans(),
)
def test_fault_specs_round_trip_through_json(down, latency, skew, ratio, remainder, frozen, reject):
    faults = SimulatorFaults(
        down=down,
        latency_ms=latency,
        clock_skew_ms=skew,
        partial_fill_ratio=ratio,
        partial_fill_remainder=remainder,
        ticker_frozen_seconds=frozen,
        reject_orders=reject,
    )

    assert SimulatorFaults.from_json(faults.to_json()) == faults
