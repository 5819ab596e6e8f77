"""LIVE preflight: prove the account before trading (``tradeguard preflight``).

A preflight is a short list of check objects run in order against a :class:`PreflightProbe`
(the exchange adapter, the database ping, the clock sync and the configured symbols). Each
check answers one :class:`PreflightResult` with its own code and what to do. A check that
``requires`` an earlier one is ``SKIPPED`` unless that one passed (no point reading balances
with keys the exchange refused). To add a check (for example "symbol rules loaded"), append an
object with ``name``, ``requires`` and ``run(probe)`` to :func:`default_checks`.

Exit codes: 0 every check passed, 1 a check failed (keys refused, drift, unknown symbol), 3 the
exchange or the database did not answer (and nothing failed outright). A configuration error
is found before any check runs (exit 2).

``tradeguard run`` in LIVE runs the same checks before it accepts a signal and refuses to start
when one does not pass; in DRY_RUN they run against the paper (or read-only) exchange and are
logged. The probe talks to the adapter itself, not through the monitored wrapper, so a
preflight never engages the kill switch: it only reports.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from .codes import CODE_INFO, ErrorCode
from .errors import DependencyUnavailableError, ExchangeAuthError, TradeGuardError
from .ports import Balance, ExchangeClient, OrderState
from .sources.clock_sync import TimeSyncResult

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_UNAVAILABLE = 3


class PreflightStatus(StrEnum):
    """What one preflight check found."""

    PASS = "PASS"
    FAIL = "FAIL"
    UNAVAILABLE = "UNAVAILABLE"
    SKIPPED = "SKIPPED"


@dataclass(frozen=True, slots=True)
class PreflightResult:
    """One check's answer: ``{name, status, code, detail, action}``."""

    name: str
    status: PreflightStatus
    code: str
    detail: str = ""
    action: str = ""

    def to_dict(self) -> dict[str, str]:
        """Return the result as JSON-ready data."""
        return {
            "name": self.name,
            "status": self.status.value,
            "code": self.code,
            "detail": self.detail,
            "action": self.action,
        }


def _result(name: str, status: PreflightStatus, code: str, detail: str = "") -> PreflightResult:
    info = CODE_INFO.get(str(code))
    action = "" if status is PreflightStatus.PASS or info is None else info.action
    return PreflightResult(name, status, str(code), detail[:500], action)


def _passed(name: str, detail: str = "") -> PreflightResult:
    return _result(name, PreflightStatus.PASS, ErrorCode.CHECK_OK.value, detail)


def _from_error(name: str, exc: Exception, code: str) -> PreflightResult:
    # Keys refused: FAIL with EXCHANGE_AUTH_FAILED; no answer: UNAVAILABLE; anything else
    # (a refusal, garbage, a bug) is a FAIL with the check's own code.
    detail = f"{exc.code}: {exc.message}" if isinstance(exc, TradeGuardError) else repr(exc)
    if isinstance(exc, ExchangeAuthError):
        return _result(name, PreflightStatus.FAIL, ErrorCode.EXCHANGE_AUTH_FAILED, detail)
    if isinstance(exc, DependencyUnavailableError):
        return _result(name, PreflightStatus.UNAVAILABLE, code, detail)
    return _result(name, PreflightStatus.FAIL, code, detail)


class PreflightProbe:
    """What the checks read, each account call made once and its answer (or error) kept.

    Args:
        exchange: The exchange adapter (not the monitored wrapper: see the module docstring).
        ping: Raises unless the database can be written.
        sync_time: Measures the exchange clock drift once.
        symbols: The configured symbols.
    """

    def __init__(
        self,
        exchange: ExchangeClient,
        *,
        ping: Callable[[], None],
        sync_time: Callable[[], TimeSyncResult],
        symbols: Sequence[str],
    ) -> None:
        self.exchange = exchange
        self.ping = ping
        self.sync_time = sync_time
        self.symbols = tuple(symbols)
        self._answers: dict[str, Any] = {}

    def _once(self, key: str, call: Callable[[], Any]) -> Any:
        if key not in self._answers:
            try:
                self._answers[key] = call()
            except Exception as exc:  # kept and raised to every check that asks
                self._answers[key] = exc
        answer = self._answers[key]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def balances(self) -> list[Balance]:
        """Return the account balances (read once)."""
        return list(self._once("balances", self.exchange.balances))

    def open_orders(self) -> list[OrderState]:
        """Return the account's open orders (read once)."""
        return list(self._once("open_orders", self.exchange.open_orders))


class PreflightCheck(Protocol):
    """One preflight check."""

    name: str
    requires: tuple[str, ...]

    def run(self, probe: PreflightProbe) -> PreflightResult:
        """Run the check and return its result (never raise)."""
        ...


class CredentialsCheck:
    """The exchange accepts the API credentials: an authenticated read (balances) succeeds."""

    name = "credentials"
    requires: tuple[str, ...] = ()

    def run(self, probe: PreflightProbe) -> PreflightResult:
        """Read the balances with the keys; a 401/403 is ``EXCHANGE_AUTH_FAILED``."""
        try:
            probe.balances()
        except Exception as exc:  # classified: refused keys, no answer, other
            return _from_error(self.name, exc, ErrorCode.EXCHANGE_UNREACHABLE)
        return _passed(self.name, f"authenticated read on {probe.exchange.name} accepted")


class BalancesCheck:
    """The account balances can be read and parsed."""

    name = "balances"
    requires: tuple[str, ...] = ("credentials",)

    def run(self, probe: PreflightProbe) -> PreflightResult:
        """Return PASS with the number of balances read."""
        try:
            balances = probe.balances()
        except Exception as exc:  # classified below
            return _from_error(self.name, exc, ErrorCode.PREFLIGHT_BALANCES_UNREADABLE)
        return _passed(self.name, f"{len(balances)} balances read")


class OpenOrdersCheck:
    """The account's open orders can be read (they are counted by the caps at start)."""

    name = "open_orders"
    requires: tuple[str, ...] = ("credentials",)

    def run(self, probe: PreflightProbe) -> PreflightResult:
        """Return PASS with the number of resting orders."""
        try:
            orders = probe.open_orders()
        except Exception as exc:  # classified below
            return _from_error(self.name, exc, ErrorCode.PREFLIGHT_OPEN_ORDERS_UNREADABLE)
        return _passed(self.name, f"{len(orders)} open orders")


class ExchangeTimeCheck:
    """The exchange clock is readable and within the drift tolerance."""

    name = "exchange_time"
    requires: tuple[str, ...] = ()

    def run(self, probe: PreflightProbe) -> PreflightResult:
        """Measure the drift once."""
        try:
            result = probe.sync_time()
        except Exception as exc:  # the synchroniser does not raise; fail closed if it does
            return _from_error(self.name, exc, ErrorCode.EXCHANGE_TIME_UNAVAILABLE)
        if result.error_code == ErrorCode.EXCHANGE_TIME_DRIFT:
            return _result(self.name, PreflightStatus.FAIL, result.error_code, result.detail)
        if result.error_code is not None or not result.is_within_tolerance:
            code = result.error_code or ErrorCode.EXCHANGE_TIME_UNAVAILABLE
            return _result(self.name, PreflightStatus.UNAVAILABLE, code, result.detail)
        return _passed(self.name, f"drift {result.drift_ms} ms")


class DatabaseCheck:
    """The audit database answers and can be written."""

    name = "database"
    requires: tuple[str, ...] = ()

    def run(self, probe: PreflightProbe) -> PreflightResult:
        """Ping the audit store."""
        try:
            probe.ping()
        except Exception as exc:  # a database that does not answer is unavailable
            detail = f"{exc.code}: {exc.message}" if isinstance(exc, TradeGuardError) else repr(exc)
            return _result(
                self.name, PreflightStatus.UNAVAILABLE, ErrorCode.DATABASE_UNAVAILABLE, detail
            )
        return _passed(self.name)


class SymbolKnownCheck:
    """A configured symbol is known to the exchange: its ticker can be read."""

    requires: tuple[str, ...] = ()

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.name = f"symbol:{symbol}"

    def run(self, probe: PreflightProbe) -> PreflightResult:
        """Read the symbol's ticker."""
        try:
            ticker = probe.exchange.ticker(self.symbol)
        except Exception as exc:  # a refused ticker is an unknown symbol
            return _from_error(self.name, exc, ErrorCode.PREFLIGHT_SYMBOL_UNKNOWN)
        return _passed(self.name, f"last price {ticker.price}")


class SymbolRulesCheck:
    """A configured symbol's trading rules load: quantity step, minimums, price tick."""

    requires: tuple[str, ...] = ()

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.name = f"symbol_rules:{symbol}"
        self.requires = (f"symbol:{symbol}",)

    def run(self, probe: PreflightProbe) -> PreflightResult:
        """Load the symbol's rules from the exchange."""
        try:
            rules = probe.exchange.symbol_rules(self.symbol)
        except Exception as exc:  # refused, no answer, or rules that make no sense
            return _from_error(self.name, exc, ErrorCode.PREFLIGHT_SYMBOL_RULES_UNAVAILABLE)
        return _passed(
            self.name,
            f"step {rules.quantity_step}, min {rules.min_quantity}, "
            f"min notional {rules.min_notional}, tick {rules.price_tick}",
        )


def default_checks(symbols: Sequence[str]) -> list[PreflightCheck]:
    """Return the preflight checks in the order they run."""
    checks: list[PreflightCheck] = [
        DatabaseCheck(),
        CredentialsCheck(),
        BalancesCheck(),
        OpenOrdersCheck(),
        ExchangeTimeCheck(),
    ]
    for symbol in symbols:
        checks.extend((SymbolKnownCheck(symbol), SymbolRulesCheck(symbol)))
    return checks


@dataclass(frozen=True, slots=True)
class PreflightReport:
    """Every check's result and what they add up to."""

    results: tuple[PreflightResult, ...]

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return all(r.status is PreflightStatus.PASS for r in self.results)

    @property
    def exit_code(self) -> int:
        """0 ok, 1 a check failed, 3 something did not answer (and nothing failed)."""
        statuses = {r.status for r in self.results}
        if PreflightStatus.FAIL in statuses:
            return EXIT_CHECK_FAILED
        if PreflightStatus.UNAVAILABLE in statuses or PreflightStatus.SKIPPED in statuses:
            return EXIT_UNAVAILABLE
        return EXIT_OK

    @property
    def first_problem(self) -> PreflightResult | None:
        """The first result that failed (or else did not answer), or None."""
        for wanted in (PreflightStatus.FAIL, PreflightStatus.UNAVAILABLE):
            for result in self.results:
                if result.status is wanted:
                    return result
        return None

    def to_dict(self) -> dict[str, Any]:
        """Return ``{ok, exit_code, checks: [...]}``."""
        return {
            "ok": self.ok,
            "exit_code": self.exit_code,
            "checks": [r.to_dict() for r in self.results],
        }


def run_preflight(checks: Sequence[PreflightCheck], probe: PreflightProbe) -> PreflightReport:
    """Run ``checks`` in order; a check whose requirement did not pass is SKIPPED."""
    results: list[PreflightResult] = []
    passed: set[str] = set()
    for check in checks:
        missing = [name for name in check.requires if name not in passed]
        if missing:
            results.append(
                _result(
                    check.name,
                    PreflightStatus.SKIPPED,
                    ErrorCode.PREFLIGHT_FAILED,
                    f"needs {', '.join(missing)} to pass first",
                )
            )
            continue
        try:
            result = check.run(probe)
        except Exception as exc:  # a check that raises fails (closed), with the cause
            result = _result(
                check.name, PreflightStatus.FAIL, ErrorCode.PREFLIGHT_FAILED, repr(exc)
            )
        results.append(result)
        if result.status is PreflightStatus.PASS:
            passed.add(check.name)
    return PreflightReport(tuple(results))


__all__ = [
    "BalancesCheck",
    "CredentialsCheck",
    "DatabaseCheck",
    "ExchangeTimeCheck",
    "OpenOrdersCheck",
    "PreflightCheck",
    "PreflightProbe",
    "PreflightReport",
    "PreflightResult",
    "PreflightStatus",
    "SymbolKnownCheck",
    "SymbolRulesCheck",
    "default_checks",
    "run_preflight",
]
