"""The LIVE preflight: each check, the skipping of dependent checks, and the exit codes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tradeguard.clock import FakeClock
from tradeguard.codes import ErrorCode
from tradeguard.errors import (
    AuditUnavailableError,
    ExchangeAuthError,
    ExchangeRejectedError,
    ExchangeUnavailableError,
)
from tradeguard.exchange import PaperExchange
from tradeguard.preflight import (
    PreflightProbe,
    PreflightReport,
    PreflightResult,
    PreflightStatus,
    default_checks,
    run_preflight,
)
from tradeguard.sources.clock_sync import TimeSyncResult

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class FlakyPaper(PaperExchange):
    """The paper exchange with per-call failures planted."""

    def __init__(self) -> None:
        super().__init__(FakeClock(NOW), price_source=lambda _s: Decimal(50000))
        self.failures: dict[str, Exception] = {}
        self.calls: dict[str, int] = {}

    def _maybe(self, call: str) -> None:
        self.calls[call] = self.calls.get(call, 0) + 1
        if call in self.failures:
            raise self.failures[call]

    def balances(self):  # type: ignore[no-untyped-def]
        self._maybe("balances")
        return super().balances()

    def open_orders(self, symbol=None):  # type: ignore[no-untyped-def]
        self._maybe("open_orders")
        return super().open_orders(symbol)

    def ticker(self, symbol):  # type: ignore[no-untyped-def]
        self._maybe(f"ticker:{symbol}")
        return super().ticker(symbol)


def _sync(error_code: str | None = None, within: bool = True) -> TimeSyncResult:
    return TimeSyncResult(
        local_time_utc=NOW,
        exchange_time_utc=None if error_code else NOW,
        drift_ms=None if error_code else 3.0,
        rtt_ms=1.0,
        uncertainty_ms=0.5,
        is_within_tolerance=within,
        error_code=error_code,
        correlation_id="c",
        timestamp_utc=NOW,
        detail="" if error_code is None else "measured",
    )


def _run(exchange: FlakyPaper, *, sync: TimeSyncResult | None = None, ping_error=None):  # type: ignore[no-untyped-def]
    def ping() -> None:
        if ping_error is not None:
            raise ping_error

    probe = PreflightProbe(
        exchange, ping=ping, sync_time=lambda: sync or _sync(), symbols=("BTCUSDT", "ETHUSDT")
    )
    return run_preflight(default_checks(probe.symbols), probe)


def _by_name(report: PreflightReport) -> dict[str, PreflightResult]:
    return {r.name: r for r in report.results}


def test_every_check_passes_on_a_healthy_account_and_exits_0():
    exchange = FlakyPaper()
    report = _run(exchange)
    assert report.ok and report.exit_code == 0 and report.first_problem is None
    assert [r.name for r in report.results] == [
        "database",
        "credentials",
        "balances",
        "open_orders",
        "exchange_time",
        "symbol:BTCUSDT",
        "symbol_rules:BTCUSDT",
        "symbol:ETHUSDT",
        "symbol_rules:ETHUSDT",
    ]
    assert all(r.code == ErrorCode.CHECK_OK and r.action == "" for r in report.results)
    assert exchange.calls["balances"] == 1  # credentials and balances share one read


def test_refused_keys_fail_credentials_skip_the_account_reads_and_exit_1():
    exchange = FlakyPaper()
    exchange.failures["balances"] = ExchangeAuthError(ErrorCode.EXCHANGE_AUTH_FAILED, "HTTP 401")
    report = _run(exchange)
    checks = _by_name(report)
    assert checks["credentials"].status is PreflightStatus.FAIL
    assert checks["credentials"].code == ErrorCode.EXCHANGE_AUTH_FAILED
    assert "TRADEGUARD_EXCHANGE_API_KEY" in checks["credentials"].action
    assert checks["balances"].status is PreflightStatus.SKIPPED
    assert checks["open_orders"].status is PreflightStatus.SKIPPED
    assert "open_orders" not in exchange.calls
    assert report.exit_code == 1 and report.first_problem == checks["credentials"]


def test_an_unreachable_exchange_is_unavailable_and_exits_3():
    exchange = FlakyPaper()
    exchange.failures["balances"] = ExchangeUnavailableError(ErrorCode.EXCHANGE_ERROR, "timeout")
    report = _run(exchange)
    checks = _by_name(report)
    assert checks["credentials"].status is PreflightStatus.UNAVAILABLE
    assert checks["credentials"].code == ErrorCode.EXCHANGE_UNREACHABLE
    assert report.exit_code == 3


def test_unreadable_open_orders_have_their_own_code():
    exchange = FlakyPaper()
    exchange.failures["open_orders"] = ExchangeUnavailableError(ErrorCode.EXCHANGE_ERROR, "503")
    checks = _by_name(report := _run(exchange))
    assert checks["open_orders"].status is PreflightStatus.UNAVAILABLE
    assert checks["open_orders"].code == ErrorCode.PREFLIGHT_OPEN_ORDERS_UNREADABLE
    assert report.exit_code == 3


def test_open_orders_refused_for_the_key_fail_with_exchange_auth_failed():
    exchange = FlakyPaper()
    exchange.failures["open_orders"] = ExchangeAuthError(ErrorCode.EXCHANGE_AUTH_FAILED, "403")
    checks = _by_name(report := _run(exchange))
    assert checks["open_orders"].code == ErrorCode.EXCHANGE_AUTH_FAILED
    assert report.exit_code == 1


def test_garbage_balances_fail_with_their_own_code():
    exchange = FlakyPaper()
    exchange.failures["balances"] = ValueError("not json")
    checks = _by_name(_run(exchange))
    assert checks["credentials"].status is PreflightStatus.FAIL
    assert checks["balances"].status is PreflightStatus.SKIPPED


def test_clock_drift_fails_and_an_unreadable_clock_is_unavailable():
    drift = _by_name(_run(FlakyPaper(), sync=_sync(ErrorCode.EXCHANGE_TIME_DRIFT, False)))
    assert drift["exchange_time"].status is PreflightStatus.FAIL
    assert drift["exchange_time"].code == ErrorCode.EXCHANGE_TIME_DRIFT
    unread = _by_name(_run(FlakyPaper(), sync=_sync(ErrorCode.EXCHANGE_TIME_UNAVAILABLE, False)))
    assert unread["exchange_time"].status is PreflightStatus.UNAVAILABLE
    assert unread["exchange_time"].code == ErrorCode.EXCHANGE_TIME_UNAVAILABLE


def test_an_unreachable_database_is_unavailable_with_database_unavailable():
    report = _run(FlakyPaper(), ping_error=AuditUnavailableError("AUD-006", "locked"))
    database = _by_name(report)["database"]
    assert database.status is PreflightStatus.UNAVAILABLE
    assert database.code == ErrorCode.DATABASE_UNAVAILABLE and database.action
    assert report.exit_code == 3


def test_a_symbol_the_exchange_refuses_is_unknown():
    exchange = FlakyPaper()
    exchange.failures["ticker:ETHUSDT"] = ExchangeRejectedError(
        ErrorCode.EXCHANGE_ORDER_REJECTED, "Unsupported Currency Pair"
    )
    checks = _by_name(report := _run(exchange))
    assert checks["symbol:BTCUSDT"].status is PreflightStatus.PASS
    assert checks["symbol:ETHUSDT"].status is PreflightStatus.FAIL
    assert checks["symbol:ETHUSDT"].code == ErrorCode.PREFLIGHT_SYMBOL_UNKNOWN
    assert checks["symbol_rules:ETHUSDT"].status is PreflightStatus.SKIPPED
    assert report.exit_code == 1


def test_rules_that_cannot_be_loaded_fail_with_their_own_code():
    exchange = FlakyPaper()

    def no_rules(symbol: str) -> object:
        raise ExchangeUnavailableError(ErrorCode.EXCHANGE_ERROR, "pairs endpoint 503")

    exchange.symbol_rules = no_rules  # type: ignore[method-assign]
    checks = _by_name(report := _run(exchange))
    assert checks["symbol_rules:BTCUSDT"].status is PreflightStatus.UNAVAILABLE
    assert checks["symbol_rules:BTCUSDT"].code == ErrorCode.PREFLIGHT_SYMBOL_RULES_UNAVAILABLE
    assert report.exit_code == 3


def test_a_check_that_raises_fails_closed():
    class Broken:
        name = "broken"
        requires: tuple[str, ...] = ()

        def run(self, probe: PreflightProbe) -> PreflightResult:
            raise RuntimeError("bug")

    probe = PreflightProbe(FlakyPaper(), ping=lambda: None, sync_time=_sync, symbols=())
    report = run_preflight([Broken()], probe)
    assert report.results[0].status is PreflightStatus.FAIL
    assert report.results[0].code == ErrorCode.PREFLIGHT_FAILED and report.exit_code == 1


def test_the_json_shape_is_ok_and_a_list_of_name_status_code_detail_action():
    data = _run(FlakyPaper()).to_dict()
    assert data["ok"] is True and data["exit_code"] == 0
    assert set(data["checks"][0]) == {"name", "status", "code", "detail", "action"}


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(list(PreflightStatus)), min_size=1, max_size=12))
def test_for_any_results_a_failure_exits_1_else_no_answer_exits_3_else_0(statuses):
    report = PreflightReport(
        tuple(PreflightResult(f"c{i}", s, "X") for i, s in enumerate(statuses))
    )
    if PreflightStatus.FAIL in statuses:
        assert report.exit_code == 1
    elif set(statuses) - {PreflightStatus.PASS}:
        assert report.exit_code == 3
    else:
        assert report.exit_code == 0
    assert report.ok == all(s is PreflightStatus.PASS for s in statuses)
    assert (report.exit_code == 0) == report.ok
