"""``tradeguard time check`` against the loopback exchange simulator (VALR dialect)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from tradeguard.cli.app import app
from tradeguard.exchange.simulator.server import ExchangeSimulator


@pytest.fixture
def simulator() -> Iterator[ExchangeSimulator]:
    with ExchangeSimulator() as sim:
        yield sim


@pytest.fixture
def env(simulator: ExchangeSimulator, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(__import__("os").environ):
        if key.startswith("TRADEGUARD_") and key not in ("TRADEGUARD_TEST_DATABASE_URL",):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("TRADEGUARD_EXCHANGE", "valr")
    monkeypatch.setenv("TRADEGUARD_EXCHANGE_BASE_URL", simulator.base_url)
    monkeypatch.setenv("TRADEGUARD_EXCHANGE_REQUEST_TIMEOUT_SECONDS", "1")


def run_check(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["time", "check", *args])
    return result.exit_code, result.stdout


def test_time_check_within_tolerance_exits_0_with_json(env: None) -> None:
    code, out = run_check("--json")
    data = json.loads(out.strip().splitlines()[-1])
    assert code == 0
    assert data["is_within_tolerance"] is True
    assert abs(data["drift_ms"]) < 1000
    assert data["uncertainty_ms"] is not None


@pytest.mark.parametrize("skew_ms", [2500, -2500])
def test_time_check_drift_exceeded_exits_1(
    env: None, simulator: ExchangeSimulator, skew_ms: int
) -> None:
    simulator.set_faults(clock_skew_ms=skew_ms)
    code, out = run_check("--json")
    data = json.loads(out.strip().splitlines()[-1])
    assert code == 1
    assert data["error_code"] == "EXCHANGE_TIME_DRIFT"
    assert abs(data["drift_ms"] - skew_ms) < 500


def test_time_check_exchange_down_exits_3(env: None, simulator: ExchangeSimulator) -> None:
    simulator.set_faults(down=True)
    code, out = run_check("--json")
    assert code == 3
    assert json.loads(out.strip().splitlines()[-1])["error_code"] == "EXCHANGE_TIME_UNAVAILABLE"


def test_time_check_prints_a_table_by_default(env: None) -> None:
    code, out = run_check()
    assert code == 0
    assert "drift_ms" in out and "is_within_tolerance" in out
