"""Wrappers that keep a strategy's own freqtrade hooks behind the tradeguard mixin.

A strategy that defines ``confirm_trade_entry``, ``confirm_trade_exit``, ``order_filled`` or
``adjust_trade_position`` itself would otherwise answer freqtrade without asking tradeguard.
``TradeGuardMixin.__init_subclass__`` wraps each such method: the strategy's own answer comes
first, then the mixin's (``base``). A ``super()`` call from the strategy's method into the mixin
answers yes without asking, so one hook call never asks tradeguard twice.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Final

from ..logging import get_logger

GUARDED: Final = "__tradeguard_guarded__"
"""Marks a hook that asks tradeguard (the mixin's own, or a wrapper)."""
_log = get_logger(__name__)


def _wrap_entry(own: Callable[..., Any], base: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(own)
    def confirm_trade_entry(self: Any, *args: Any, **kwargs: Any) -> bool:
        state = self._tradeguard_state()
        state.depth += 1
        try:
            agreed = bool(own(self, *args, **kwargs))
        except Exception as exc:  # freqtrade would take this as yes; a new position needs a yes
            _log.warning("freqtrade_strategy_hook_failed", hook="entry", error=type(exc).__name__)
            agreed = False
        finally:
            state.depth -= 1
        if not agreed or state.depth:
            return agreed
        return bool(base(self, *args, **kwargs))

    setattr(confirm_trade_entry, GUARDED, True)
    return confirm_trade_entry


def _wrap_exit(own: Callable[..., Any], base: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(own)
    def confirm_trade_exit(self: Any, *args: Any, **kwargs: Any) -> bool:
        state = self._tradeguard_state()
        state.depth += 1
        try:
            agreed = bool(own(self, *args, **kwargs))
        except Exception as exc:  # freqtrade's own default for a failing exit hook is yes
            _log.warning("freqtrade_strategy_hook_failed", hook="exit", error=type(exc).__name__)
            agreed = True
        finally:
            state.depth -= 1
        if not agreed or state.depth:
            return agreed
        return bool(base(self, *args, **kwargs))

    setattr(confirm_trade_exit, GUARDED, True)
    return confirm_trade_exit


def _wrap_filled(own: Callable[..., Any], base: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(own)
    def order_filled(self: Any, *args: Any, **kwargs: Any) -> None:
        state = self._tradeguard_state()
        if not state.depth:
            base(self, *args, **kwargs)
        state.depth += 1
        try:
            own(self, *args, **kwargs)
        finally:
            state.depth -= 1

    setattr(order_filled, GUARDED, True)
    return order_filled


def wrap_adjust(own: Callable[..., Any]) -> Callable[..., Any]:
    """Ask tradeguard before the position adjustment a strategy's own method returns.

    A positive stake is an INCREASE, a negative one a REDUCE; refused, the wrapper answers
    None (no adjustment). freqtrade places adjustments without its confirmation hooks.
    """

    @functools.wraps(own)
    def adjust_trade_position(self: Any, *args: Any, **kwargs: Any) -> Any:
        state = self._tradeguard_state()
        state.depth += 1
        try:  # an exception reaches freqtrade, whose default is no adjustment
            result = own(self, *args, **kwargs)
        finally:
            state.depth -= 1
        if state.depth:
            return result  # a super() call: the outermost wrapper asks
        stake = result[0] if isinstance(result, tuple) and result else result
        if isinstance(stake, bool) or not isinstance(stake, int | float) or not stake:
            return result
        trade = kwargs.get("trade", args[0] if args else None)
        return result if self._tradeguard_adjust_permitted(trade, float(stake), kwargs) else None

    setattr(adjust_trade_position, GUARDED, True)
    return adjust_trade_position


WRAPPERS: Final[
    dict[str, Callable[[Callable[..., Any], Callable[..., Any]], Callable[..., Any]]]
] = {
    "confirm_trade_entry": _wrap_entry,
    "confirm_trade_exit": _wrap_exit,
    "order_filled": _wrap_filled,
}


__all__ = ["GUARDED", "WRAPPERS", "wrap_adjust"]
