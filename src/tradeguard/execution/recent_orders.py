"""The orders admitted recently, indexed so the rate and duplicate rules cost O(log n).

:func:`~.order_controls.admit` counts the orders admitted within the rate window (all, and of
the order's symbol) and looks for a duplicate within the duplicate window. Over a plain
sequence that is one pass over every order remembered, per check: with high rate limits (a
market maker's hundreds a second) that pass costs more than the rest of the decision.
:class:`RecentOrders` keeps the same orders, oldest first, with sorted indexes of their times:
per account, per symbol, and per (symbol, side, quantity) for the duplicate rule, so a check
bisects instead of scanning.

The answers are exactly those of the pass (a property test compares the two for any orders):
the windows are tested with the same float expression (``now - at < window``), which is
monotonic in ``at``, so a bisection on it finds the same boundary; times need not arrive in
order (the shared book's processes may disagree on the clock), because the indexes are sorted
whatever the order of arrival.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from ..policy import Side


@dataclass(frozen=True, slots=True)
class AdmittedOrder:
    """An order the controls let through, remembered for the rate and duplicate rules.

    Attributes:
        at: When it was admitted, in seconds on the book's clock (monotonic in memory, the
            wall clock's POSIX time in the shared book).
    """

    at: float
    symbol: str
    side: Side
    quantity: Decimal
    signal_id: str | None


_Key = tuple[str, Side, Decimal]


class RecentOrders:
    """The orders admitted recently, oldest first, with indexes of their times.

    The deque-like part (``append``, ``extend``, ``popleft``, ``[0]``, iteration, ``len``) is what
    the book's state and the shared book use; ``count_within`` and ``duplicate_within`` are
    what the order controls ask.
    """

    __slots__ = ("_by_key", "_by_symbol", "_orders", "_times")

    def __init__(self, orders: Iterable[AdmittedOrder] = ()) -> None:
        self._orders: deque[AdmittedOrder] = deque()
        self._times: list[float] = []
        self._by_symbol: dict[str, list[float]] = {}
        self._by_key: dict[_Key, list[tuple[float, int, AdmittedOrder]]] = {}
        self.extend(orders)

    # -- the deque part ---------------------------------------------------------------------

    def append(self, order: AdmittedOrder) -> None:
        """Remember ``order`` (the newest)."""
        self._orders.append(order)
        insort(self._times, order.at)
        insort(self._by_symbol.setdefault(order.symbol, []), order.at)
        # ``id`` breaks ties of equal times so orders never need comparing.
        insort(self._by_key.setdefault(_key(order), []), (order.at, id(order), order))

    def extend(self, orders: Iterable[AdmittedOrder]) -> None:
        """Remember each of ``orders``, in order."""
        for order in orders:
            self.append(order)

    def popleft(self) -> AdmittedOrder:
        """Forget the oldest order and return it."""
        order = self._orders.popleft()
        _remove(self._times, order.at)
        symbol_times = self._by_symbol[order.symbol]
        _remove(symbol_times, order.at)
        if not symbol_times:
            del self._by_symbol[order.symbol]
        key = _key(order)
        same = self._by_key[key]
        del same[bisect_left(same, (order.at, id(order)))]
        if not same:
            del self._by_key[key]
        return order

    def __getitem__(self, index: int) -> AdmittedOrder:
        return self._orders[index]

    def __iter__(self) -> Iterator[AdmittedOrder]:
        return iter(self._orders)

    def __len__(self) -> int:
        return len(self._orders)

    def __bool__(self) -> bool:
        return bool(self._orders)

    # -- the questions of the order controls --------------------------------------------------

    def count_within(self, now: float, window: float, symbol: str | None = None) -> int:
        """Return how many orders (of ``symbol``, or all) have ``now - at < window``."""
        times = self._times if symbol is None else self._by_symbol.get(symbol)
        if not times:
            return 0
        return len(times) - bisect_left(times, True, key=lambda at: now - at < window)

    def duplicate_within(self, now: float, window: float, key: _Key, signal_id: str | None) -> bool:
        """Return True when an order of ``key`` from another signal has ``now - at < window``."""
        same = self._by_key.get(key)
        if not same:
            return False
        start = bisect_left(same, True, key=lambda entry: now - entry[0] < window)
        return any(same[i][2].signal_id != signal_id for i in range(start, len(same)))


def _key(order: AdmittedOrder) -> _Key:
    return (order.symbol, order.side, order.quantity)


def _remove(times: list[float], at: float) -> None:
    del times[bisect_left(times, at)]


__all__ = ["AdmittedOrder", "RecentOrders"]
