"""Account health at run time: the ``exchange_account`` check and the credentials latch."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tradeguard.codes import ErrorCode
from tradeguard.errors import (
    ExchangeAuthError,
    ExchangeRejectedError,
    ExchangeUnavailableError,
)
from tradeguard.ports import Balance
from tradeguard.sources.account import (
    ACCOUNT_ACTOR,
    AccountState,
    AuthFailureLatch,
    ExchangeAccountCheck,
    ExchangeAccountMonitor,
    is_auth_lock,
)
from tradeguard.sources.circuit_breaker import CircuitBreaker
from tradeguard.sources.health import CheckStatus

from .fakes import FakeKillSwitchStore, fake_clock

MAX_AGE_S = 3.0


def _revoked() -> ExchangeAuthError:
    return ExchangeAuthError(ErrorCode.EXCHANGE_AUTH_FAILED, "VALR answered HTTP 401")


class FakeAccount:
    """An exchange account whose reads answer or raise as told."""

    name = "fake"

    def __init__(self) -> None:
        self.failure: Exception | None = None
        self.reads = 0

    def balances(self) -> list[Balance]:
        self.reads += 1
        if self.failure is not None:
            raise self.failure
        return [Balance("USDT", Decimal(100), Decimal(100))]

    def open_orders(self, symbol: str | None = None) -> list[object]:
        if self.failure is not None:
            raise self.failure
        return []


def _monitor(*, configured: bool = True):  # type: ignore[no-untyped-def]
    clock = fake_clock()
    account = FakeAccount()
    monitor = ExchangeAccountMonitor(account, clock, configured=configured)  # type: ignore[arg-type]
    return clock, account, monitor, ExchangeAccountCheck(monitor, clock, MAX_AGE_S)


def test_account_check_is_red_before_the_first_read_and_green_after_one():
    _clock, _account, monitor, check = _monitor()
    before = check.check()
    assert before.status is CheckStatus.RED
    assert before.code == ErrorCode.EXCHANGE_ACCOUNT_UNREADABLE
    monitor.read()
    after = check.check()
    assert after.status is CheckStatus.GREEN and after.code == ErrorCode.CHECK_OK


def test_unreadable_account_is_red_until_a_read_succeeds():
    _clock, account, monitor, check = _monitor()
    monitor.read()
    account.failure = ExchangeUnavailableError(ErrorCode.EXCHANGE_ERROR, "HTTP 503")
    assert monitor.read().state is AccountState.UNREADABLE
    result = check.check()
    assert result.status is CheckStatus.RED
    assert result.code == ErrorCode.EXCHANGE_ACCOUNT_UNREADABLE
    assert "HTTP 503" in result.detail
    account.failure = None
    monitor.read()
    assert check.check().status is CheckStatus.GREEN


def test_garbage_or_a_foreign_exception_is_unreadable_not_ok():
    _clock, account, monitor, check = _monitor()
    account.failure = ValueError("not json")
    assert monitor.read().state is AccountState.UNREADABLE
    assert check.check().code == ErrorCode.EXCHANGE_ACCOUNT_UNREADABLE


def test_a_successful_read_that_is_too_old_no_longer_counts():
    clock, _account, monitor, check = _monitor()
    monitor.read()
    clock.advance(MAX_AGE_S + 0.1)
    result = check.check()
    assert result.status is CheckStatus.RED
    assert result.code == ErrorCode.EXCHANGE_ACCOUNT_UNREADABLE


def test_rejected_keys_show_exchange_auth_failed_and_call_the_handler():
    _clock, account, monitor, check = _monitor()
    seen: list[ExchangeAuthError] = []
    monitor.on_auth_failure = seen.append
    account.failure = _revoked()
    assert monitor.read().state is AccountState.AUTH_FAILED
    assert check.check().code == ErrorCode.EXCHANGE_AUTH_FAILED
    assert len(seen) == 1


def test_an_exchange_refusal_of_another_kind_is_not_an_auth_failure():
    _clock, account, monitor, _check = _monitor()
    seen: list[ExchangeAuthError] = []
    monitor.on_auth_failure = seen.append
    account.failure = ExchangeRejectedError(ErrorCode.EXCHANGE_ORDER_REJECTED, "HTTP 400")
    assert monitor.read().state is AccountState.UNREADABLE
    assert not seen


def test_without_an_account_the_check_is_not_configured_and_never_latches():
    _clock, _account, monitor, check = _monitor(configured=False)
    seen: list[ExchangeAuthError] = []
    monitor.on_auth_failure = seen.append
    assert check.check().status is CheckStatus.NOT_CONFIGURED
    monitor.note_auth_failure(_revoked())
    assert not seen


def test_state_changes_tell_the_listeners_once_per_change():
    _clock, account, monitor, _check = _monitor()
    changes: list[int] = []
    monitor.on_change(lambda: changes.append(1))
    monitor.read()
    monitor.read()
    account.failure = ExchangeUnavailableError(ErrorCode.EXCHANGE_ERROR, "timeout")
    monitor.read()
    monitor.read()
    assert len(changes) == 2


# --- the latch ----------------------------------------------------------------------------


def _latch():  # type: ignore[no-untyped-def]
    store = FakeKillSwitchStore()
    breaker = CircuitBreaker(store, fake_clock())
    latch = AuthFailureLatch(breaker)
    latch.armed = True
    return store, breaker, latch


def test_rejected_keys_engage_the_kill_switch_once_as_the_account_actor():
    store, breaker, latch = _latch()
    engaged: list[str] = []
    latch.on_engaged = engaged.append
    assert latch.engage(_revoked()) is True
    assert latch.engage(_revoked()) is False
    state = breaker.state()
    assert state.active and state.actor == ACCOUNT_ACTOR
    assert state.code == ErrorCode.EXCHANGE_AUTH_FAILED and is_auth_lock(state)
    assert len(store.actions) == 1 and len(engaged) == 1


def test_the_latch_does_not_clear_when_the_keys_work_again():
    _store, breaker, latch = _latch()
    latch.engage(_revoked())
    # A later successful read changes the health check, never the kill switch.
    _clock, _account, monitor, check = _monitor()
    monitor.read()
    assert check.check().status is CheckStatus.GREEN
    assert breaker.is_active()


def test_an_unarmed_latch_only_reports():
    store, breaker, latch = _latch()
    latch.armed = False
    assert latch.engage(_revoked()) is False
    assert not breaker.state().active and not store.actions


def test_a_store_that_cannot_record_is_retried_from_the_heartbeat():
    store, breaker, latch = _latch()
    store.fail_set = True
    assert latch.engage(_revoked()) is False
    assert latch.pending is not None
    store.fail_set = False
    latch.retry_pending()
    assert latch.pending is None and is_auth_lock(breaker.state())


_EVENTS = st.lists(st.sampled_from(["ok", "unreadable", "auth", "wait"]), min_size=1, max_size=20)


@settings(max_examples=100, deadline=None)
@given(events=_EVENTS)
def test_for_any_history_the_check_is_green_only_after_a_recent_successful_read(events):
    clock, account, monitor, check = _monitor()
    last_ok_age: float | None = None
    last_state = None
    for event in events:
        if event == "wait":
            clock.advance(2.0)
            if last_ok_age is not None:
                last_ok_age += 2.0
            continue
        account.failure = {
            "ok": None,
            "unreadable": ExchangeUnavailableError(ErrorCode.EXCHANGE_ERROR, "x"),
            "auth": _revoked(),
        }[event]
        monitor.read()
        last_state = event
        last_ok_age = 0.0 if event == "ok" else last_ok_age
    result = check.check()
    green = last_state == "ok" and last_ok_age is not None and last_ok_age <= MAX_AGE_S
    assert (result.status is CheckStatus.GREEN) == green
    if last_state == "auth":
        assert result.code == ErrorCode.EXCHANGE_AUTH_FAILED
