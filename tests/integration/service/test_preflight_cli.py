"""``tradeguard preflight``: its exit codes against the loopback simulator, in process."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from typer.testing import CliRunner

from tradeguard.cli.app import app
from tradeguard.exchange.simulator.server import ExchangeSimulator


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    # The commands point structlog at the runner's stderr, which is closed after each
    # invoke: later tests in this process must not log into it.
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


@pytest.fixture
def simulator() -> Iterator[ExchangeSimulator]:
    with ExchangeSimulator() as sim:
        yield sim


@pytest.fixture
def live_env(
    simulator: ExchangeSimulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> pytest.MonkeyPatch:
    for key in list(os.environ):
        if key.startswith("TRADEGUARD_"):
            monkeypatch.delenv(key, raising=False)
    values = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'preflight.db'}",
        "EXECUTION_MODE": "LIVE",
        "EXCHANGE": "valr",
        "EXCHANGE_BASE_URL": simulator.base_url,
        "EXCHANGE_API_KEY": simulator.api_key,
        "EXCHANGE_API_SECRET": simulator.api_secret,
        "EXCHANGE_REQUEST_TIMEOUT_SECONDS": "1",
        "OPERATOR_TOKEN": "preflight-token",
        "SYMBOLS": '["BTCUSDT","ETHUSDT"]',
    }
    for key, value in values.items():
        monkeypatch.setenv(f"TRADEGUARD_{key}", value)
    return monkeypatch


def _preflight() -> tuple[int, dict[str, object]]:
    result = CliRunner().invoke(app, ["preflight", "--json"])
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    return result.exit_code, json.loads(lines[-1]) if lines else {}


def _status(report: dict[str, object], name: str) -> tuple[str, str]:
    checks = {c["name"]: c for c in report["checks"]}  # type: ignore[attr-defined, index]
    return checks[name]["status"], checks[name]["code"]


def test_a_healthy_live_account_passes_with_exit_0(live_env: pytest.MonkeyPatch) -> None:
    code, report = _preflight()
    assert code == 0 and report["ok"] is True
    assert _status(report, "symbol:ETHUSDT") == ("PASS", "CHECK_OK")


def test_an_unknown_symbol_fails_with_exit_1(live_env: pytest.MonkeyPatch) -> None:
    live_env.setenv("TRADEGUARD_SYMBOLS", '["BTCUSDT","DOGEXYZ"]')
    code, report = _preflight()
    assert code == 1
    assert _status(report, "symbol:DOGEXYZ") == ("FAIL", "PREFLIGHT_SYMBOL_UNKNOWN")


def test_clock_drift_fails_with_exit_1(
    live_env: pytest.MonkeyPatch, simulator: ExchangeSimulator
) -> None:
    simulator.set_faults(clock_skew_ms=5000)
    code, report = _preflight()
    assert code == 1
    assert _status(report, "exchange_time") == ("FAIL", "EXCHANGE_TIME_DRIFT")


def test_an_exchange_that_does_not_answer_exits_3(live_env: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    live_env.setenv("TRADEGUARD_EXCHANGE_BASE_URL", closed)
    code, report = _preflight()
    assert code == 3
    assert _status(report, "credentials") == ("UNAVAILABLE", "EXCHANGE_UNREACHABLE")
    assert _status(report, "database") == ("PASS", "CHECK_OK")


def test_an_unreadable_account_exits_3(
    live_env: pytest.MonkeyPatch, simulator: ExchangeSimulator
) -> None:
    simulator.set_faults(account_unreadable=True)
    code, report = _preflight()
    assert code == 3
    assert _status(report, "credentials")[0] == "UNAVAILABLE"


def test_live_without_credentials_is_a_configuration_error_exit_2(
    live_env: pytest.MonkeyPatch,
) -> None:
    live_env.delenv("TRADEGUARD_EXCHANGE_API_SECRET")
    result = CliRunner().invoke(app, ["preflight", "--json"])
    assert result.exit_code == 2


def test_refused_keys_never_engage_the_kill_switch(
    live_env: pytest.MonkeyPatch, simulator: ExchangeSimulator
) -> None:
    simulator.set_faults(auth_fail=True)
    code, report = _preflight()
    assert code == 1 and _status(report, "credentials") == ("FAIL", "EXCHANGE_AUTH_FAILED")
    status = CliRunner().invoke(app, ["status", "--json"])
    data = json.loads([line for line in status.stdout.splitlines() if line.startswith("{")][-1])
    assert data["kill_switch_active"] is False
    account = next(c for c in data["health_checks"] if c["name"] == "exchange_account")
    assert account["code"] == "EXCHANGE_AUTH_FAILED" and data["decision"] == "NEUTRAL"
