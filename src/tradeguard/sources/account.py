"""Account health at run time: can the service still read its exchange account?

Two different failures, two different answers:

- **Credentials rejected** (keys revoked or rotated: VALR 401/403, Binance -2015/-2014,
  ccxt ``AuthenticationError``; the adapters raise ``ExchangeAuthError``) at any time, by the
  periodic account read or by any other exchange call. The service cannot trade that account
  again until an operator fixes the keys, so this is a HALT that must not clear by itself.
  :class:`AuthFailureLatch` engages the kill switch with actor ``system:exchange-account`` and
  code ``EXCHANGE_AUTH_FAILED``, the way the L6 lockdown engages it for the event feed.

  Why the kill switch: the policy core stays a pure function of its context and SPEC's gate
  table stays as it is (rank 1, KILL_SWITCH, ``HALT_KILL_SWITCH``). The state is durable, shared
  by every instance on the same database (they share the keys too), survives a restart, never
  clears by itself (the re-validation window cannot end it, since the gate keeps failing while
  the switch is engaged), cancels resting orders where it still can, and an operator ends it as
  any kill switch: ``tradeguard kill off`` then ``tradeguard latch reset``. The stored code and
  actor say why (``status`` shows them under ``kill_switch``), and the ``exchange_account``
  health check shows ``EXCHANGE_AUTH_FAILED``.
- **Account unreadable** (timeout, 5xx, garbage): :class:`ExchangeAccountCheck` is RED with
  ``EXCHANGE_ACCOUNT_UNREADABLE``, so the decision is NEUTRAL (exits still pass) until a read
  succeeds again. It is also RED before the first read and when the last successful read is
  older than ``max_age_s``: an account nobody has read lately is not known to be readable.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final, Protocol

from ..codes import ErrorCode
from ..errors import ExchangeAuthError, TradeGuardError
from ..ids import new_correlation_id
from ..logging import get_logger
from ..policy import Clock, OperatorActionRecord
from ..ports import Balance, ExchangeClient, KillSwitchState, OrderState
from .health import CheckResult, CheckStatus

_log = get_logger("tradeguard.sources.account")

ACCOUNT_ACTOR: Final = "system:exchange-account"
"""The actor that engages the kill switch when the exchange rejects the credentials."""


class AccountState(StrEnum):
    """What the last account read found."""

    OK = "OK"
    UNREADABLE = "UNREADABLE"
    AUTH_FAILED = "AUTH_FAILED"


@dataclass(frozen=True, slots=True)
class AccountReading:
    """One read of the account: its state, code, detail and when (monotonic seconds)."""

    state: AccountState
    code: str
    at_monotonic: float
    detail: str = ""
    balances: tuple[Balance, ...] = ()
    open_orders: tuple[OrderState, ...] = field(default_factory=tuple)


class ExchangeAccountMonitor:
    """Read balances and open orders; remember the outcome for the health check.

    Args:
        exchange: The (monitored) exchange.
        clock: Monotonic readings.
        on_auth_failure: Called with the error whenever the credentials are rejected.
        configured: False when there is no account to read (DRY_RUN on a real adapter
            without keys): the check then shows ``NOT_CONFIGURED``.
    """

    def __init__(
        self,
        exchange: ExchangeClient,
        clock: Clock,
        *,
        on_auth_failure: Callable[[ExchangeAuthError], object] | None = None,
        configured: bool = True,
    ) -> None:
        self._exchange = exchange
        self._clock = clock
        self.on_auth_failure = on_auth_failure
        self.configured = configured
        self._listeners: list[Callable[[], object]] = []
        self._lock = threading.Lock()
        self._last: AccountReading | None = None
        self._last_ok_monotonic: float | None = None
        self.adopted = False
        """True once this process adopted the account's resting orders (once per process)."""
        self.watched = False
        """True once a periodic task of this process reads the account."""

    @property
    def last(self) -> AccountReading | None:
        """The most recent reading, or None before the first."""
        with self._lock:
            return self._last

    @property
    def last_ok_monotonic(self) -> float | None:
        """Monotonic time of the last successful read, or None."""
        with self._lock:
            return self._last_ok_monotonic

    def on_change(self, listener: Callable[[], object]) -> None:
        """Call ``listener`` whenever the reading's state changes (drops cached health)."""
        self._listeners.append(listener)

    def read(self) -> AccountReading:
        """Read balances and open orders now; never raises."""
        try:
            balances = tuple(self._exchange.balances())
            orders = tuple(self._exchange.open_orders())
        except ExchangeAuthError as exc:
            return self.note_auth_failure(exc)
        except TradeGuardError as exc:
            detail = f"{exc.code}: {exc.message}"
            return self._store(
                AccountReading(
                    AccountState.UNREADABLE,
                    ErrorCode.EXCHANGE_ACCOUNT_UNREADABLE.value,
                    self._clock.monotonic(),
                    detail,
                )
            )
        except Exception as exc:  # anything else from an adapter: unreadable, fail closed
            return self._store(
                AccountReading(
                    AccountState.UNREADABLE,
                    ErrorCode.EXCHANGE_ACCOUNT_UNREADABLE.value,
                    self._clock.monotonic(),
                    repr(exc)[:300],
                )
            )
        reading = AccountReading(
            AccountState.OK,
            ErrorCode.CHECK_OK.value,
            self._clock.monotonic(),
            f"{len(balances)} balances, {len(orders)} open orders",
            balances,
            orders,
        )
        return self._store(reading)

    def note_auth_failure(self, error: ExchangeAuthError) -> AccountReading:
        """Record that the exchange rejected the credentials (from any call) and report it."""
        reading = self._store(
            AccountReading(
                AccountState.AUTH_FAILED,
                ErrorCode.EXCHANGE_AUTH_FAILED.value,
                self._clock.monotonic(),
                error.message[:300],
            )
        )
        callback = self.on_auth_failure
        # Without an account (DRY_RUN without keys) a refused signed call is expected.
        if callback is not None and self.configured:
            try:
                callback(error)
            except Exception as exc:  # the kill switch source fails closed on its own
                _log.error(
                    "auth_failure_handler_failed",
                    code=ErrorCode.EXCHANGE_AUTH_FAILED,
                    error=repr(exc),
                )
        return reading

    def _store(self, reading: AccountReading) -> AccountReading:
        with self._lock:
            previous = self._last
            self._last = reading
            if reading.state is AccountState.OK:
                self._last_ok_monotonic = reading.at_monotonic
        if previous is None or previous.state is not reading.state:
            log = _log.info if reading.state is AccountState.OK else _log.warning
            log("exchange_account_state", code=reading.code, state=reading.state.value)
            for listener in list(self._listeners):
                try:
                    listener()
                except Exception as exc:  # a listener never stops the monitor
                    _log.error("account_listener_failed", error=repr(exc))
        return reading


class ExchangeAccountCheck:
    """Health check ``exchange_account``: GREEN only after a recent successful account read.

    Args:
        monitor: Holds the last reading.
        clock: Monotonic readings for the age of the last successful read.
        max_age_s: A successful read older than this no longer counts (RED).
    """

    name = "exchange_account"

    def __init__(self, monitor: ExchangeAccountMonitor, clock: Clock, max_age_s: float) -> None:
        self._monitor = monitor
        self._clock = clock
        self._max_age_s = max_age_s

    def check(self) -> CheckResult:
        """Return the account's state as a check result."""
        monitor = self._monitor
        if not monitor.configured:
            return CheckResult(
                self.name,
                CheckStatus.NOT_CONFIGURED,
                ErrorCode.NOT_CONFIGURED.value,
                "no exchange credentials (DRY_RUN)",
            )
        last = monitor.last
        if last is None:
            return self._red(ErrorCode.EXCHANGE_ACCOUNT_UNREADABLE, "account not read yet")
        if last.state is not AccountState.OK:
            return self._red(last.code, last.detail)
        age = self._clock.monotonic() - last.at_monotonic
        if age > self._max_age_s:
            return self._red(
                ErrorCode.EXCHANGE_ACCOUNT_UNREADABLE,
                f"last successful read {age:.1f} s ago > {self._max_age_s} s",
            )
        return CheckResult(self.name, CheckStatus.GREEN, ErrorCode.CHECK_OK.value, last.detail)

    def _red(self, code: str, detail: str) -> CheckResult:
        return CheckResult(self.name, CheckStatus.RED, str(code), detail)


class KillSwitchEngager(Protocol):
    """The part of the circuit breaker the auth latch needs."""

    def engage(
        self, operator_id: str, reason: str, correlation_id: str, code: str = ...
    ) -> OperatorActionRecord:
        """Engage the kill switch (state and operator_audit row atomically)."""
        ...

    def state(self) -> KillSwitchState:
        """Return the stored state (raises when unreadable)."""
        ...


def is_auth_lock(state: KillSwitchState) -> bool:
    """Return True when ``state`` is the kill switch engaged for rejected credentials."""
    return (
        state.active
        and state.actor == ACCOUNT_ACTOR
        and state.code == ErrorCode.EXCHANGE_AUTH_FAILED
    )


class AuthFailureLatch:
    """Engage the kill switch once when the exchange rejects the credentials.

    Args:
        circuit_breaker: Engages the kill switch durably.
        on_engaged: Called with the correlation id once engaged (the composition root runs a
            heartbeat evaluation at once, so the HALT latches without waiting for the next).
    """

    def __init__(
        self,
        circuit_breaker: KillSwitchEngager,
        on_engaged: Callable[[str], object] | None = None,
    ) -> None:
        self._breaker = circuit_breaker
        self.on_engaged = on_engaged
        # Re-entrant: engaging cancels resting orders, whose failing call reports the same
        # rejection again from this thread.
        self._lock = threading.RLock()
        self.pending: str | None = None
        self.engaged_count = 0
        self.armed = False
        """Only a running service latches (``start_background`` arms it): ``status``,
        ``preflight`` and other read-only commands report a refusal and never engage."""

    def engage(self, error: ExchangeAuthError) -> bool:
        """Engage the kill switch for ``error``; True when this call engaged it."""
        if not self.armed:
            _log.warning("exchange_auth_failed", code=ErrorCode.EXCHANGE_AUTH_FAILED)
            return False
        correlation_id = new_correlation_id()
        reason = f"the exchange rejected the API credentials: {error.message}"[:500]
        with self._lock:
            try:
                if is_auth_lock(self._breaker.state()):
                    self.pending = None
                    return False
                self._breaker.engage(
                    ACCOUNT_ACTOR, reason, correlation_id, code=ErrorCode.EXCHANGE_AUTH_FAILED
                )
            except TradeGuardError as exc:
                # Not recorded: the kill switch then reads as unreadable (engaged); retried.
                self.pending = reason
                _log.critical("auth_latch_engage_failed", code=exc.code, error=exc.message)
                return False
            self.pending = None
            self.engaged_count += 1
        _log.critical(
            "exchange_auth_failed_halt",
            code=ErrorCode.EXCHANGE_AUTH_FAILED,
            correlation_id=correlation_id,
            detail=error.message,
        )
        if self.on_engaged is not None:
            self.on_engaged(correlation_id)
        return True

    def retry_pending(self) -> None:
        """Retry an engagement the store could not record."""
        reason = self.pending
        if reason is not None:
            self.engage(ExchangeAuthError(ErrorCode.EXCHANGE_AUTH_FAILED, reason))


__all__ = [
    "ACCOUNT_ACTOR",
    "AccountReading",
    "AccountState",
    "AuthFailureLatch",
    "ExchangeAccountCheck",
    "ExchangeAccountMonitor",
    "is_auth_lock",
]
