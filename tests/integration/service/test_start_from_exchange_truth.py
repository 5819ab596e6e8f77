"""The service starts from the exchange's truth, or (LIVE) does not start at all."""

from __future__ import annotations

import pytest

from tradeguard.background import start_from_exchange_truth
from tradeguard.bootstrap import build_container
from tradeguard.codes import ErrorCode
from tradeguard.errors import DependencyUnavailableError, ExchangeUnavailableError

from ...service_support import make_settings


class _Unreadable:
    name = "unreadable"

    def balances(self) -> list[object]:
        raise ExchangeUnavailableError(ErrorCode.EXCHANGE_ERROR, "HTTP 503")

    def open_orders(self, symbol: str | None = None) -> list[object]:
        raise ExchangeUnavailableError(ErrorCode.EXCHANGE_ERROR, "HTTP 503")


def test_an_account_that_cannot_be_read_refuses_a_required_start_and_is_logged_otherwise():
    container = build_container(make_settings())
    try:
        assert container.account is not None
        container.account._exchange = _Unreadable()  # type: ignore[assignment]
        with pytest.raises(DependencyUnavailableError) as refused:
            start_from_exchange_truth(container, required=True)
        assert refused.value.code == ErrorCode.START_STATE_UNREADABLE
        assert refused.value.exit_code == 3
        assert start_from_exchange_truth(container, required=False) is None
        account = next(r for r in container.health.results() if r.name == "exchange_account")
        assert account.code == ErrorCode.EXCHANGE_ACCOUNT_UNREADABLE
    finally:
        container.close()


def test_a_readable_account_is_adopted_before_the_first_decision():
    container = build_container(make_settings())
    try:
        report = start_from_exchange_truth(container, required=True)
        assert report is not None and report.resting_orders == 0 and report.mismatches == ()
        account = next(r for r in container.health.results() if r.name == "exchange_account")
        assert account.code == ErrorCode.CHECK_OK
    finally:
        container.close()
