"""An ``ExchangeClient`` decorator that records reachability for the health check.

"Exchange reachable" (SPEC §3) means a successful call within ``exchange_timeout``. A call counts
as the exchange *answering* when it returns or when the exchange refuses it
(``ExchangeRejectedError``): both prove the exchange is there. Only
``ExchangeUnavailableError`` (network, timeout, 5xx, garbage, auth) counts as unreachable.

Every call is also reported to an :class:`~.reachability.ExchangeReachability` (when given),
which marks the exchange unreachable at the first failed or overdue call and reachable again
only after a timely liveness :meth:`MonitoredExchange.probe`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from ..codes import ErrorCode
from ..errors import ExchangeAuthError, ExchangeRejectedError, TradeGuardError
from ..ids import new_correlation_id
from ..policy import Clock
from ..ports import (
    Alert,
    AlertSeverity,
    AlertSink,
    Balance,
    ExchangeClient,
    OrderRequest,
    OrderState,
    SymbolRules,
    Ticker,
    publish_alert,
)
from .reachability import ExchangeReachability

T = TypeVar("T")


class MonitoredExchange:
    """Delegates every call to ``inner`` and records when the exchange last answered.

    Args:
        inner: The adapter to wrap.
        clock: Monotonic readings for ``last_success_monotonic`` and call durations.
        on_call: Called after every call with ``(method name, ok, seconds)``; ``ok`` is False
            for any exception, including a rejection.
        on_ticker: Called with every ticker fetched (market data freshness).
        reachability: Told when each call starts and how it ended (None: not tracked).

    ``on_auth_failure`` (set after construction) is called with every ``ExchangeAuthError``
    before it is re-raised: the credentials were rejected, whichever call found out.
    """

    def __init__(
        self,
        inner: ExchangeClient,
        clock: Clock,
        on_call: Callable[[str, bool, float], None] | None = None,
        on_ticker: Callable[[Ticker], None] | None = None,
        reachability: ExchangeReachability | None = None,
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self.in_process: bool = getattr(inner, "in_process", False)
        self._clock = clock
        self._on_call = on_call
        self._on_ticker = on_ticker
        self.on_auth_failure: Callable[[ExchangeAuthError], object] | None = None
        self._lock = threading.Lock()
        self._last_success: float | None = None
        self._last_error: TradeGuardError | None = None
        self._last_error_monotonic: float | None = None
        self.reachability = reachability
        self.alerts: AlertSink | None = None
        """Told when the exchange rejects the credentials (set by the composition root)."""

    # --- what the health check reads -------------------------------------------------------

    @property
    def last_success_monotonic(self) -> float | None:
        """Monotonic time the exchange last answered (a refusal counts), or None."""
        with self._lock:
            return self._last_success

    @property
    def last_error(self) -> TradeGuardError | None:
        """The most recent error, or None."""
        with self._lock:
            return self._last_error

    @property
    def last_error_monotonic(self) -> float | None:
        """Monotonic time of the most recent error, or None."""
        with self._lock:
            return self._last_error_monotonic

    def note_success(self, age_seconds: float) -> None:
        """Record that the exchange answered ``age_seconds`` ago (seen by another worker).

        A worker that does not call the exchange itself learns of its answers from the
        leader; a reading older than one already known is ignored.
        """
        seen = self._clock.monotonic() - max(0.0, age_seconds)
        with self._lock:
            if self._last_success is None or seen > self._last_success:
                self._last_success = seen

    def _run(self, method: str, call: Callable[[], T], *, probe: bool = False) -> T:
        reachability = self.reachability
        token = None if reachability is None else reachability.begin(method, probe=probe)
        try:
            result = self._timed(method, call)
        except ExchangeRejectedError:
            if reachability is not None and token is not None:
                reachability.answered(token)
            raise
        except Exception as exc:  # any failure without an answer: unreachable at once
            if reachability is not None and token is not None:
                reachability.failed(token, exc)
            raise
        if reachability is not None and token is not None:
            reachability.answered(token)
        return result

    def _timed(self, method: str, call: Callable[[], T]) -> T:
        started = self._clock.monotonic()
        try:
            result = call()
        except TradeGuardError as exc:
            now = self._clock.monotonic()
            with self._lock:
                self._last_error = exc
                self._last_error_monotonic = now
                if isinstance(exc, ExchangeRejectedError):
                    self._last_success = now
            self._report(method, False, now - started)
            if exc.code == ErrorCode.EXCHANGE_AUTH_FAILED:
                publish_alert(self.alerts, self._credentials_rejected(method))
            if isinstance(exc, ExchangeAuthError) and self.on_auth_failure is not None:
                self.on_auth_failure(exc)
            raise
        now = self._clock.monotonic()
        with self._lock:
            self._last_success = now
        self._report(method, True, now - started)
        return result

    def _credentials_rejected(self, method: str) -> Alert:
        return Alert(
            event="credentials_rejected",
            code=ErrorCode.EXCHANGE_AUTH_FAILED.value,
            severity=AlertSeverity.CRITICAL,
            summary=f"exchange {self.name} rejected the API credentials ({method})",
            correlation_id=new_correlation_id(),
            details={"exchange": self.name, "method": method},
            condition=f"credentials_rejected:{self.name}",
        )

    def _report(self, method: str, ok: bool, seconds: float) -> None:
        if self._on_call is not None:
            self._on_call(method, ok, seconds)

    def probe(self) -> datetime:
        """Make the cheap liveness probe (the exchange's server time), recorded as a probe."""
        return self._run("probe", self.inner.server_time, probe=True)

    # --- ExchangeClient --------------------------------------------------------------------

    def server_time(self) -> datetime:
        """Delegate ``server_time``."""
        return self._run("server_time", self.inner.server_time)

    def ticker(self, symbol: str) -> Ticker:
        """Delegate ``ticker`` and feed the result to ``on_ticker``."""
        ticker = self._run("ticker", lambda: self.inner.ticker(symbol))
        if self._on_ticker is not None:
            self._on_ticker(ticker)
        return ticker

    def place_order(self, request: OrderRequest) -> OrderState:
        """Delegate ``place_order``."""
        return self._run("place_order", lambda: self.inner.place_order(request))

    def cancel_order(self, symbol: str, order_id: str) -> OrderState:
        """Delegate ``cancel_order``."""
        return self._run("cancel_order", lambda: self.inner.cancel_order(symbol, order_id))

    def order_status(self, symbol: str, order_id: str) -> OrderState:
        """Delegate ``order_status``."""
        return self._run("order_status", lambda: self.inner.order_status(symbol, order_id))

    def open_orders(self, symbol: str | None = None) -> list[OrderState]:
        """Delegate ``open_orders``."""
        return self._run("open_orders", lambda: self.inner.open_orders(symbol))

    def balances(self) -> list[Balance]:
        """Delegate ``balances``."""
        return self._run("balances", self.inner.balances)

    def symbol_rules(self, symbol: str) -> SymbolRules:
        """Delegate ``symbol_rules``."""
        return self._run("symbol_rules", lambda: self.inner.symbol_rules(symbol))

    def close(self) -> None:
        """Close the wrapped adapter."""
        self.inner.close()


__all__ = ["MonitoredExchange"]
