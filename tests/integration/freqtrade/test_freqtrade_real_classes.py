"""The guide's strategy as a real freqtrade ``IStrategy``, its hooks called the way freqtrade does.

freqtrade wraps every strategy callback in ``strategy_safe_wrapper(..., default_retval=True)``:
an exception becomes a yes. This runs the guide's strategy class in the freqtrade venv, through
that very wrapper, against stub decide APIs over loopback HTTP.
"""

from __future__ import annotations

import json
import socket
import subprocess
import textwrap
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.freqtrade_support import freqtrade_bin_or_skip, guide_block
from tests.integration.freqtrade.decide_stub import DecideStub, running_stub

PROBE = textwrap.dedent(
    """
    import json, sys
    from datetime import UTC, datetime
    from types import SimpleNamespace

    sys.path.insert(0, sys.argv[1])
    from freqtrade.strategy import IStrategy
    from freqtrade.strategy.strategy_wrapper import strategy_safe_wrapper
    from guarded_strategy import GuardedStrategy
    from tradeguard.integrations.freqtrade import TradeGuardMixin

    def strategy(url):
        section = {"url": url, "secret": "probe-secret", "timeout": 1}
        return GuardedStrategy({"tradeguard": section, "stake_currency": "USDT"})

    def entry(url):
        return strategy_safe_wrapper(strategy(url).confirm_trade_entry, default_retval=True)(
            pair="BTC/USDT", order_type="market", amount=0.01, rate=50000.0,
            time_in_force="GTC", current_time=datetime.now(UTC), entry_tag=None, side="long")

    def exit_(url):
        return strategy_safe_wrapper(strategy(url).confirm_trade_exit, default_retval=True)(
            pair="BTC/USDT", trade=SimpleNamespace(is_short=False), order_type="market",
            amount=0.01, rate=50000.0, time_in_force="GTC", exit_reason="roi",
            sell_reason="roi", current_time=datetime.now(UTC))

    class Averaging(GuardedStrategy):
        def adjust_trade_position(self, trade, current_time, **kwargs):
            return 100.0

    def adjustment(url):
        section = {"url": url, "secret": "probe-secret", "timeout": 1}
        trade = SimpleNamespace(pair="BTC/USDT", is_short=False, leverage=1.0)
        stake, _tag = Averaging({"tradeguard": section})._adjust_trade_position_internal(
            trade=trade, current_time=datetime.now(UTC), current_rate=50000.0,
            current_profit=0.0, min_stake=10.0, max_stake=1000.0, current_entry_rate=50000.0,
            current_exit_rate=50000.0, current_entry_profit=0.0, current_exit_profit=0.0)
        return stake

    def backtested_entry(url):
        from freqtrade.data.dataprovider import DataProvider
        from freqtrade.enums import RunMode

        guarded = strategy(url)
        guarded.dp = DataProvider({"runmode": RunMode.BACKTEST}, None)
        return guarded.confirm_trade_entry(
            pair="BTC/USDT", order_type="market", amount=0.01, rate=50000.0,
            time_in_force="GTC", current_time=datetime.now(UTC), entry_tag=None, side="long")

    try:
        class Misordered(IStrategy, TradeGuardMixin):
            pass
        misordered = "accepted"
    except TypeError:
        misordered = "refused"

    urls = dict(arg.split("=", 1) for arg in sys.argv[2:])
    print(json.dumps({
        "is_strategy": isinstance(strategy(urls["allow"]), IStrategy),
        "entry": {name: entry(url) for name, url in urls.items()},
        "exit": {name: exit_(url) for name, url in urls.items()},
        "adjustment": {name: adjustment(url) for name, url in urls.items()},
        "misordered": misordered,
        "backtested": backtested_entry(urls["halt"]),
    }))
    """
)


@pytest.fixture
def stubs() -> Iterator[dict[str, DecideStub]]:
    with ExitStack() as stack:
        servers = {
            name: stack.enter_context(running_stub()) for name in ("allow", "neutral", "halt")
        }
        servers["allow"].answer(decision="ALLOW")
        servers["neutral"].answer(decision="NEUTRAL", permitted=True)
        servers["halt"].answer(decision="HALT", permitted=False)
        yield servers


def test_the_guides_strategy_answers_freqtrades_own_wrapper_from_tradeguard(
    tmp_path: Path, stubs: dict[str, DecideStub]
) -> None:
    python = freqtrade_bin_or_skip("python")
    (tmp_path / "guarded_strategy.py").write_text(guide_block("python"))
    urls = [f"{name}={stub.base_url}" for name, stub in stubs.items()]
    with socket.socket() as sock:  # a port nothing listens on once closed
        sock.bind(("127.0.0.1", 0))
        urls.append(f"down=http://127.0.0.1:{sock.getsockname()[1]}")
    result = subprocess.run(
        [str(python), "-c", PROBE, str(tmp_path), *urls],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    answers = json.loads(result.stdout.strip().splitlines()[-1])
    assert answers["is_strategy"] is True
    assert answers["entry"] == {"allow": True, "neutral": False, "halt": False, "down": False}
    assert answers["exit"] == {"allow": True, "neutral": True, "halt": False, "down": False}
    assert answers["adjustment"] == {"allow": 100.0, "neutral": None, "halt": None, "down": None}
    assert answers["misordered"] == "refused"
    # Backtesting is not sent to the service: even its HALT is not asked.
    halt_requests = len(stubs["halt"].requests("/v1/decide"))
    assert answers["backtested"] is True
    assert halt_requests == 3  # entry, exit and adjustment: not the backtested entry
    sent = stubs["allow"].requests("/v1/decide")[0].json()
    assert (sent["symbol"], sent["intent"], sent["source"]) == ("BTCUSDT", "OPEN", "freqtrade")
