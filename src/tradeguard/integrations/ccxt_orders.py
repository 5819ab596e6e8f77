"""The ccxt guard's core: ccxt order arguments to a signal, ccxt orders to reports.

Helpers of :mod:`tradeguard.integrations.ccxt`. The signal's symbol is the market's
exchange id (``BTC/USDT`` on Binance is ``BTCUSDT``, the symbol tradeguard trades), its
quantity and price are what ccxt will send (``amount_to_precision``/``price_to_precision``),
so a reported fill can never exceed the permit.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Protocol

import ccxt

from ..codes import ErrorCode
from ..errors import TradeGuardError
from ..execution.decisions import NOT_PLACED, DecideAnswer, OrderReport
from ..logging import get_logger
from ..ports import OrderStatus

_log = get_logger("tradeguard.integrations.ccxt")

INTENT_PARAM: Final = "tradeguard_intent"
SIGNAL_ID_PARAM: Final = "tradeguard_signal_id"
GUARDED_INTENTS: Final = frozenset({"OPEN", "INCREASE", "REDUCE", "CLOSE", "STOP_UPDATE"})
_QUOTE_SIZED: Final = ("cost", "quoteOrderQty")
_STATUS: Final = {
    "open": OrderStatus.NEW,
    "closed": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELLED,
    "cancelled": OrderStatus.CANCELLED,
    "expired": OrderStatus.CANCELLED,
    "rejected": OrderStatus.REJECTED,
}


class TradeGuardRefused(ccxt.InvalidOrder):  # type: ignore[misc]  # ccxt is untyped
    """tradeguard did not permit the order; nothing was sent.

    Attributes:
        code: Why (e.g. HALT_KILL_SWITCH, RISK_EXPOSURE, SERVICE_UNREACHABLE).
        decision: ALLOW, NEUTRAL or HALT, or None when no decision was had.
        answer: The decide answer, when there was one.
    """

    def __init__(
        self, message: str, *, code: str, decision: str | None = None, answer: Any = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.decision = decision
        self.answer = answer


@dataclass(frozen=True, slots=True)
class SignalFields:
    """One ccxt order as the signal the gate decides."""

    signal_id: str
    symbol: str
    side: str
    intent: str
    quantity: str
    order_type: str
    price: str | None

    def body(self, *, strategy: str | None, source: str) -> dict[str, Any]:
        """Return the signal body."""
        body: dict[str, Any] = {
            "signal_id": self.signal_id,
            "symbol": self.symbol,
            "side": self.side,
            "intent": self.intent,
            "quantity": self.quantity,
            "order_type": self.order_type,
            "source": source,
        }
        if self.price is not None:
            body["price"] = self.price
        if strategy:
            body["strategy"] = strategy
        return body

    def describe(self) -> str:
        """Return ``BUY OPEN 0.01 BTCUSDT`` (for messages)."""
        return f"{self.side} {self.intent} {self.quantity} {self.symbol}"


def _refuse(message: str) -> TradeGuardRefused:
    return TradeGuardRefused(message, code=ErrorCode.INPUT_INVALID_VALUE.value)


def _intent(params: dict[str, Any]) -> str:
    named = params.pop(INTENT_PARAM, None)
    if named is None:
        reduce_only = params.get("reduceOnly") or params.get("reduce_only")
        return "REDUCE" if reduce_only else "OPEN"
    intent = str(named).upper()
    if intent not in GUARDED_INTENTS:
        raise _refuse(f"{INTENT_PARAM} must be one of {sorted(GUARDED_INTENTS)}, got {named!r}")
    return intent


def signal_fields(
    exchange: Any, symbol: str, type: str, side: str, amount: Any, price: Any, params: Any
) -> tuple[SignalFields, dict[str, Any]]:
    """Return the signal of one order and the ``params`` left for ccxt (markets loaded).

    Raises:
        TradeGuardRefused: the order cannot be described to the gate (nothing is sent).
    """
    rest = dict(params or {})
    intent = _intent(rest)
    signal_id = str(rest.pop(SIGNAL_ID_PARAM, None) or f"ccxt-{uuid.uuid4().hex}")
    quoted = [key for key in _QUOTE_SIZED if key in rest]
    if quoted:
        raise _refuse(f"orders sized in quote currency ({quoted[0]}) are not guarded; give amount")
    if amount is None:
        raise _refuse("the order needs an amount for the gate to decide it")
    if str(side).lower() not in ("buy", "sell"):
        raise _refuse(f"side must be buy or sell, got {side!r}")
    market = exchange.market(symbol)
    limit = str(type).lower() != "market" and price is not None
    fields = SignalFields(
        signal_id=signal_id,
        symbol=str(market["id"]),
        side=str(side).upper(),
        intent=intent,
        quantity=str(exchange.amount_to_precision(symbol, amount)),
        order_type="LIMIT" if limit else "MARKET",
        price=str(exchange.price_to_precision(symbol, price)) if limit else None,
    )
    return fields, rest


class Decider(Protocol):
    """What the guard asks: the decide API client, or the service in process."""

    def decide(self, signal: Mapping[str, Any]) -> DecideAnswer:
        """Decide one intent."""
        ...

    def report(self, permit_id: str, report: OrderReport) -> Any:
        """Report the order a permit covered."""
        ...


class GuardCore:
    """The guard's state and its blocking steps (the async guard runs them on a thread)."""

    def __init__(
        self, decider: Decider, strategy: str | None, source: str, *, owned: Any = None
    ) -> None:
        self.decider = decider
        self.strategy = strategy
        self.source = source
        self.owned = owned  # a client the guard made itself, closed with the exchange
        # exchange order id -> (permit_id, filled so far) of the orders reported open
        self.open_orders: dict[str, tuple[str, Decimal]] = {}

    def decide(self, fields: SignalFields) -> DecideAnswer:
        body = fields.body(strategy=self.strategy, source=self.source)
        try:
            answer = self.decider.decide(body)
        except Exception as exc:  # no answer is a refusal: fail closed
            code = exc.code if isinstance(exc, TradeGuardError) else ErrorCode.SERVICE_UNREACHABLE
            raise TradeGuardRefused(
                f"tradeguard could not decide {fields.describe()}: {exc}", code=str(code)
            ) from exc
        if not answer.permitted or answer.permit_id is None:
            code = answer.refusal_code or answer.reason_code
            raise TradeGuardRefused(
                f"tradeguard refused {fields.describe()}: {code} (decision {answer.decision})",
                code=code,
                decision=answer.decision,
                answer=answer,
            )
        return answer

    def decide_all(self, all_fields: list[SignalFields]) -> list[DecideAnswer]:
        # Every order of a batch, or none: a refusal frees the permits already had.
        answers: list[DecideAnswer] = []
        try:
            for fields in all_fields:
                answers.append(self.decide(fields))
        except TradeGuardRefused:
            for answer in answers:
                self.rejected(str(answer.permit_id))
            raise
        return answers

    def report(self, permit_id: str, order: Any, last_filled: Decimal | None = None) -> None:
        report = order_report(order, last_filled=last_filled)
        if report is None:
            _log.warning("guard_report_skipped", correlation_id=permit_id, reason="no order id")
            return
        try:
            answer = self.decider.report(permit_id, report)
        except Exception as exc:  # the order already left: logged, the permit expires
            _log.warning(
                "guard_report_failed",
                code=getattr(exc, "code", ErrorCode.SERVICE_UNREACHABLE.value),
                correlation_id=permit_id,
                error=str(exc),
            )
            return
        if getattr(answer, "open", False):
            self.open_orders[report.exchange_order_id] = (permit_id, report.filled_quantity)
        else:
            self.open_orders.pop(report.exchange_order_id, None)

    def close(self) -> None:
        if self.owned is not None:
            self.owned.close()

    def rejected(self, permit_id: str) -> None:
        self.report(permit_id, {"id": None, "status": "rejected", "filled": 0})

    def replaced(self, order_id: str) -> None:
        # An edited order was replaced by a new one: its permit's order is cancelled.
        known = self.open_orders.get(order_id)
        if known is not None:
            cancelled = {"id": order_id, "status": "canceled", "filled": None}
            self.report(known[0], cancelled, last_filled=known[1])

    def observe(self, result: Any) -> None:
        orders = result if isinstance(result, list) else [result]
        for order in orders:
            order_id = str(order.get("id")) if isinstance(order, dict) else ""
            known = self.open_orders.get(order_id)
            if known is not None:
                self.report(known[0], order, last_filled=known[1])


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() and number >= 0 else None


def order_report(order: Any, *, last_filled: Decimal | None = None) -> OrderReport | None:
    """Return the report of a ccxt order structure, or None when it names no order.

    ``last_filled`` stands in for a fill the structure does not give.
    """
    if not isinstance(order, Mapping):
        return None
    status = _STATUS.get(str(order.get("status")).lower(), OrderStatus.NEW)
    filled = _decimal(order.get("filled"))
    if filled is None:
        filled = last_filled or Decimal(0)
    if status is OrderStatus.NEW and filled > 0:
        status = OrderStatus.PARTIALLY_FILLED
    order_id = order.get("id")
    if order_id is None or str(order_id) == "":
        if status is not OrderStatus.REJECTED:
            return None
        order_id = NOT_PLACED
    average = _decimal(order.get("average")) if filled > 0 else None
    if filled > 0 and not average:
        average = _decimal(order.get("price")) or None
    return OrderReport(str(order_id), status, filled, average or None)


__all__ = [
    "GUARDED_INTENTS",
    "INTENT_PARAM",
    "SIGNAL_ID_PARAM",
    "Decider",
    "GuardCore",
    "SignalFields",
    "TradeGuardRefused",
    "order_report",
    "signal_fields",
]
