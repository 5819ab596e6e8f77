"""The freqtrade mixin's answers, asked over loopback HTTP of a stub decide API.

freqtrade itself is not needed here: the mixin is driven the way freqtrade calls it (keyword
arguments, its Trade and Order objects reduced to the attributes the mixin reads). The real
freqtrade run is in tests/e2e/test_freqtrade_dry_run.py.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from structlog.testing import capture_logs

from tests.integration.freqtrade.decide_stub import DecideStub, StubReply, running_stub
from tradeguard.integrations.freqtrade import (
    FreqtradeGuardConfig,
    TradeGuardMixin,
    pair_symbol,
)

SECRET = "mixin-test-secret"
TIMEOUT = 0.3


class GuardedStrategy(TradeGuardMixin):
    """Stands in for ``class S(TradeGuardMixin, IStrategy)``: freqtrade sets ``config``."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config


def strategy_for(
    stub: DecideStub, cls: type[TradeGuardMixin] = GuardedStrategy, **section: Any
) -> Any:
    values = {"url": stub.base_url, "secret": SECRET, "timeout": TIMEOUT, **section}
    return cls({"tradeguard": values})  # type: ignore[call-arg]


def enter(strategy: Any, **overrides: Any) -> Any:
    call = {
        "pair": "BTC/USDT",
        "order_type": "market",
        "amount": 0.002,
        "rate": 50000.0,
        "time_in_force": "GTC",
        "current_time": datetime.now(UTC),
        "entry_tag": None,
        "side": "long",
    }
    call.update(overrides)
    return strategy.confirm_trade_entry(**call)


def leave(strategy: Any, *, is_short: bool = False, **overrides: Any) -> Any:
    call = {
        "pair": "BTC/USDT",
        "trade": SimpleNamespace(is_short=is_short, amount=0.002),
        "order_type": "market",
        "amount": 0.002,
        "rate": 50000.0,
        "time_in_force": "GTC",
        "exit_reason": "roi",
        "current_time": datetime.now(UTC),
    }
    call.update(overrides)
    return strategy.confirm_trade_exit(**call)


def filled(strategy: Any, side: str = "buy", **fields: Any) -> None:
    order = SimpleNamespace(
        ft_order_side=side,
        order_id="dry_run_buy_1",
        status="closed",
        filled=0.002,
        safe_price=50000.0,
    )
    for key, value in fields.items():
        setattr(order, key, value)
    strategy.order_filled(
        pair="BTC/USDT", trade=SimpleNamespace(), order=order, current_time=datetime.now(UTC)
    )


@pytest.fixture
def stub() -> Iterator[DecideStub]:
    with running_stub() as server:
        yield server


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    # Every strategy made in a test closes its HTTP client afterwards, as freqtrade's cleanup does.
    made: list[Any] = []
    original = TradeGuardMixin._tradeguard_state

    def tracked(self: Any) -> Any:
        if self not in made:
            made.append(self)
        return original(self)

    TradeGuardMixin._tradeguard_state = tracked  # type: ignore[method-assign]
    yield
    TradeGuardMixin._tradeguard_state = original  # type: ignore[method-assign]
    for strategy in made:
        strategy.ft_bot_cleanup()


def test_allow_with_a_permit_confirms_the_entry_and_the_signed_body_says_what_freqtrade_asked(
    stub: DecideStub,
) -> None:
    stub.answer(decision="ALLOW")
    assert enter(strategy_for(stub)) is True
    (request,) = stub.requests("/v1/decide")
    body = request.json()
    assert {k: body[k] for k in ("symbol", "side", "intent", "quantity", "order_type")} == {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "intent": "OPEN",
        "quantity": "0.002",
        "order_type": "MARKET",
    }
    assert body["source"] == "freqtrade" and body["strategy"] == "GuardedStrategy"
    assert body["signal_id"].startswith("ft-") and "price" not in body
    expected = hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-TradeGuard-Signature"] == f"sha256={expected}"


def test_a_limit_short_entry_is_a_limit_sell_with_freqtrades_rate(stub: DecideStub) -> None:
    stub.answer(decision="ALLOW")
    assert enter(strategy_for(stub), order_type="limit", side="short", rate=49999.5) is True
    body = stub.requests("/v1/decide")[0].json()
    assert (body["side"], body["order_type"], body["price"]) == ("SELL", "LIMIT", "49999.5")


def test_neutral_refuses_the_entry_and_lets_the_exit_through(stub: DecideStub) -> None:
    strategy = strategy_for(stub)
    stub.answer(decision="NEUTRAL", permitted=False)
    assert enter(strategy) is False
    stub.answer(decision="NEUTRAL", permitted=True, permit_id="exit-permit")
    assert leave(strategy) is True
    body = stub.requests("/v1/decide")[-1].json()
    assert (body["side"], body["intent"]) == ("SELL", "CLOSE")
    assert leave(strategy, is_short=True) is True
    assert stub.requests("/v1/decide")[-1].json()["side"] == "BUY"


@pytest.mark.parametrize("permitted", [False, True])
def test_halt_refuses_entry_and_exit_even_if_the_answer_claims_a_permit(
    stub: DecideStub, permitted: bool
) -> None:
    # SPEC §2: a HALT lets only a CANCEL through; the mixin checks the table itself too.
    strategy = strategy_for(stub)
    stub.answer(decision="HALT", permitted=permitted, permit_id="p" if permitted else None)
    assert enter(strategy) is False
    assert leave(strategy) is False


def test_an_allow_the_caps_refused_is_no_entry(stub: DecideStub) -> None:
    stub.answer(decision="ALLOW", permitted=False, refusal_code="RISK_EXPOSURE")
    assert enter(strategy_for(stub)) is False


@pytest.mark.parametrize(
    "reply",
    [
        StubReply(status=200, body=b"not json"),
        StubReply(status=200, body=b"[]"),
        StubReply(status=200, body=b'{"decision": "ALLOW"}'),
        StubReply(status=500, body=b'{"code": "INTERNAL"}'),
        StubReply(status=401, body=b'{"code": "AUTH_INVALID", "message": "no"}'),
        StubReply(drop=True),
    ],
    ids=["garbage", "list", "partial", "5xx", "401", "dropped"],
)
def test_garbage_errors_and_dropped_connections_refuse_entry_and_exit(
    stub: DecideStub, reply: StubReply
) -> None:
    strategy = strategy_for(stub)
    stub.reply = reply
    with capture_logs() as logs:
        assert enter(strategy) is False
        assert leave(strategy) is False
    failures = [log for log in logs if log["event"] == "freqtrade_decide_failed"]
    assert len(failures) == 2 and all(log["code"] for log in failures)


def test_a_slow_service_refuses_within_the_timeout(stub: DecideStub) -> None:
    # The answer would come after 3 s; the mixin stops waiting at its 0.3 s timeout.
    stub.answer(decision="ALLOW", delay=3.0)
    started = time.monotonic()
    assert enter(strategy_for(stub)) is False
    assert time.monotonic() - started < 2.0


def test_an_unreachable_service_refuses_entry_and_exit() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    strategy = GuardedStrategy(
        {"tradeguard": {"url": f"http://127.0.0.1:{port}", "secret": SECRET, "timeout": TIMEOUT}}
    )
    assert enter(strategy) is False
    assert leave(strategy) is False


@pytest.mark.parametrize(
    "section",
    [{}, {"url": ""}, {"secret": None}, {"timeout": "soon"}, {"timeout": 0}, {"timeout": 31}],
)
def test_a_missing_or_bad_configuration_refuses_entries(
    stub: DecideStub, section: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("TRADEGUARD_URL", "TRADEGUARD_WEBHOOK_SECRET", "TRADEGUARD_WEBHOOK_PASSPHRASE"):
        monkeypatch.delenv(name, raising=False)
    stub.answer(decision="ALLOW")
    values = {} if not section else {"url": stub.base_url, "secret": SECRET, **section}
    assert enter(GuardedStrategy({"tradeguard": values})) is False
    assert stub.requests() == []


def test_the_environment_configures_the_guard_and_the_config_section_wins() -> None:
    env = {"TRADEGUARD_URL": "http://env:1", "TRADEGUARD_WEBHOOK_SECRET": "env-secret"}
    from_env = FreqtradeGuardConfig.resolve({}, env, 2.0)
    assert (from_env.url, from_env.secret, from_env.timeout_seconds) == (
        "http://env:1",
        "env-secret",
        2.0,
    )
    section = {"tradeguard": {"url": "http://cfg:2", "passphrase": "pp", "timeout": 1}}
    from_config = FreqtradeGuardConfig.resolve(section, env, 2.0)
    assert (from_config.url, from_config.passphrase, from_config.timeout_seconds) == (
        "http://cfg:2",
        "pp",
        1.0,
    )


def test_a_passphrase_goes_in_the_body_when_there_is_no_secret(stub: DecideStub) -> None:
    stub.answer(decision="ALLOW")
    strategy = strategy_for(stub, secret=None, passphrase="the-passphrase")
    assert enter(strategy) is True
    request = stub.requests("/v1/decide")[0]
    assert request.json()["passphrase"] == "the-passphrase"
    assert "X-TradeGuard-Signature" not in request.headers


def test_a_fill_is_reported_to_the_permit_that_allowed_it(stub: DecideStub) -> None:
    strategy = strategy_for(stub)
    stub.answer(decision="ALLOW", permit_id="entry-permit")
    assert enter(strategy) is True
    filled(strategy, side="buy")
    (report,) = stub.requests("/report")
    assert report.path == "/v1/decide/entry-permit/report"
    assert report.json() == {
        "exchange_order_id": "dry_run_buy_1",
        "status": "FILLED",
        "filled_quantity": "0.002",
        "average_price": "50000.0",
    }
    filled(strategy, side="buy")  # the permit was used: nothing more to report
    filled(strategy, side="stoploss")  # a stop-loss order had no permit of ours
    assert len(stub.requests("/report")) == 1


def test_a_failing_report_never_raises_into_freqtrade(stub: DecideStub) -> None:
    strategy = strategy_for(stub)
    stub.answer(decision="ALLOW")
    assert enter(strategy) is True
    stub.report_reply = StubReply(status=500, body=b"boom")
    with capture_logs() as logs:
        filled(strategy, side="buy")
    assert [log["event"] for log in logs] == ["freqtrade_report_failed"]


def test_backtesting_is_not_sent_to_the_service_unless_asked(stub: DecideStub) -> None:
    stub.answer(decision="HALT", permitted=False)
    strategy = strategy_for(stub)
    strategy.dp = SimpleNamespace(runmode=SimpleNamespace(value="backtest"))
    assert enter(strategy) is True and stub.requests() == []
    strategy.dp = SimpleNamespace(runmode=SimpleNamespace(value="dry_run"))
    assert enter(strategy) is False and len(stub.requests()) == 1

    class Guarded(GuardedStrategy):
        tradeguard_guard_backtesting = True

    strict = strategy_for(stub, Guarded)
    strict.dp = SimpleNamespace(runmode=SimpleNamespace(value="backtest"))
    assert enter(strict) is False and len(stub.requests()) == 2


class OwnHooks(GuardedStrategy):
    """A strategy with hooks of its own, one of which calls super() as freqtrade docs show."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.answer: Any = True
        self.fills: list[str] = []

    def confirm_trade_entry(self, pair: str, *args: Any, **kwargs: Any) -> bool:
        if isinstance(self.answer, Exception):
            raise self.answer
        return bool(self.answer) and super().confirm_trade_entry(pair, *args, **kwargs)

    def order_filled(
        self, pair: str, trade: Any, order: Any, current_time: Any, **kwargs: Any
    ) -> None:
        self.fills.append(order.ft_order_side)


def test_a_strategys_own_hook_cannot_bypass_the_guard(stub: DecideStub) -> None:
    strategy = strategy_for(stub, OwnHooks)
    stub.answer(decision="HALT", permitted=False)
    assert enter(strategy) is False  # the strategy says yes, tradeguard says no
    assert len(stub.requests("/v1/decide")) == 1  # super() did not ask a second time
    stub.answer(decision="ALLOW", permit_id="own-permit")
    strategy.answer = False
    assert enter(strategy) is False
    assert len(stub.requests("/v1/decide")) == 1  # the strategy said no: nothing reserved
    strategy.answer = RuntimeError("bug in the strategy")
    assert enter(strategy) is False  # freqtrade would have taken an exception as yes
    strategy.answer = True
    assert enter(strategy) is True
    filled(strategy, side="buy")
    assert strategy.fills == ["buy"]
    assert [r.path for r in stub.requests("/report")] == ["/v1/decide/own-permit/report"]


def test_a_mixin_placed_after_the_strategy_base_is_refused_at_class_creation() -> None:
    class StrategyBase:  # stands in for IStrategy, whose hooks answer True
        def confirm_trade_entry(self, *args: Any, **kwargs: Any) -> bool:
            return True

    with pytest.raises(TypeError, match="before"):

        class Wrong(StrategyBase, TradeGuardMixin):  # type: ignore[misc]
            pass


@pytest.mark.parametrize(
    ("pair", "symbol"),
    [("BTC/USDT", "BTCUSDT"), ("eth/usdt", "ETHUSDT"), ("BTC/USDT:USDT", "BTCUSDT")],
)
def test_pairs_become_tradeguard_symbols(pair: str, symbol: str) -> None:
    assert pair_symbol(pair) == symbol


@pytest.mark.parametrize("amount", [0.0, -1.0, float("nan"), float("inf")])
def test_a_nonsense_amount_is_refused_without_asking(stub: DecideStub, amount: float) -> None:
    stub.answer(decision="ALLOW")
    assert enter(strategy_for(stub), amount=amount) is False
    assert stub.requests() == []
    assert json.dumps(stub.received) == "[]"


class Adjusting(GuardedStrategy):
    """A DCA strategy: freqtrade places its adjustments without the confirmation hooks."""

    order_types = {"entry": "market", "exit": "limit"}
    wanted: Any = None

    def adjust_trade_position(self, trade: Any, current_time: Any, **kwargs: Any) -> Any:
        return self.wanted


def adjust(strategy: Any, *, is_short: bool = False) -> Any:
    trade = SimpleNamespace(
        pair="BTC/USDT", is_short=is_short, leverage=1.0, amount=0.004, stake_amount=200.0
    )
    return strategy.adjust_trade_position(
        trade=trade,
        current_time=datetime.now(UTC),
        current_rate=50000.0,
        current_profit=0.0,
        min_stake=10.0,
        max_stake=1000.0,
        current_entry_rate=50000.0,
        current_exit_rate=49990.0,
        current_entry_profit=0.0,
        current_exit_profit=0.0,
    )


def test_a_position_increase_is_asked_as_increase_and_dropped_when_refused(
    stub: DecideStub,
) -> None:
    strategy = strategy_for(stub, Adjusting)
    strategy.wanted = 100.0
    stub.answer(decision="ALLOW", permit_id="dca-permit")
    assert adjust(strategy) == 100.0
    body = stub.requests("/v1/decide")[-1].json()
    assert (body["intent"], body["side"], body["quantity"], body["order_type"]) == (
        "INCREASE",
        "BUY",
        "0.002",
        "MARKET",
    )
    stub.answer(decision="NEUTRAL", permitted=False)
    assert adjust(strategy) is None
    filled(strategy, side="buy")  # the allowed increase's fill reports to its permit
    assert [r.path for r in stub.requests("/report")] == ["/v1/decide/dca-permit/report"]


def test_a_partial_exit_is_asked_as_reduce_of_the_positions_share(stub: DecideStub) -> None:
    strategy = strategy_for(stub, Adjusting)
    strategy.wanted = (-50.0, "trim")
    stub.answer(decision="NEUTRAL", permitted=True)
    assert adjust(strategy) == (-50.0, "trim")
    body = stub.requests("/v1/decide")[-1].json()
    # freqtrade sells |stake| * amount / stake_amount = 50 * 0.004 / 200 at the exit rate.
    assert (body["intent"], body["side"], body["quantity"]) == ("REDUCE", "SELL", "0.001")
    assert (body["order_type"], body["price"]) == ("LIMIT", "49990.0")
    stub.answer(decision="HALT", permitted=False)
    assert adjust(strategy) is None


def test_no_adjustment_asks_nothing_and_an_unreachable_service_drops_one(stub: DecideStub) -> None:
    strategy = strategy_for(stub, Adjusting)
    for nothing in (None, 0.0, (None, "tag")):
        strategy.wanted = nothing
        assert adjust(strategy) == nothing
    assert stub.requests() == []
    stub.reply = StubReply(drop=True)
    strategy.wanted = 100.0
    assert adjust(strategy) is None
