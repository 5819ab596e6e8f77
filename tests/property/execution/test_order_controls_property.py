"""For any quantity, price and burst, no order leaves that breaks an order control, and no
exit that reduces risk is refused by the collar, the size limit, the rate or the duplicate rule.

Orders go through a real ``PositionBook`` with ``OrderControls`` (the gate's atomic step) on a
fake clock; every admitted order fills at once at the last price, so positions move and exits
become possible. Each test switches on one control (the last, all of them) and checks the
orders that were admitted against that control's rule, computed here independently.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tradeguard.clock import FakeClock
from tradeguard.codes import ErrorCode, PolicyReasonCode
from tradeguard.execution import PositionBook
from tradeguard.execution.order_controls import OrderControls, OrderLimits
from tradeguard.policy import Decision, OrderIntent, PolicyDecision, Side, check_intent
from tradeguard.ports import OrderType, SymbolRules

D = Decimal
ALLOW = PolicyDecision(Decision.ALLOW, PolicyReasonCode.ALLOW_ALL_GATES_PASSED, None, None)
RULES = SymbolRules("BTCUSDT", D("0.001"), D("0.003"), D("20"), D("0.5"))
SYMBOLS = ("BTCUSDT", "ETHUSDT")
EXIT_CODES = {
    ErrorCode.RISK_PRICE_COLLAR,
    ErrorCode.RISK_ORDER_RATE,
    ErrorCode.RISK_DUPLICATE_ORDER,
    ErrorCode.RISK_ORDER_NOTIONAL,
    ErrorCode.SYMBOL_RULES_UNAVAILABLE,
}
COLLAR = D(5)
MAX_NOTIONAL = D(40000)
PER_SYMBOL, PER_ACCOUNT, WINDOW, DUPLICATE_WINDOW = 3, 5, 1.0, 0.8

quantities = st.one_of(
    st.sampled_from([D("0.01"), D("0.02"), D("0.5"), D("0.9"), D("1.5")]),  # repeats
    st.decimals(min_value=D(0), max_value=D(2), places=6),
)
steps = st.lists(
    st.fixed_dictionaries(
        {
            "advance": st.sampled_from([0.0, 0.0, 0.05, 0.2, 0.45, 1.1]),  # bursts and gaps
            "symbol": st.sampled_from(SYMBOLS),
            "intent": st.sampled_from(["OPEN", "OPEN", "INCREASE", "REDUCE", "CLOSE"]),
            "side": st.sampled_from([Side.BUY, Side.SELL]),
            "quantity": quantities,
            "limit": st.booleans(),
            "offset_pct": st.decimals(min_value=D(-12), max_value=D(12), places=3),
            "move_pct": st.decimals(min_value=D(-3), max_value=D(3), places=2),
            "priced": st.sampled_from([True, True, True, False]),
            "signal": st.integers(0, 3),  # the same sender sometimes
            # Exits mostly aimed against the position, sized at a portion of it.
            "against": st.sampled_from([True, True, True, False]),
            "portion": st.sampled_from([D("0.5"), D(1), D(1), D("0.3333")]),
        }
    ),
    min_size=1,
    max_size=40,
)


@dataclass
class Event:
    at: float
    symbol: str
    side: Side
    intent: OrderIntent
    requested: Decimal
    requested_price: Decimal | None
    order_type: OrderType
    last: Decimal | None
    position: Decimal
    signal_id: str
    quantity: Decimal | None = None  # as reserved (None: refused)
    price: Decimal | None = None
    code: Any = None

    @property
    def admitted(self) -> bool:
        return self.quantity is not None

    @property
    def reduces(self) -> bool:
        # A REDUCE/CLOSE that really reduces (as asked) the position it met.
        against = (self.position > 0 and self.side is Side.SELL) or (
            self.position < 0 and self.side is Side.BUY
        )
        return (
            self.intent in (OrderIntent.REDUCE, OrderIntent.CLOSE)
            and against
            and D(0) < self.requested <= abs(self.position)
        )

    def adds_risk(self) -> bool:
        signed = self.quantity if self.side is Side.BUY else -self.quantity
        return abs(self.position + signed) > abs(self.position)


def run(plan: list[dict[str, Any]], limits: OrderLimits) -> list[Event]:
    clock = FakeClock()
    last = {"BTCUSDT": D(50000), "ETHUSDT": D(3000)}
    priced = {"now": True}

    def lookup(symbol: str) -> Decimal:
        if not priced["now"]:
            raise LookupError(f"no price for {symbol}")
        return last[symbol]

    rules = {
        "BTCUSDT": RULES,
        "ETHUSDT": SymbolRules("ETHUSDT", D("0.01"), D("0.01"), D(5), D("0.01")),
    }
    book = PositionBook(clock, price_lookup=lookup, controls=OrderControls(rules.get, limits))
    events: list[Event] = []
    for index, step in enumerate(plan):
        clock.advance(step["advance"])
        symbol, side = step["symbol"], step["side"]
        last[symbol] = (last[symbol] * (1 + step["move_pct"] / 100)).quantize(D("0.01"))
        priced["now"] = step["priced"]
        order_type = OrderType.LIMIT if step["limit"] else OrderType.MARKET
        price = (
            (last[symbol] * (1 + step["offset_pct"] / 100)).quantize(D("0.0001"))
            if step["limit"]
            else None
        )
        intent = OrderIntent(step["intent"])
        quantity = step["quantity"]
        held = book.position(symbol)
        if intent in (OrderIntent.REDUCE, OrderIntent.CLOSE) and step["against"] and held:
            side = Side.SELL if held > 0 else Side.BUY
            quantity = (abs(held) * step["portion"]).quantize(D("0.000001"), rounding="ROUND_DOWN")
        event = Event(
            clock.monotonic(),
            symbol,
            side,
            intent,
            quantity,
            price,
            order_type,
            last[symbol] if step["priced"] else None,
            book.position(symbol),
            f"s{index}-{step['signal']}",
        )

        def check(
            position: Decimal, intent: OrderIntent = intent, s: Side = side, q: Decimal = quantity
        ) -> Any:
            return check_intent(ALLOW, intent, s, q, position)

        if quantity <= 0:
            event.code = "not a signal"  # a signal must have a positive quantity
            events.append(event)
            continue
        result, reservation = book.check_and_reserve(
            symbol,
            side,
            quantity,
            check,
            order_type=order_type,
            price=price,
            signal_id=event.signal_id,
        )
        if reservation is None:
            event.code = result.code
        else:
            event.quantity, event.price = reservation.quantity, reservation.price
            book.apply_fill(
                symbol, side, reservation.quantity, last[symbol], reservation=reservation
            )
            book.release(reservation)
        events.append(event)
    return events


def _rules_of(event: Event) -> SymbolRules:
    return (
        RULES
        if event.symbol == "BTCUSDT"
        else SymbolRules("ETHUSDT", D("0.01"), D("0.01"), D(5), D("0.01"))
    )


def assert_exits_never_refused_by_the_risk_controls(events: list[Event]) -> None:
    for event in events:
        if event.reduces and not event.admitted and event.code != "not a signal":
            assert event.code not in EXIT_CODES, event


EXAMPLES = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@EXAMPLES
@given(plan=steps)
def test_no_order_leaves_off_the_step_under_the_minimums_or_off_the_tick(plan):
    events = run(plan, OrderLimits())
    for event in filter(lambda e: e.admitted, events):
        rules = _rules_of(event)
        assert event.quantity % rules.quantity_step == 0 and event.quantity >= rules.min_quantity
        assert event.quantity > 0 and D(0) <= event.requested - event.quantity < rules.quantity_step
        valued_at = event.price if event.order_type is OrderType.LIMIT else event.last
        if event.order_type is OrderType.LIMIT:
            assert event.price % rules.price_tick == 0 and event.price > 0
            worse = event.price - event.requested_price
            assert worse <= 0 if event.side is Side.BUY else worse >= 0  # never worse
            assert abs(worse) < rules.price_tick
        if valued_at is not None:
            assert event.quantity * valued_at >= rules.min_notional
        else:
            assert not event.adds_risk()  # an order that cannot be valued adds no risk
    for event in events:
        if event.code is ErrorCode.ORDER_BELOW_MINIMUM and event.last is not None:
            rules = _rules_of(event)
            rounded = event.requested - event.requested % rules.quantity_step
            value = event.requested_price if event.order_type is OrderType.LIMIT else event.last
            assert (
                rounded < rules.min_quantity
                or rounded * value < rules.min_notional + rules.price_tick * rounded
            )
    assert_exits_never_refused_by_the_risk_controls(events)


@EXAMPLES
@given(plan=steps)
def test_no_limit_order_that_adds_risk_leaves_outside_the_price_collar(plan):
    events = run(plan, OrderLimits(price_collar_pct=COLLAR))
    for event in filter(lambda e: e.admitted and e.adds_risk(), events):
        if event.order_type is OrderType.LIMIT:
            assert event.last is not None  # no price known: refused (fail closed)
            assert abs(event.price - event.last) * 100 <= COLLAR * event.last
    assert_exits_never_refused_by_the_risk_controls(events)


@EXAMPLES
@given(plan=steps)
def test_no_order_that_adds_risk_leaves_above_the_maximum_notional(plan):
    events = run(plan, OrderLimits(max_order_notional=MAX_NOTIONAL))
    for event in filter(lambda e: e.admitted and e.adds_risk(), events):
        prices = [p for p in (event.price, event.last) if p is not None]
        assert prices, event  # cannot be valued: refused
        assert event.quantity * max(prices) <= MAX_NOTIONAL
    assert_exits_never_refused_by_the_risk_controls(events)


def _within(events: list[Event], event: Event, window: float) -> list[Event]:
    # Orders admitted before ``event`` and less than ``window`` seconds before it.
    earlier = events[: events.index(event)]
    return [e for e in earlier if e.admitted and event.at - e.at < window]


@EXAMPLES
@given(plan=steps)
def test_no_burst_lets_more_orders_that_add_risk_through_than_the_rate_limits(plan):
    limits = OrderLimits(
        max_orders_per_symbol=PER_SYMBOL,
        max_orders_per_account=PER_ACCOUNT,
        rate_window_seconds=WINDOW,
    )
    events = run(plan, limits)
    for event in filter(lambda e: e.admitted and e.adds_risk(), events):
        before = _within(events, event, WINDOW)
        assert len(before) < PER_ACCOUNT
        assert len([e for e in before if e.symbol == event.symbol]) < PER_SYMBOL
    assert_exits_never_refused_by_the_risk_controls(events)


@EXAMPLES
@given(plan=steps)
def test_no_duplicate_order_of_another_signal_that_adds_risk_leaves_within_the_window(plan):
    events = run(plan, OrderLimits(duplicate_window_seconds=DUPLICATE_WINDOW))
    for event in filter(lambda e: e.admitted and e.adds_risk(), events):
        for other in _within(events, event, DUPLICATE_WINDOW):
            same = (other.symbol, other.side, other.quantity) == (
                event.symbol,
                event.side,
                event.quantity,
            )
            assert not same or other.signal_id == event.signal_id
    assert_exits_never_refused_by_the_risk_controls(events)


@EXAMPLES
@given(plan=steps)
def test_with_every_control_on_exits_that_reduce_risk_are_never_refused_by_them(plan):
    limits = OrderLimits(
        price_collar_pct=COLLAR,
        max_order_notional=MAX_NOTIONAL,
        max_orders_per_symbol=PER_SYMBOL,
        max_orders_per_account=PER_ACCOUNT,
        rate_window_seconds=WINDOW,
        duplicate_window_seconds=DUPLICATE_WINDOW,
    )
    events = run(plan, limits)
    assert_exits_never_refused_by_the_risk_controls(events)
    for event in events:
        if event.reduces and not event.admitted and event.code != "not a signal":
            # Only the venue's minimum (or the intent check) may stop a reducing exit.
            assert event.code in (
                ErrorCode.ORDER_BELOW_MINIMUM,
                ErrorCode.ORDER_WOULD_INCREASE_RISK,
            )
