"""Symbol rules over real loopback HTTP: the adapters read them, the simulator enforces them
like the venue, and the gate's order controls stop or fit orders before they leave.

Through the gate with the VALR adapter: a refused order is an ``order_audit`` REFUSED row with
its code and ``GET /_sim/orders`` shows nothing; an order off the quantity step reaches the
simulator rounded down.
"""

from __future__ import annotations

import hashlib
import hmac
from decimal import Decimal

import httpx
import pytest

from tests.unit.execution.factories import signal, wire
from tradeguard.audit.records import AuditTable
from tradeguard.codes import ErrorCode
from tradeguard.errors import ExchangeRejectedError
from tradeguard.exchange.simulator.rules import SIMULATED_RULES
from tradeguard.execution import OrderLimits, SignalOutcome
from tradeguard.policy import Side
from tradeguard.ports import OrderRequest, OrderType, SymbolRules

D = Decimal


@pytest.fixture(params=["valr", "binance"])
def exchange(request):
    return request.getfixturevalue(request.param)


def test_both_adapters_read_the_simulated_venue_rules(exchange):
    assert exchange.symbol_rules("BTCUSDT") == SIMULATED_RULES["BTCUSDT"]
    assert exchange.symbol_rules("ETHZAR") == SIMULATED_RULES["ETHZAR"]


def test_an_unlisted_symbol_has_no_rules(valr):
    with pytest.raises(ExchangeRejectedError):
        valr.symbol_rules("DOGEUSDT")


@pytest.mark.parametrize(
    ("quantity", "order_type", "price"),
    [
        ("0.000001", OrderType.MARKET, None),  # below the minimum quantity
        ("0.0001", OrderType.LIMIT, "5000"),  # below the minimum notional (0.5 < 1)
        ("0.01", OrderType.LIMIT, "50000.005"),  # off the tick
    ],
)
def test_the_valr_simulator_refuses_what_the_venue_refuses(
    valr, simulator, quantity, order_type, price
):
    request = OrderRequest(
        "tg-rule",
        "BTCUSDT",
        Side.BUY,
        D(quantity),
        order_type=order_type,
        price=None if price is None else D(price),
    )
    with pytest.raises(ExchangeRejectedError):
        valr.place_order(request)
    assert simulator.accepted_orders() == []


@pytest.mark.parametrize(
    ("params", "failed_filter"),
    [
        ("type=MARKET&quantity=0.0100000001", "LOT_SIZE"),
        ("type=MARKET&quantity=0.000001", "LOT_SIZE"),
        ("type=LIMIT&quantity=0.01&price=50000.005&timeInForce=GTC", "PRICE_FILTER"),
        ("type=LIMIT&quantity=0.0001&price=5000&timeInForce=GTC", "NOTIONAL"),
    ],
)
def test_binance_refuses_a_filter_failure_as_the_venue_does(simulator, params, failed_filter):
    # Raw HTTP: ccxt would truncate the amount and the price to the market's precision first.
    body = f"symbol=BTCUSDT&side=BUY&{params}&timestamp=1"
    signature = hmac.new(simulator.api_secret.encode(), body.encode(), hashlib.sha256).hexdigest()
    answer = httpx.post(
        f"{simulator.base_url}/api/v3/order",
        content=f"{body}&signature={signature}",
        headers={"X-MBX-APIKEY": simulator.api_key},
    )
    assert answer.status_code == 400
    assert answer.json() == {"code": -1013, "msg": f"Filter failure: {failed_filter}"}
    assert simulator.accepted_orders() == []


def test_ccxt_sends_below_the_minimum_and_the_simulator_refuses_it(binance, simulator):
    with pytest.raises(ExchangeRejectedError):
        binance.place_order(OrderRequest("tg-min", "BTCUSDT", Side.BUY, D("0.000001")))
    assert simulator.accepted_orders() == []


def test_valr_truncates_a_quantity_to_its_decimal_places_as_the_venue_does(valr, simulator):
    valr.place_order(OrderRequest("tg-trunc", "BTCUSDT", Side.BUY, D("0.0100000009")))
    [accepted] = simulator.accepted_orders()
    assert accepted.quantity == D("0.01")


# --- through the gate ------------------------------------------------------------------------


def _gate(valr, **limits):
    return wire(
        exchange=valr,
        prices=lambda symbol: valr.ticker(symbol).price,
        symbol_rules=True,
        order_limits=OrderLimits(**limits) if limits else None,
    )


def _sim_orders(simulator) -> list[dict]:
    with httpx.Client(base_url=simulator.base_url) as client:
        return client.get("/_sim/orders").json()


@pytest.mark.parametrize(
    ("body", "code", "limits"),
    [
        ({"quantity": "0.000009"}, ErrorCode.ORDER_BELOW_MINIMUM, {}),
        (
            {"quantity": "0.01", "order_type": "LIMIT", "price": "60000"},
            ErrorCode.RISK_PRICE_COLLAR,
            {"price_collar_pct": D(5)},
        ),
        ({"quantity": "1"}, ErrorCode.RISK_ORDER_NOTIONAL, {"max_order_notional": D(10000)}),
    ],
    ids=["below-minimum", "collar", "notional"],
)
def test_a_refused_order_is_a_refused_row_and_never_reaches_the_simulator(
    valr, simulator, body, code, limits
):
    w = _gate(valr, **limits)
    result = w.gate.submit(signal(**body))
    assert result.outcome is SignalOutcome.REFUSED and result.refusal_code == code.value
    rows = w.rows(AuditTable.ORDER, result.correlation_id)
    assert [(r["event"], r["code"]) for r in rows] == [("REFUSED", code.value)]
    assert _sim_orders(simulator) == []


def test_duplicates_and_bursts_are_refused_before_the_simulator_sees_them(valr, simulator):
    w = _gate(valr, duplicate_window_seconds=60, max_orders_per_symbol=2, rate_window_seconds=60)
    first = w.gate.submit(signal(quantity="0.01"))
    duplicate = w.gate.submit(signal(quantity="0.01"))
    second = w.gate.submit(signal(quantity="0.02"))
    throttled = w.gate.submit(signal(quantity="0.03"))
    exit_ = w.gate.submit(signal(intent="CLOSE", side="SELL", quantity="0.01"))
    assert first.executed and second.executed and exit_.executed
    assert duplicate.refusal_code == ErrorCode.RISK_DUPLICATE_ORDER.value
    assert throttled.refusal_code == ErrorCode.RISK_ORDER_RATE.value
    arrived = [(o["side"], o["quantity"]) for o in _sim_orders(simulator)]
    assert arrived == [("BUY", "0.01"), ("BUY", "0.02"), ("SELL", "0.01")]


def test_an_order_off_the_step_reaches_the_simulator_rounded_down(valr, simulator):
    w = _gate(valr)
    result = w.gate.submit(signal(quantity="0.0123456789"))
    assert result.executed
    [arrived] = _sim_orders(simulator)
    assert D(arrived["quantity"]) == D("0.01234567")
    submitted = [
        r for r in w.rows(AuditTable.ORDER, result.correlation_id) if r["event"] == "SUBMITTED"
    ]
    assert [D(r["requested_quantity"]) for r in submitted] == [D("0.01234567")]
    assert w.positions.position("BTCUSDT") == D("0.01234567")


def test_a_limit_price_off_the_tick_reaches_the_simulator_on_the_tick(valr, simulator):
    w = _gate(valr)
    result = w.gate.submit(signal(quantity="0.01", order_type="LIMIT", price="1000.019"))
    assert result.outcome is SignalOutcome.RESTING
    [arrived] = _sim_orders(simulator)
    assert D(arrived["price"]) == D("1000.01")  # a BUY moves down to the tick


def test_unreadable_rules_refuse_new_risk(valr, simulator):
    class NoRules:
        def __getattr__(self, name):
            return getattr(valr, name)

        def symbol_rules(self, symbol: str) -> SymbolRules:
            raise ExchangeRejectedError("EXCHANGE_ORDER_REJECTED", "pair list unreadable")

    w = wire(exchange=NoRules(), prices=lambda s: valr.ticker(s).price, symbol_rules=True)
    result = w.gate.submit(signal(quantity="0.01"))
    assert result.refusal_code == ErrorCode.SYMBOL_RULES_UNAVAILABLE.value
    assert _sim_orders(simulator) == []
