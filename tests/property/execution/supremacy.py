"""Property 13 machinery: an instrumented exchange and random runs of the whole pipeline."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from tests.unit.execution.factories import FaultyPaperExchange
from tradeguard.audit.records import AuditTable
from tradeguard.execution.permits import Permit
from tradeguard.policy import OrderIntent, Side
from tradeguard.ports import OrderRequest, OrderState

EXIT_INTENTS = {"REDUCE", "CLOSE", "CANCEL", "STOP_UPDATE"}


class WitnessExchange(FaultyPaperExchange):
    """A paper exchange that, as each order arrives, looks for its durable decision row."""

    audit: Any = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.arrivals: list[dict[str, Any]] = []

    def place_order(self, request: OrderRequest) -> OrderState:
        correlation_id = request.client_order_id.removeprefix("tg-")
        decisions = list(self.audit.rows(AuditTable.POLICY_DECISION, correlation_id=correlation_id))
        state = super().place_order(request)  # raises on an injected fault: not accepted
        self.arrivals.append(
            {
                "correlation_id": correlation_id,
                "intent": request.intent,
                "decisions": decisions,
                "order_id": state.order_id,
            }
        )
        return state


def violations(arrivals: list[dict[str, Any]]) -> list[str]:
    """Every accepted order needs an ALLOW row, or a NEUTRAL row for an exit intent."""
    found = []
    for arrival in arrivals:
        rows = arrival["decisions"]
        if len(rows) != 1:
            found.append(f"{arrival['correlation_id']}: {len(rows)} decision rows at arrival")
            continue
        decision = rows[0]["policy_decision"]
        if decision == "ALLOW" or (decision == "NEUTRAL" and arrival["intent"] in EXIT_INTENTS):
            continue
        found.append(f"{arrival['correlation_id']}: {decision} let {arrival['intent']} through")
    return found


signals = st.fixed_dictionaries(
    {
        "intent": st.sampled_from(
            ["OPEN"] * 3 + ["INCREASE"] * 2 + ["REDUCE", "CLOSE", "CANCEL", "STOP_UPDATE"]
        ),
        "side": st.sampled_from(["BUY", "SELL"]),
        "quantity": st.sampled_from(["0.5", "1", "2", "3"]),
        "ai_confidence": st.sampled_from([None, "10", "80", "99.5", "100"]),
        "symbol": st.sampled_from(["BTCUSDT", "ETHUSDT"]),
        "limit": st.booleans(),
        # Exits mostly aimed against the position, sized at a portion of it.
        "against": st.sampled_from([True, True, True, False]),
        "portion": st.sampled_from(["0.5", "1", "1", "1.5"]),
    }
).map(lambda d: ("signal", d))

_CONTEXT_VALUES = {
    "kill": st.sampled_from([True, False, False]),
    "budget": st.sampled_from(["ALLOW", "ALLOW", "HARD_STOP", "STALE_DATA"]),
    "health": st.sampled_from(["GREEN", "YELLOW", "RED"]),
    "risk": st.sampled_from(["HEALTHY", "HEALTHY", "WARNING", "CRITICAL"]),
    "fail": st.sampled_from([True, False, False]),
}
contexts = (
    st.sampled_from(["kill", "budget", "health", "health", "health", "risk", "fail"])
    .flatmap(lambda name: st.tuples(st.just(name), _CONTEXT_VALUES[name]))
    .map(lambda t: ("context", t))
)

faults = st.sampled_from([None, None, "down", "reject", "foreign"]).map(lambda f: ("fault", f))
partials = st.sampled_from(["1", "1", "0.5"]).map(lambda r: ("partial", r))
replays = st.tuples(st.integers(0, 30), st.booleans()).map(lambda t: ("replay", t))

_KINDS = {
    "signal": signals,
    "context": contexts,
    "fault": faults,
    "partial": partials,
    "replay": replays,
}
# Weighted by kind (one_of would flatten the nested context choices and drown the signals).
step = st.sampled_from(["signal"] * 6 + ["context"] * 3 + ["fault", "partial", "replay"]).flatmap(
    _KINDS.__getitem__
)
steps = st.lists(step, min_size=4, max_size=30)


def forging_handler(executor: Any) -> Any:
    """A misbehaving handler: it tries to place an order with a forged permit."""

    def handler(signal: Any) -> None:
        forged = Permit(
            permit_id="forged",
            correlation_id="forged",
            intent=OrderIntent.OPEN,
            symbol=signal.symbol,
            side=Side.BUY,
            quantity=Decimal(10),
            order_type=signal.order_type,
            price=signal.price,
            decision="ALLOW",
            decision_seq=1,
            expires_at_monotonic=1e18,
        )
        executor.execute(forged)  # raises PermitError; the dispatcher isolates it

    return handler


def raising_handler(signal: Any) -> None:
    raise RuntimeError(f"legacy handler crashed on {signal.signal_id}")


def body_of(step: dict[str, Any], signal_id: str, position: Decimal) -> dict[str, Any]:
    body = {
        k: v for k, v in step.items() if k not in ("limit", "against", "portion") and v is not None
    }
    body["signal_id"] = signal_id
    if step["intent"] in EXIT_INTENTS and step["against"] and position != 0:
        body["side"] = "SELL" if position > 0 else "BUY"
        body["quantity"] = str(abs(position) * Decimal(step["portion"]))
    if step["limit"] and step["intent"] != "CANCEL":
        body["order_type"] = "LIMIT"
        # Marketable or resting, by side: exercises both fills and resting orders.
        body["price"] = "60000" if step["side"] == "BUY" else "70000"
    return body


def replayed(body: dict[str, Any], same: bool) -> dict[str, Any]:
    if same:
        return dict(body)
    return {**body, "quantity": str(Decimal(body["quantity"]) + 1)}


def apply_context(builder: Any, change: tuple[str, Any]) -> None:
    name, value = change
    setattr(builder, name, value)


def exchange_positions(exchange: Any, symbols: list[str]) -> dict[str, Decimal]:
    """Signed filled quantity per symbol over every order the exchange holds."""
    totals = {s: Decimal(0) for s in symbols}
    for order in exchange._engine._orders.values():  # test-only peek at the paper engine
        signed = order.filled if order.side is Side.BUY else -order.filled
        totals[order.symbol] = totals.get(order.symbol, Decimal(0)) + signed
    return totals


def resting_rest(exchange: Any, symbol: str) -> tuple[Decimal, Decimal]:
    """The unfilled (BUY, SELL) quantity of ``symbol``'s orders still open on the exchange."""
    buy = sell = Decimal(0)
    for order in exchange.open_orders(symbol):
        rest = order.requested_quantity - order.filled_quantity
        if order.side is Side.BUY:
            buy += rest
        else:
            sell += rest
    return buy, sell


__all__ = ["dataclasses"]
