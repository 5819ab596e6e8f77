"""Real freqtrade, guarded by tradeguard: the kill switch holds entries back until released.

Then the entry is allowed, filled and reported, and a price jump makes freqtrade exit: the CLOSE
is allowed because the report told tradeguard about the position, and its fill is reported too.

`tradeguard run` is started as the README does; freqtrade (installed from the package index by
`make venv-freqtrade` into `.venv-freqtrade`, exactly what `tradeguard[freqtrade]` gives a user)
runs the strategy and config of the freqtrade guide in dry-run against the exchange simulator's
Binance subset. Nothing is installed at run time and nothing leaves the machine.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.e2e.test_service_e2e import (  # running_service: a fixture, used by name
    SECRET,
    _cli,
    running_service,  # noqa: F401
)
from tests.freqtrade_support import freqtrade_bin_or_skip, guide_block
from tradeguard.exchange.simulator import ExchangeSimulator

DEADLINE_SECONDS = 60


def _loopback_binance(base: str) -> dict[str, Any]:
    import ccxt

    urls = {k: base + urlsplit(v).path for k, v in ccxt.binance().urls["api"].items()}
    options = {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False, "fetchMargins": False}
    ccxt_config = {"enableRateLimit": False, "urls": {"api": urls}, "options": options}
    return {"enable_ws": False, "ccxt_config": ccxt_config, "ccxt_async_config": ccxt_config}


def bot_config(tmp_path: Path, service: str, exchange: str) -> Path:
    """The guide's config, pointed at the loopback service, simulator and temp files."""
    config = json.loads(guide_block("json"))
    config["tradeguard"].update(url=service, secret=SECRET, timeout=5)
    config["exchange"].update(_loopback_binance(exchange))
    strategies = tmp_path / "strategies"
    strategies.mkdir()
    (strategies / "guarded_strategy.py").write_text(guide_block("python"))
    (tmp_path / "user_data").mkdir()
    config.update(
        bot_name="tradeguard-e2e",
        initial_state="running",
        db_url=f"sqlite:///{tmp_path / 'trades.sqlite'}",
        user_data_dir=str(tmp_path / "user_data"),
        strategy_path=str(strategies),
        internals={"process_throttle_secs": 1},
    )
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return path


def _query(database: Path, sql: str) -> list[tuple[Any, ...]]:
    if not database.exists():
        return []
    try:
        with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)) as conn:
            return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:  # a table freqtrade has not created yet
        return []


def guard_signals(database: Path) -> list[tuple[str, str, str, str, str]]:
    """(timestamp, intent, decision, reason, correlation_id) of every freqtrade signal."""
    rows = _query(
        database,
        "SELECT s.timestamp_utc, json_extract(s.canonical_json, '$.payload.intent'), "
        "p.policy_decision, p.reason_code, s.correlation_id FROM signal_audit s "
        "JOIN policy_decision_audit p ON p.correlation_id = s.correlation_id "
        "WHERE json_extract(s.canonical_json, '$.payload.source') = 'freqtrade' ORDER BY s.seq",
    )
    return [tuple(str(value) for value in row) for row in rows]  # type: ignore[misc]


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def wait_for(what: str, check: Callable[[], bool], log: Path) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
    pytest.fail(f"timed out waiting for {what}; freqtrade log:\n{log.read_text()[-4000:]}")


@pytest.fixture
def tradeguard_service(request: pytest.FixtureRequest) -> tuple[str, dict[str, str], Path]:
    # The service as the README starts it (test_service_e2e's fixture), and its database file.
    base, env, workdir = request.getfixturevalue("running_service")
    return base, env, workdir / "tradeguard.db"


@pytest.mark.slow
def test_freqtrade_enters_only_after_the_kill_switch_is_released(
    tmp_path: Path, tradeguard_service: tuple[str, dict[str, str], Path]
) -> None:
    freqtrade = freqtrade_bin_or_skip()
    service, env, database = tradeguard_service
    engaged = _cli(env, "kill", "on", "--operator", "e2e", "--reason", "freqtrade drill")
    assert engaged.returncode == 0, engaged.stderr
    trades = tmp_path / "bot" / "trades.sqlite"
    (tmp_path / "bot").mkdir()
    with ExchangeSimulator() as simulator:
        config = bot_config(tmp_path / "bot", service, simulator.base_url)
        bot_env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEGUARD_")}
        log_path = tmp_path / "freqtrade.log"
        with log_path.open("w") as log:
            bot = subprocess.Popen(
                [str(freqtrade), "trade", "--config", str(config)],
                env=bot_env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                # While the switch is on, freqtrade keeps asking and every entry is refused.
                wait_for(
                    "three refused entries",
                    lambda: len(guard_signals(database)) >= 3,
                    log_path,
                )
                assert _query(trades, "SELECT count(*) FROM trades") in ([], [(0,)])
                released_at = datetime.now(UTC)
                # Releasing is two recorded operator actions: the switch, then the HALT latch.
                for command in (("kill", "off"), ("latch", "reset")):
                    released = _cli(env, *command, "--operator", "e2e", "--reason", "drill over")
                    assert released.returncode == 0, released.stderr

                def entered_and_reported() -> bool:
                    allowed = [row for row in guard_signals(database) if row[2] == "ALLOW"]
                    filled = _query(
                        database, "SELECT correlation_id FROM order_audit WHERE event = 'FILLED'"
                    )
                    reported = {row[0] for row in filled}
                    opened = _query(trades, "SELECT count(*) FROM trades")
                    return bool(allowed) and allowed[0][4] in reported and opened[0][0] >= 1

                wait_for("an allowed, filled and reported entry", entered_and_reported, log_path)

                # The price jumps past the strategy's 1 % ROI: freqtrade exits, and the CLOSE
                # passes because the reported fill gave tradeguard the position to close.
                price = simulator.state.market.last_price("BTCUSDT")
                simulator.set_price("BTCUSDT", price * Decimal("1.05"))

                def exited_and_reported() -> bool:
                    closes = [row for row in guard_signals(database) if row[1] == "CLOSE"]
                    filled = _query(
                        database, "SELECT correlation_id FROM order_audit WHERE event = 'FILLED'"
                    )
                    closed = _query(trades, "SELECT count(*) FROM trades WHERE is_open = 0")
                    return (
                        any(
                            row[2] == "ALLOW" and row[4] in {f[0] for f in filled} for row in closes
                        )
                        and closed[0][0] >= 1
                    )

                wait_for("an allowed, filled and reported exit", exited_and_reported, log_path)
            finally:
                bot.terminate()
                bot.wait(30)
    signals = guard_signals(database)
    before = [row for row in signals if _moment(row[0]) < released_at]
    assert len(before) >= 3
    assert {(intent, decision, reason) for _, intent, decision, reason, _ in before} == {
        ("OPEN", "HALT", "HALT_KILL_SWITCH")
    }
    assert any(row[1:3] == ("OPEN", "ALLOW") for row in signals)
    opened_at = _query(trades, "SELECT min(open_date) FROM trades")[0][0]
    assert datetime.fromisoformat(opened_at).replace(tzinfo=UTC) >= released_at
    verified = _cli(env, "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
