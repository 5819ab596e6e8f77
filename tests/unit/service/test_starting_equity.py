"""The risk governor's starting equity: the paper balance, or the LIVE account's quote balance."""

from __future__ import annotations

from decimal import Decimal

from tradeguard.bootstrap import _starting_equity
from tradeguard.errors import ExchangeUnavailableError
from tradeguard.ports import Balance
from tradeguard.settings import Settings

LIVE = dict(
    execution_mode="LIVE",
    exchange="valr",
    operator_token="t",
    exchange_api_key="k",
    exchange_api_secret="s",
    symbols=("BTCUSDT",),
)


class Account:
    def __init__(self, balances=None, error=None):
        self._balances, self._error = balances, error

    def balances(self):
        if self._error:
            raise self._error
        return self._balances


def test_live_equity_is_the_quote_currency_balance():
    account = Account(
        [Balance("BTC", Decimal(1), Decimal(1)), Balance("USDT", Decimal(5), Decimal(7))]
    )
    assert _starting_equity(Settings(**LIVE), account) == Decimal(7)


def test_live_equity_unknown_fails_closed_to_zero():
    down = Account(error=ExchangeUnavailableError("EXCHANGE_ERROR", "down"))
    assert _starting_equity(Settings(**LIVE), down) == 0
    assert (
        _starting_equity(Settings(**LIVE), Account([Balance("ZAR", Decimal(9), Decimal(9))])) == 0
    )


def test_dry_run_with_a_real_adapter_trades_the_paper_balance():
    settings = Settings(exchange="valr", paper_quote_balance=Decimal(1234))
    assert _starting_equity(settings, Account(error=AssertionError("never asked"))) == 1234
