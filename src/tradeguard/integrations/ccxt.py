"""A guarded ccxt exchange: every order-placing call asks tradeguard first.

One line turns a ccxt script into a guarded one::

    exchange = guard(ccxt.binance({...}), url="http://127.0.0.1:8080", secret=SECRET)

The returned object is an instance of a subclass of the exchange's own class that shares the
exchange's state (markets, options, session, credentials), so it behaves like the exchange,
passes ``isinstance`` checks, and works for ``ccxt`` and ``ccxt.async_support`` alike. The
object you passed in stays unguarded: keep using the one ``guard`` returns.

What changes:

- ``create_order`` (and so every ``create_*_order`` helper that places through it) and
  ``edit_order`` first send the intent to the gate: through the decide API over HTTP (``url``
  and ``secret`` or ``passphrase``) or in process (``container`` or ``decider``). Only a
  permitted intent reaches the real method; the resulting order is then reported back so the
  caps stay exact (a resting order is reported again when ``fetch_order``,
  ``fetch_open_orders``, ``fetch_closed_orders``, ``fetch_orders`` or ``cancel_order`` shows
  it changed).
- A refusal raises :class:`TradeGuardRefused` (a ``ccxt.InvalidOrder``) carrying the code
  and the decision. No answer in time, or any error asking, is a refusal too (fail closed).
- ``create_orders`` and ``edit_orders`` decide every order first and place none unless all
  are permitted. Websocket order calls (``*_order_ws``) are refused: they are not guarded.
- ``cancel_order`` (and every other call) passes straight through.

The intent defaults to OPEN; ``params={"reduceOnly": True}`` makes it REDUCE, and
``params={"tradeguard_intent": "CLOSE"}`` names it (OPEN, INCREASE, REDUCE, CLOSE,
STOP_UPDATE). ``params={"tradeguard_signal_id": ...}`` sets the idempotency key (a fresh one
by default). Both are removed before ccxt sees ``params``. Orders sized in quote currency
(``cost``, ``quoteOrderQty``, ``create_market_buy_order_with_cost``) are refused: the gate
needs the base quantity.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Mapping
from typing import Any, Final

try:
    import ccxt
except ImportError as exc:  # the optional extra is missing: say which
    raise ImportError(
        "tradeguard.integrations.ccxt needs ccxt: pip install 'tradeguard[ccxt]'"
    ) from exc

from ..codes import ErrorCode
from ..logging import get_logger
from .ccxt_orders import Decider, GuardCore, SignalFields, TradeGuardRefused, signal_fields
from .client import DEFAULT_TIMEOUT_SECONDS, DecideAnswer, DecideClient

_log = get_logger("tradeguard.integrations.ccxt")

_GUARDED_ONCE: Final = contextvars.ContextVar("tradeguard_guarded", default=False)
"""True inside a guarded call: a nested ``create_order`` (e.g. from ``edit_order``) passes."""
_CLASSES: Final[dict[type[Any], type[Any]]] = {}
"""The guarded subclass of each exchange class (built once)."""
_OBSERVED: Final = (
    "fetch_order",
    "fetch_orders",
    "fetch_open_orders",
    "fetch_closed_orders",
    "cancel_order",
)


def _refuse_unguarded(name: str) -> Any:
    def refused(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise TradeGuardRefused(
            f"{name} is not guarded by tradeguard; use create_order",
            code=ErrorCode.INTENT_NOT_PERMITTED.value,
        )

    return refused


class _SyncGuard:
    # Mixed in before the exchange's class; ``_tradeguard`` lives in the shared state.
    _tradeguard: GuardCore

    def create_order(
        self, symbol: str, type: str, side: str, amount: Any, price: Any = None, params: Any = None
    ) -> Any:
        place = super().create_order  # type: ignore[misc]
        if _GUARDED_ONCE.get():
            return place(symbol, type, side, amount, price, params or {})
        fields, rest = self._tradeguard_fields(symbol, type, side, amount, price, params)
        answer = self._tradeguard.decide(fields)
        return self._tradeguard_place(
            answer, lambda: place(symbol, type, side, amount, price, rest)
        )

    def edit_order(
        self,
        id: str,
        symbol: str,
        type: str,
        side: str,
        amount: Any = None,
        price: Any = None,
        params: Any = None,
    ) -> Any:
        edit = super().edit_order  # type: ignore[misc]
        fields, rest = self._tradeguard_fields(symbol, type, side, amount, price, params)
        answer = self._tradeguard.decide(fields)
        order = self._tradeguard_place(
            answer, lambda: edit(id, symbol, type, side, amount, price, rest)
        )
        self._tradeguard.replaced(str(id))
        return order

    def create_orders(self, orders: list[dict[str, Any]], params: Any = None) -> Any:
        return _place_all(self, super().create_orders, orders, params)  # type: ignore[misc]

    def close(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().close(*args, **kwargs)  # type: ignore[misc]
        finally:
            self._tradeguard.close()

    def _tradeguard_fields(
        self, symbol: str, type: str, side: str, amount: Any, price: Any, params: Any
    ) -> tuple[SignalFields, dict[str, Any]]:
        self.load_markets()  # type: ignore[attr-defined]
        return signal_fields(self, symbol, type, side, amount, price, params)

    def _tradeguard_place(self, answer: DecideAnswer, call: Any) -> Any:
        permit_id = str(answer.permit_id)
        token = _GUARDED_ONCE.set(True)
        try:
            order = call()
        except ccxt.NetworkError:  # unknown whether it was placed: the permit expires
            raise
        except ccxt.BaseError:
            self._tradeguard.rejected(permit_id)
            raise
        finally:
            _GUARDED_ONCE.reset(token)
        self._tradeguard.report(permit_id, order)
        return order


class _AsyncGuard:
    _tradeguard: GuardCore

    async def create_order(
        self, symbol: str, type: str, side: str, amount: Any, price: Any = None, params: Any = None
    ) -> Any:
        place = super().create_order  # type: ignore[misc]
        if _GUARDED_ONCE.get():
            return await place(symbol, type, side, amount, price, params or {})
        fields, rest = await self._tradeguard_fields(symbol, type, side, amount, price, params)
        answer = await asyncio.to_thread(self._tradeguard.decide, fields)
        return await self._tradeguard_place(
            answer, lambda: place(symbol, type, side, amount, price, rest)
        )

    async def edit_order(
        self,
        id: str,
        symbol: str,
        type: str,
        side: str,
        amount: Any = None,
        price: Any = None,
        params: Any = None,
    ) -> Any:
        edit = super().edit_order  # type: ignore[misc]
        fields, rest = await self._tradeguard_fields(symbol, type, side, amount, price, params)
        answer = await asyncio.to_thread(self._tradeguard.decide, fields)
        order = await self._tradeguard_place(
            answer, lambda: edit(id, symbol, type, side, amount, price, rest)
        )
        await asyncio.to_thread(self._tradeguard.replaced, str(id))
        return order

    async def create_orders(self, orders: list[dict[str, Any]], params: Any = None) -> Any:
        return await _aplace_all(self, super().create_orders, orders, params)  # type: ignore[misc]

    async def close(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().close(*args, **kwargs)  # type: ignore[misc]
        finally:
            self._tradeguard.close()

    async def _tradeguard_fields(
        self, symbol: str, type: str, side: str, amount: Any, price: Any, params: Any
    ) -> tuple[SignalFields, dict[str, Any]]:
        await self.load_markets()  # type: ignore[attr-defined]
        return signal_fields(self, symbol, type, side, amount, price, params)

    async def _tradeguard_place(self, answer: DecideAnswer, call: Any) -> Any:
        permit_id = str(answer.permit_id)
        token = _GUARDED_ONCE.set(True)
        try:
            order = await call()
        except ccxt.NetworkError:
            raise
        except ccxt.BaseError:
            await asyncio.to_thread(self._tradeguard.rejected, permit_id)
            raise
        finally:
            _GUARDED_ONCE.reset(token)
        await asyncio.to_thread(self._tradeguard.report, permit_id, order)
        return order


def _place_all(guarded: Any, place: Any, orders: list[dict[str, Any]], params: Any) -> Any:
    prepared = [guarded._tradeguard_fields(*_order_args(order)) for order in orders]
    answers = guarded._tradeguard.decide_all([fields for fields, _ in prepared])
    cleaned = [{**order, "params": rest} for order, (_, rest) in zip(orders, prepared, strict=True)]
    results = _place_batch(guarded, answers, lambda: place(cleaned, params or {}))
    for answer, order in zip(answers, results, strict=False):
        guarded._tradeguard.report(str(answer.permit_id), order)
    return results


async def _aplace_all(guarded: Any, place: Any, orders: list[dict[str, Any]], params: Any) -> Any:
    prepared = [await guarded._tradeguard_fields(*_order_args(order)) for order in orders]
    all_fields = [fields for fields, _ in prepared]
    answers = await asyncio.to_thread(guarded._tradeguard.decide_all, all_fields)
    cleaned = [{**order, "params": rest} for order, (_, rest) in zip(orders, prepared, strict=True)]
    token = _GUARDED_ONCE.set(True)
    try:
        results = await place(cleaned, params or {})
    finally:
        _GUARDED_ONCE.reset(token)
    for answer, order in zip(answers, results, strict=False):
        await asyncio.to_thread(guarded._tradeguard.report, str(answer.permit_id), order)
    return results


def _place_batch(guarded: Any, answers: list[DecideAnswer], call: Any) -> Any:
    token = _GUARDED_ONCE.set(True)
    try:
        return call()
    except ccxt.BaseError as exc:
        if not isinstance(exc, ccxt.NetworkError):
            for answer in answers:
                guarded._tradeguard.rejected(str(answer.permit_id))
        raise
    finally:
        _GUARDED_ONCE.reset(token)


def _order_args(order: Mapping[str, Any]) -> tuple[Any, ...]:
    return (
        order.get("symbol"),
        order.get("type"),
        order.get("side"),
        order.get("amount"),
        order.get("price"),
        order.get("params"),
    )


def _observing(name: str, is_async: bool) -> Any:
    def observe(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = getattr(super(type(self), self), name)(*args, **kwargs)
        self._tradeguard.observe(result)
        return result

    async def aobserve(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = await getattr(super(type(self), self), name)(*args, **kwargs)
        await asyncio.to_thread(self._tradeguard.observe, result)
        return result

    return aobserve if is_async else observe


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.capitalize() for part in rest)


def _guarded_class(base: type[Any]) -> type[Any]:
    known = _CLASSES.get(base)
    if known is not None:
        return known
    is_async = asyncio.iscoroutinefunction(base.create_order)
    mixin = _AsyncGuard if is_async else _SyncGuard
    namespace: dict[str, Any] = {}
    for name in dir(base):
        if name.endswith(("_order_ws", "_orders_ws")) and name.startswith(("create_", "edit_")):
            namespace[name] = _refuse_unguarded(name)
    for name in _OBSERVED:
        if hasattr(base, name):
            namespace[name] = _observing(name, is_async)
    guarded = type(f"Guarded{base.__name__}", (mixin, base), namespace)
    # ccxt copies every method to a camelCase alias on the class; point them at the guard.
    for name in ("create_order", "edit_order", "create_orders", *namespace):
        setattr(guarded, _camel(name), getattr(guarded, name))
    return _CLASSES.setdefault(base, guarded)


def guard(
    exchange: Any,
    *,
    url: str | None = None,
    secret: str | None = None,
    passphrase: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    container: Any = None,
    decider: Decider | None = None,
    strategy: str | None = None,
) -> Any:
    """Return ``exchange`` guarded by tradeguard (see the module docstring).

    Args:
        exchange: A ccxt exchange instance (sync or ``ccxt.async_support``).
        url: The tradeguard service's base URL, for the decide API over HTTP.
        secret: The webhook secret the bodies are signed with.
        passphrase: Instead of ``secret``, for a service configured with a passphrase only.
        timeout: Seconds to wait for a decision before refusing.
        container: A tradeguard ``Container`` to decide in process.
        decider: Anything with ``decide`` and ``report`` (instead of ``url`` or ``container``).
        strategy: Recorded with every decision.
    """
    given = [choice for choice in (url, container, decider) if choice is not None]
    if len(given) != 1:
        raise ValueError("give exactly one of url=, container= or decider=")
    if not isinstance(exchange, ccxt.Exchange) and not _is_async_exchange(exchange):
        raise TypeError(f"not a ccxt exchange: {type(exchange).__name__}")
    owned = None
    if url is not None:
        decider = owned = DecideClient(url, secret=secret, passphrase=passphrase, timeout=timeout)
    elif container is not None:
        decider = container.decider
    guarded = object.__new__(_guarded_class(type(exchange)))
    guarded.__dict__ = exchange.__dict__  # the same state: markets, options, session
    source = f"ccxt:{exchange.id}"
    guarded._tradeguard = GuardCore(decider, strategy, source, owned=owned)  # type: ignore[arg-type]
    return guarded


def _is_async_exchange(exchange: Any) -> bool:
    import ccxt.async_support

    return isinstance(exchange, ccxt.async_support.Exchange)


__all__ = ["Decider", "TradeGuardRefused", "guard"]
