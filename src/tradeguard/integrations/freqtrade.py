"""A freqtrade strategy mixin that asks tradeguard before every entry and exit.

Put it first in the bases of a freqtrade ``IStrategy`` (freqtrade itself is not imported here;
install it with the ``freqtrade`` extra)::

    class MyStrategy(TradeGuardMixin, IStrategy):
        ...

and give the bot a ``tradeguard`` section in its config (or the environment variables)::

    "tradeguard": {"url": "http://127.0.0.1:8080", "secret": "<TRADEGUARD_WEBHOOK_SECRET>",
                   "timeout": 2.0}

What it answers freqtrade:

- ``confirm_trade_entry`` sends an OPEN to ``POST /v1/decide``; the entry goes ahead only when
  the answer is ALLOW with a permit. NEUTRAL, HALT, a refused request, no answer within the
  timeout, an answer it cannot read, a missing configuration or any error of its own: no entry.
- ``confirm_trade_exit`` sends a CLOSE; it goes ahead when the answer carries a permit and the
  decision lets a CLOSE through (ALLOW or NEUTRAL; a HALT lets only a CANCEL through, SPEC §2).
  When tradeguard cannot be asked, the exit waits too: an order that leaves without an audited
  decision is exactly what tradeguard exists to prevent, and a HALT may be in force that the
  bot cannot see. freqtrade asks again on its next loop, so the exit goes out as soon as the
  service answers; a stop-loss placed on the exchange keeps protecting the position meanwhile.
- ``adjust_trade_position``, when the strategy defines it, is asked as an INCREASE or a REDUCE
  (freqtrade places position adjustments without the confirmation hooks); refused, no
  adjustment.
- ``order_filled`` reports the filled order to ``POST /v1/decide/{permit_id}/report`` and never
  raises into freqtrade.

freqtrade calls these hooks with a default of True when they raise, so every error is caught
here and answered as a refusal. A strategy that defines one of these hooks itself keeps the
guard: its own method is wrapped so that tradeguard is asked after it agrees (an entry hook that
raises counts as a refusal). Backtesting and hyperopt are not sent to the service unless
``tradeguard_guard_backtesting`` is True.
"""

from __future__ import annotations

import os
import threading
import uuid
from typing import Any, Final

from ..codes import ErrorCode
from ..logging import get_logger
from ..policy import OrderIntent
from .freqtrade_config import (
    CONFIG_SECTION,
    PASSPHRASE_ENV,
    SECRET_ENV,
    TIMEOUT_ENV,
    URL_ENV,
    FreqtradeGuardConfig,
    answer_permits,
    decimal_text,
    pair_symbol,
)
from .freqtrade_hooks import GUARDED, WRAPPERS, wrap_adjust

SOURCE: Final = "freqtrade"
_BACKTEST_MODES: Final = frozenset({"backtest", "hyperopt"})
_REPORT_STATUS: Final[dict[str, str]] = {
    "closed": "FILLED",
    "canceled": "CANCELLED",
    "cancelled": "CANCELLED",
    "expired": "CANCELLED",
    "rejected": "REJECTED",
}
_log = get_logger(__name__)


class _GuardState:
    """Per-strategy-instance state: the client, the permits awaiting a fill, the hook depth."""

    def __init__(self) -> None:
        self.client: Any = None
        self.pending: dict[tuple[str, str], str] = {}
        self.lock = threading.Lock()
        self.local = threading.local()

    @property
    def depth(self) -> int:
        return int(getattr(self.local, "depth", 0))

    @depth.setter
    def depth(self, value: int) -> None:
        self.local.depth = value


class TradeGuardMixin:
    """Answer freqtrade's entry and exit confirmations from tradeguard's decide API.

    Class attributes a strategy may override:

    - ``tradeguard_timeout_seconds``: seconds to wait for a decision (config ``timeout`` and
      ``TRADEGUARD_DECIDE_TIMEOUT_SECONDS`` take precedence).
    - ``tradeguard_guard_backtesting``: ask the service in backtesting and hyperopt too.
    """

    tradeguard_timeout_seconds: float = 2.0
    tradeguard_guard_backtesting: bool = False
    config: Any
    dp: Any

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Wrap a subclass's own hooks so that defining one never bypasses the guard."""
        super().__init_subclass__(**kwargs)
        own_adjust = cls.__dict__.get("adjust_trade_position")
        if own_adjust is not None and not getattr(own_adjust, GUARDED, False):
            cls.adjust_trade_position = wrap_adjust(own_adjust)  # type: ignore[attr-defined]
        for name, wrap in WRAPPERS.items():
            own = cls.__dict__.get(name)
            if own is not None and not getattr(own, GUARDED, False):
                setattr(cls, name, wrap(own, getattr(TradeGuardMixin, name)))
            if not getattr(getattr(cls, name, None), GUARDED, False):
                raise TypeError(
                    f"{cls.__name__}.{name} bypasses tradeguard: put TradeGuardMixin before "
                    "IStrategy in the class bases"
                )

    # --- freqtrade hooks --------------------------------------------------------------------

    def confirm_trade_entry(
        self,
        pair: str,
        order_type: str,
        amount: float,
        rate: float,
        time_in_force: str,
        current_time: Any,
        entry_tag: str | None,
        side: str,
        **kwargs: Any,
    ) -> bool:
        """Confirm an entry only on ALLOW with a permit; anything else refuses (fail closed)."""
        if self._tradeguard_state().depth:
            return True  # called via super() from a wrapped hook: the guard answers after it
        order_side = "SELL" if side == "short" else "BUY"
        return self._tradeguard_ask(pair, OrderIntent.OPEN, order_side, order_type, amount, rate)

    def confirm_trade_exit(
        self,
        pair: str,
        trade: Any,
        order_type: str,
        amount: float,
        rate: float,
        time_in_force: str,
        exit_reason: str,
        current_time: Any,
        **kwargs: Any,
    ) -> bool:
        """Confirm an exit when tradeguard permits a CLOSE (ALLOW or NEUTRAL, never HALT)."""
        if self._tradeguard_state().depth:
            return True
        order_side = "BUY" if getattr(trade, "is_short", False) is True else "SELL"
        return self._tradeguard_ask(pair, OrderIntent.CLOSE, order_side, order_type, amount, rate)

    def order_filled(
        self, pair: str, trade: Any, order: Any, current_time: Any, **kwargs: Any
    ) -> None:
        """Report a filled entry or exit to the permit it used; never raises."""
        state = self._tradeguard_state()
        if state.depth:
            return
        try:
            self._tradeguard_report(state, pair, order)
        except Exception as exc:  # never into freqtrade: the permit expires on its own
            _log.warning("freqtrade_report_failed", pair=pair, error=type(exc).__name__)

    def ft_bot_cleanup(self) -> None:
        """Close the connection to tradeguard when freqtrade shuts the bot down."""
        self.tradeguard_close()
        cleanup = getattr(super(), "ft_bot_cleanup", None)
        if cleanup is not None:
            cleanup()

    def tradeguard_close(self) -> None:
        """Close the HTTP client (a later hook opens a new one)."""
        state = self._tradeguard_state()
        with state.lock:
            client, state.client = state.client, None
        if client is not None:
            client.close()

    # --- overridable ------------------------------------------------------------------------

    def tradeguard_symbol(self, pair: str) -> str:
        """Return the tradeguard symbol of a freqtrade pair (``BTC/USDT`` → ``BTCUSDT``)."""
        return pair_symbol(pair)

    # --- internals --------------------------------------------------------------------------

    def _tradeguard_state(self) -> _GuardState:
        state = self.__dict__.get("_tradeguard_guard_state")
        if state is None:
            state = self.__dict__.setdefault("_tradeguard_guard_state", _GuardState())
        return state  # type: ignore[no-any-return]

    def _tradeguard_skipped(self) -> bool:
        if self.tradeguard_guard_backtesting:
            return False
        try:
            mode = str(self.dp.runmode.value)
        except Exception:  # no data provider yet: guard (fail closed)
            return False
        return mode in _BACKTEST_MODES

    def _tradeguard_client(self) -> Any:
        state = self._tradeguard_state()
        with state.lock:
            if state.client is None:
                from .client import DecideClient

                settings = FreqtradeGuardConfig.resolve(
                    getattr(self, "config", None), os.environ, self.tradeguard_timeout_seconds
                )
                state.client = DecideClient(
                    settings.url,
                    secret=settings.secret,
                    passphrase=settings.passphrase,
                    timeout=settings.timeout_seconds,
                )
            return state.client

    def _tradeguard_ask(
        self,
        pair: str,
        intent: OrderIntent,
        side: str,
        order_type: str,
        amount: float,
        rate: float,
    ) -> bool:
        try:
            if self._tradeguard_skipped():
                return True
            body = self._tradeguard_body(pair, intent, side, order_type, amount, rate)
            if body is None:
                _log.warning("freqtrade_order_unreadable", pair=pair, intent=str(intent))
                return False
            answer = self._tradeguard_client().decide(body)
        except Exception as exc:  # unreachable, slow, refused, garbage, misconfigured
            _log.warning(
                "freqtrade_decide_failed",
                pair=pair,
                intent=str(intent),
                error=type(exc).__name__,
                code=str(getattr(exc, "code", ErrorCode.SERVICE_UNREACHABLE)),
            )
            return False
        permitted = answer_permits(intent, answer)
        if permitted:
            state = self._tradeguard_state()
            with state.lock:
                state.pending[(pair, side)] = str(answer.permit_id)
        _log.info(
            "freqtrade_decided",
            pair=pair,
            intent=str(intent),
            decision=str(getattr(answer, "decision", "")),
            code=str(getattr(answer, "reason_code", "")),
            permitted=permitted,
        )
        return permitted

    def _tradeguard_adjust_permitted(self, trade: Any, stake: float, rates: dict[str, Any]) -> bool:
        try:
            short = getattr(trade, "is_short", False) is True
            order_types = getattr(self, "order_types", None) or {}
            if stake > 0:  # freqtrade buys stake / rate (times leverage) more
                rate = float(rates.get("current_entry_rate") or rates["current_rate"])
                amount = stake / rate * float(getattr(trade, "leverage", 1) or 1)
                intent, side, kind = OrderIntent.INCREASE, "SELL" if short else "BUY", "entry"
            else:  # freqtrade sells the same share of the position as of the stake
                rate = float(rates.get("current_exit_rate") or rates["current_rate"])
                amount = -stake * float(trade.amount) / float(trade.stake_amount)
                intent, side, kind = OrderIntent.REDUCE, "BUY" if short else "SELL", "exit"
            order_type = str(order_types.get(kind, "market"))
        except Exception as exc:  # an adjustment we cannot describe is not sent
            _log.warning("freqtrade_adjustment_unreadable", error=type(exc).__name__)
            return False
        return self._tradeguard_ask(str(trade.pair), intent, side, order_type, amount, rate)

    def _tradeguard_body(
        self,
        pair: str,
        intent: OrderIntent,
        side: str,
        order_type: str,
        amount: float,
        rate: float,
    ) -> dict[str, Any] | None:
        quantity = decimal_text(amount)
        if quantity is None:
            return None
        body: dict[str, Any] = {
            "signal_id": f"ft-{uuid.uuid4().hex}",
            "symbol": self.tradeguard_symbol(pair),
            "side": side,
            "intent": str(intent),
            "quantity": quantity,
            "order_type": "MARKET",
            "strategy": type(self).__name__[:128],
            "source": SOURCE,
        }
        if str(order_type).lower() != "market":
            price = decimal_text(rate)
            if price is None:
                return None
            body.update(order_type="LIMIT", price=price)
        return body

    def _tradeguard_report(self, state: _GuardState, pair: str, order: Any) -> None:
        side = str(getattr(order, "ft_order_side", "")).upper()
        with state.lock:
            permit_id = state.pending.pop((pair, side), None)
        if permit_id is None:
            return  # a stop-loss or an order placed without a permit of ours
        status = _REPORT_STATUS.get(str(getattr(order, "status", "")).lower(), "PARTIALLY_FILLED")
        fields: dict[str, Any] = {
            "exchange_order_id": str(getattr(order, "order_id", "") or ""),
            "status": status,
            "filled_quantity": decimal_text(getattr(order, "filled", None)) or "0",
        }
        average = decimal_text(getattr(order, "safe_price", None))
        if average is not None:
            fields["average_price"] = average
        self._tradeguard_client().report(permit_id, **fields)
        _log.info("freqtrade_fill_reported", pair=pair, status=status)


for _name in WRAPPERS:
    setattr(getattr(TradeGuardMixin, _name), GUARDED, True)

__all__ = [
    "CONFIG_SECTION",
    "PASSPHRASE_ENV",
    "SECRET_ENV",
    "TIMEOUT_ENV",
    "URL_ENV",
    "FreqtradeGuardConfig",
    "TradeGuardMixin",
    "answer_permits",
    "decimal_text",
    "pair_symbol",
]
