"""Pre-trade order controls: the symbol's rules, a price collar, size, rate and duplicates.

Pure values and functions; :meth:`PositionBook.check_and_reserve` calls them inside its lock,
in the same atomic step as the exposure and open-orders caps, so another store of that state
(PostgreSQL for several instances) can call the very same rules. Nothing here reads a clock,
an exchange or a lock: the book hands in the rules, the last price, the orders admitted
recently and the time. The orders admitted are part of the book's state
(:class:`~.positions.BookState`): the in-memory book keeps them in the process on the
monotonic clock; the book shared on PostgreSQL keeps them in the database on the wall clock
(UTC), so every process on one database counts the orders of all of them.

Two steps:

1. :func:`shape_order` fits an order to the venue's rules (:class:`~tradeguard.ports.SymbolRules`).
   The quantity is rounded **down** to the quantity step (never more than was asked). A LIMIT
   price off the tick is rounded to the tick on the side that is never worse for the trader:
   a BUY down, a SELL up (so the order can only trade at the price asked or better; it is
   never refused for the tick alone). What is left below the minimum quantity or the minimum
   notional (quantity x the LIMIT price, or x the last price for a MARKET order) is refused
   with ``ORDER_BELOW_MINIMUM``, a zero quantity or price included.
2. :func:`admit` decides the rest for an order that **adds risk** (it could raise the worst
   position of its symbol): ``SYMBOL_RULES_UNAVAILABLE`` when the rules could not be read,
   ``RISK_ORDER_NOTIONAL`` above the maximum notional per order, ``RISK_PRICE_COLLAR`` for a
   LIMIT price further than the collar from the last trade price, ``RISK_ORDER_RATE`` when the
   orders admitted within the rate window already reach the per-symbol or the per-account
   limit, and ``RISK_DUPLICATE_ORDER`` for the same symbol, side and quantity as an order of
   another ``signal_id`` admitted within the duplicate window. A price that is not known fails
   closed: the control that needs it refuses.

Exits that reduce risk (REDUCE and CLOSE that really reduce, STOP_UPDATE; CANCEL never reaches
the book) are never refused by the collar, the size limit, the rate limit or the duplicate rule,
and an exit whose rules cannot be read is sent as asked, for the venue to judge. The minimum
does apply to exits, because the venue refuses an order below it whatever it is for: such an
exit could not be sent anyway, and refusing it here records why instead of an exchange error.
Dust below the venue's minimum cannot be closed with an order on that venue. Every admitted
order, exits included, counts towards the rate limit, as it does at the venue.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Final

from ..codes import ErrorCode
from ..logging import get_logger
from ..policy import Side
from ..ports import OrderType, SymbolRules
from .recent_orders import AdmittedOrder, RecentOrders

_log = get_logger(__name__)

ZERO: Final = Decimal(0)
HUNDRED: Final = Decimal(100)


@dataclass(frozen=True, slots=True)
class OrderLimits:
    """The limits of the order controls; None (or a window of 0) switches a control off.

    Attributes:
        price_collar_pct: Largest distance of a LIMIT price from the last trade price, in %.
        max_order_notional: Largest notional of one order (quote currency).
        max_orders_per_symbol: Orders admitted per symbol within ``rate_window_seconds``.
        max_orders_per_account: Orders admitted in total within ``rate_window_seconds``.
        rate_window_seconds: The rate limits' window.
        duplicate_window_seconds: How long the same symbol, side and quantity from another
            signal counts as a duplicate.
    """

    price_collar_pct: Decimal | None = None
    max_order_notional: Decimal | None = None
    max_orders_per_symbol: int | None = None
    max_orders_per_account: int | None = None
    rate_window_seconds: float = 1.0
    duplicate_window_seconds: float = 0.0

    @property
    def memory_seconds(self) -> float:
        """How long an admitted order must be remembered (0: nothing to remember)."""
        rate = self.max_orders_per_symbol is not None or self.max_orders_per_account is not None
        return max(self.rate_window_seconds if rate else 0.0, self.duplicate_window_seconds)


@dataclass(frozen=True, slots=True)
class OrderTerms:
    """An order as the signal asks for it."""

    symbol: str
    side: Side
    quantity: Decimal
    order_type: OrderType = OrderType.MARKET
    price: Decimal | None = None
    signal_id: str | None = None


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an order control refused: a code and a detail for the log."""

    code: ErrorCode
    detail: str


@dataclass(frozen=True, slots=True)
class ShapedOrder:
    """An order fitted to the symbol's rules (see :func:`shape_order`).

    Attributes:
        quantity: Rounded down to the quantity step.
        price: A LIMIT price on the tick (None for MARKET).
        refusal: ``ORDER_BELOW_MINIMUM`` when the venue would refuse it, else None.
        rules_missing: The rules could not be read (new risk is refused, exits pass as asked).
        unvalued: The minimum notional could not be checked (no price known).
    """

    quantity: Decimal
    price: Decimal | None
    refusal: Refusal | None = None
    rules_missing: bool = False
    unvalued: bool = False


def round_down(value: Decimal, step: Decimal) -> Decimal:
    """Return the largest whole multiple of ``step`` not above ``value``."""
    return (value / step).to_integral_value(ROUND_FLOOR) * step


def align_price(side: Side, price: Decimal, tick: Decimal) -> Decimal:
    """Return ``price`` on the tick, never worse for the trader (BUY down, SELL up)."""
    rounding = ROUND_FLOOR if side is Side.BUY else ROUND_CEILING
    return (price / tick).to_integral_value(rounding) * tick


def unshaped(order: OrderTerms, *, rules_missing: bool = False) -> ShapedOrder:
    """Return ``order`` as asked (no rules configured, or none readable)."""
    return ShapedOrder(order.quantity, order.price, rules_missing=rules_missing)


def shape_order(
    order: OrderTerms, rules: SymbolRules | None, last_price: Decimal | None
) -> ShapedOrder:
    """Fit ``order`` to ``rules`` (see the module docstring); ``None`` rules: unreadable."""
    if rules is None:
        return unshaped(order, rules_missing=True)
    quantity = round_down(order.quantity, rules.quantity_step)
    price = order.price
    if order.order_type is OrderType.LIMIT and price is not None:
        price = align_price(order.side, price, rules.price_tick)
    valued_at = price if order.order_type is OrderType.LIMIT else last_price
    if quantity <= ZERO or quantity < rules.min_quantity:
        detail = f"quantity {quantity} below the minimum {rules.min_quantity}"
        return ShapedOrder(quantity, price, Refusal(ErrorCode.ORDER_BELOW_MINIMUM, detail))
    if price is not None and price <= ZERO:
        detail = f"price {order.price} is below one tick ({rules.price_tick})"
        return ShapedOrder(quantity, price, Refusal(ErrorCode.ORDER_BELOW_MINIMUM, detail))
    if valued_at is None:
        return ShapedOrder(quantity, price, unvalued=True)
    if quantity * valued_at < rules.min_notional:
        detail = f"notional {quantity * valued_at} below the minimum {rules.min_notional}"
        return ShapedOrder(quantity, price, Refusal(ErrorCode.ORDER_BELOW_MINIMUM, detail))
    return ShapedOrder(quantity, price)


def admit(
    order: OrderTerms,
    shaped: ShapedOrder,
    *,
    adds_risk: bool,
    last_price: Decimal | None,
    recent: Iterable[AdmittedOrder],
    now: float,
    limits: OrderLimits,
) -> Refusal | None:
    """Return why ``shaped`` may not leave, or None (see the module docstring).

    ``recent`` are the orders admitted before it (any order; older ones are ignored) and
    ``now`` the time of this decision on the same clock as theirs.
    """
    if shaped.refusal is not None:
        return shaped.refusal
    if not adds_risk:
        return None
    if shaped.rules_missing:
        return Refusal(ErrorCode.SYMBOL_RULES_UNAVAILABLE, f"no rules for {order.symbol}")
    if shaped.unvalued:
        return Refusal(ErrorCode.ORDER_BELOW_MINIMUM, "no price to check the minimum notional")
    return (
        _notional(order, shaped, last_price, limits)
        or _collar(order, shaped, last_price, limits)
        or _pace(order, shaped, recent, now, limits)
    )


def _notional(
    order: OrderTerms, shaped: ShapedOrder, last: Decimal | None, limits: OrderLimits
) -> Refusal | None:
    maximum = limits.max_order_notional
    if maximum is None:
        return None
    # Valued at the higher of the prices known: the limit price and the last trade price.
    prices = [p for p in (shaped.price, last) if p is not None]
    if not prices:
        return Refusal(ErrorCode.RISK_ORDER_NOTIONAL, f"no price to value {order.symbol}")
    notional = shaped.quantity * max(prices)
    if notional > maximum:
        return Refusal(ErrorCode.RISK_ORDER_NOTIONAL, f"notional {notional} above {maximum}")
    return None


def _collar(
    order: OrderTerms, shaped: ShapedOrder, last: Decimal | None, limits: OrderLimits
) -> Refusal | None:
    collar = limits.price_collar_pct
    if collar is None or order.order_type is not OrderType.LIMIT or shaped.price is None:
        return None
    if last is None or last <= ZERO:
        return Refusal(ErrorCode.RISK_PRICE_COLLAR, f"no last trade price of {order.symbol}")
    if abs(shaped.price - last) * HUNDRED > collar * last:
        return Refusal(
            ErrorCode.RISK_PRICE_COLLAR,
            f"price {shaped.price} is more than {collar}% from the last trade {last}",
        )
    return None


def _pace(
    order: OrderTerms,
    shaped: ShapedOrder,
    recent: Iterable[AdmittedOrder],
    now: float,
    limits: OrderLimits,
) -> Refusal | None:
    # The rate limits and the duplicate rule: bisections of the index, or one pass over a
    # plain sequence of the orders remembered (the same answers; a property test checks).
    rate_window = limits.rate_window_seconds
    duplicate_window = limits.duplicate_window_seconds
    if isinstance(recent, RecentOrders):
        per_account = recent.count_within(now, rate_window)
        per_symbol = recent.count_within(now, rate_window, order.symbol)
        duplicate = recent.duplicate_within(
            now, duplicate_window, (order.symbol, order.side, shaped.quantity), order.signal_id
        )
    else:
        per_symbol = per_account = 0
        duplicate = False
        for seen in recent:
            age = now - seen.at
            if age < rate_window:
                per_account += 1
                per_symbol += seen.symbol == order.symbol
            if age < duplicate_window and _same_order(seen, order, shaped.quantity):
                duplicate = True
    symbol_cap, account_cap = limits.max_orders_per_symbol, limits.max_orders_per_account
    if symbol_cap is not None and per_symbol >= symbol_cap:
        return Refusal(
            ErrorCode.RISK_ORDER_RATE,
            f"{per_symbol} orders of {order.symbol} within {rate_window}s (limit {symbol_cap})",
        )
    if account_cap is not None and per_account >= account_cap:
        return Refusal(
            ErrorCode.RISK_ORDER_RATE,
            f"{per_account} orders within {rate_window}s (limit {account_cap})",
        )
    if duplicate:
        return Refusal(
            ErrorCode.RISK_DUPLICATE_ORDER,
            f"same {order.symbol} {order.side} {shaped.quantity} from another signal "
            f"within {duplicate_window}s",
        )
    return None


def _same_order(seen: AdmittedOrder, order: OrderTerms, quantity: Decimal) -> bool:
    return (
        seen.symbol == order.symbol
        and seen.side is order.side
        and seen.quantity == quantity
        and seen.signal_id != order.signal_id
    )


class OrderControls:
    """The order controls of one position book: its rules and its limits.

    ``prepare`` runs before the book's lock (the rules may have to be read from the
    exchange); ``decide`` runs under it, with the book's answer to "does it add risk" and the
    orders admitted recently (the book's state: in the process, or loaded from PostgreSQL in
    the same locked transaction), and remembers there what it admits.

    Args:
        rules: The symbol rules provider (None: no rules are applied); answers None when the
            rules cannot be read.
        limits: The limits (None: only the rules apply).
    """

    def __init__(
        self,
        rules: Callable[[str], SymbolRules | None] | None = None,
        limits: OrderLimits | None = None,
    ) -> None:
        self.rules = rules
        self.limits = limits or OrderLimits()

    def prepare(self, order: OrderTerms, last_price: Decimal | None) -> ShapedOrder:
        """Fit ``order`` to its symbol's rules (unchanged without a rules provider)."""
        if self.rules is None:
            return unshaped(order)
        try:
            rules = self.rules(order.symbol)
        except Exception as exc:  # unreadable: new risk is refused (fail closed)
            _log.warning(
                "symbol_rules_unavailable",
                code=ErrorCode.SYMBOL_RULES_UNAVAILABLE.value,
                symbol=order.symbol,
                error=str(exc),
            )
            rules = None
        return shape_order(order, rules, last_price)

    def decide(
        self,
        order: OrderTerms,
        shaped: ShapedOrder,
        *,
        adds_risk: bool,
        last_price: Decimal | None,
        now: float,
        admitted: RecentOrders | deque[AdmittedOrder],
    ) -> Refusal | None:
        """Return why ``shaped`` may not leave, or None and append it to ``admitted``.

        Call under the book's lock. ``admitted`` holds the orders admitted before, oldest
        first, timed on the clock of ``now``; those older than the memory are dropped.
        """
        memory = self.limits.memory_seconds
        while admitted and now - admitted[0].at >= memory:
            admitted.popleft()
        refusal = admit(
            order,
            shaped,
            adds_risk=adds_risk,
            last_price=last_price,
            recent=admitted,
            now=now,
            limits=self.limits,
        )
        if refusal is None and memory > 0:
            admitted.append(
                AdmittedOrder(now, order.symbol, order.side, shaped.quantity, order.signal_id)
            )
        return refusal


__all__ = [
    "AdmittedOrder",
    "OrderControls",
    "OrderLimits",
    "OrderTerms",
    "RecentOrders",
    "Refusal",
    "ShapedOrder",
    "admit",
    "align_price",
    "round_down",
    "shape_order",
    "unshaped",
]
