"""Exchange reachability from every call: RED at the first failure, recovery only by a probe."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest

from tradeguard.clock import FakeClock
from tradeguard.codes import ErrorCode
from tradeguard.errors import ExchangeRejectedError, ExchangeUnavailableError
from tradeguard.exchange import (
    ExchangeProber,
    ExchangeReachability,
    MonitoredExchange,
    PaperExchange,
)
from tradeguard.policy import Side
from tradeguard.ports import OrderRequest
from tradeguard.sources import CheckStatus, ExchangeReachableCheck
from tradeguard.timers import DeadlineTimer


class ScriptedExchange(PaperExchange):
    """A paper exchange whose every call can be told to fail, be refused, hang or be slow."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock, price_source=lambda _symbol: Decimal(10))
        self.clock = clock
        self.error: Exception | None = None
        self.takes_s = 0.0
        self.release = threading.Event()
        self.release.set()

    def _behave(self) -> None:
        self.release.wait(10)
        if self.takes_s:
            self.clock.advance(self.takes_s)
        if self.error is not None:
            raise self.error

    def server_time(self):  # type: ignore[no-untyped-def]
        self._behave()
        return super().server_time()

    def ticker(self, symbol):  # type: ignore[no-untyped-def]
        self._behave()
        return super().ticker(symbol)

    def balances(self):  # type: ignore[no-untyped-def]
        self._behave()
        return super().balances()

    def place_order(self, request):  # type: ignore[no-untyped-def]
        self._behave()
        return super().place_order(request)


def _setup(
    call_timeout_s: float | None = 1.0,
) -> tuple[FakeClock, ScriptedExchange, ExchangeReachability, MonitoredExchange, list[bool]]:
    clock = FakeClock()
    inner = ScriptedExchange(clock)
    reachability = ExchangeReachability(clock, call_timeout_s=call_timeout_s)
    changes: list[bool] = []
    reachability.add_listener(changes.append)
    return (
        clock,
        inner,
        reachability,
        MonitoredExchange(inner, clock, reachability=reachability),
        changes,
    )


def _check(clock: FakeClock, monitored: MonitoredExchange) -> ExchangeReachableCheck:
    return ExchangeReachableCheck(
        lambda: monitored.last_success_monotonic,
        clock,
        timeout_s=10,
        reachability=monitored.reachability,
    )


DOWN = ExchangeUnavailableError(ErrorCode.EXCHANGE_UNREACHABLE, "connection reset")


@pytest.mark.parametrize(
    "call",
    [
        lambda m: m.ticker("BTCUSDT"),
        lambda m: m.balances(),
        lambda m: m.server_time(),
        lambda m: m.place_order(OrderRequest("tg-1", "BTCUSDT", Side.BUY, Decimal("0.1"))),
    ],
    ids=["ticker", "balances", "time_sync", "order"],
)
def test_any_failed_call_marks_the_exchange_red_at_once(call) -> None:
    clock, inner, reachability, monitored, changes = _setup()
    monitored.ticker("BTCUSDT")
    assert _check(clock, monitored).check().status is CheckStatus.GREEN

    inner.error = DOWN
    with pytest.raises(ExchangeUnavailableError):
        call(monitored)

    result = _check(clock, monitored).check()
    assert reachability.reachable is False and changes == [False]
    assert (result.status, result.code) == (CheckStatus.RED, "EXCHANGE_UNREACHABLE")
    assert "failed" in result.detail and "since" in result.detail


def test_a_refusal_proves_the_exchange_is_there() -> None:
    _clock, inner, reachability, monitored, changes = _setup()
    inner.error = ExchangeRejectedError(ErrorCode.EXCHANGE_ORDER_REJECTED, "insufficient balance")
    with pytest.raises(ExchangeRejectedError):
        monitored.balances()
    assert reachability.reachable is True and changes == []


def test_an_unexpected_exception_also_marks_it_red() -> None:
    _clock, inner, reachability, monitored, _changes = _setup()
    inner.error = RuntimeError("adapter bug")
    with pytest.raises(RuntimeError):
        monitored.ticker("BTCUSDT")
    assert reachability.reachable is False


def test_after_a_failure_only_a_timely_probe_recovers() -> None:
    clock, inner, reachability, monitored, changes = _setup(call_timeout_s=1.0)
    inner.error = DOWN
    with pytest.raises(ExchangeUnavailableError):
        monitored.ticker("BTCUSDT")
    inner.error = None

    monitored.ticker("BTCUSDT")  # an ordinary call answering is not enough
    monitored.balances()
    assert reachability.reachable is False

    inner.takes_s = 1.5  # a probe answering after the timeout is not enough either
    monitored.probe()
    assert reachability.reachable is False
    assert reachability.consecutive_probe_failures == 1

    inner.takes_s = 0.0
    monitored.probe()
    assert reachability.reachable is True and changes == [False, True]
    assert reachability.consecutive_probe_failures == 0
    assert _check(clock, monitored).check().status is CheckStatus.GREEN


def test_a_late_answer_while_reachable_marks_it_red() -> None:
    _clock, inner, reachability, monitored, changes = _setup(call_timeout_s=0.5)
    inner.takes_s = 0.6
    monitored.ticker("BTCUSDT")
    assert reachability.reachable is False and changes == [False]
    assert "answered after more than 0.5 s" in reachability.snapshot().detail


def test_a_call_hanging_past_the_timeout_marks_it_red_while_still_in_flight() -> None:
    # Real time here: the deadline timer fires on the monotonic clock while the call hangs.
    from tradeguard.clock import SystemClock

    inner = ScriptedExchange(FakeClock())
    reachability = ExchangeReachability(SystemClock(), call_timeout_s=0.1)
    went_down = threading.Event()
    reachability.add_listener(lambda reachable: went_down.set() if not reachable else None)
    monitored = MonitoredExchange(inner, SystemClock(), reachability=reachability)
    inner.release.clear()
    started = time.monotonic()
    caller = threading.Thread(target=monitored.balances, daemon=True)
    caller.start()
    try:
        assert went_down.wait(10), "the hanging call was never marked overdue"
        noticed = time.monotonic() - started
        snapshot = reachability.snapshot()
        assert snapshot.in_flight == 1 and snapshot.overdue == 1
        assert noticed >= 0.1  # not before its deadline
        assert "in flight for more than 0.1 s" in snapshot.detail
    finally:
        inner.release.set()
        caller.join(10)
        reachability.close()
    assert reachability.reachable is False  # its late answer does not count


def test_a_call_answered_in_time_cancels_its_deadline() -> None:
    from tradeguard.clock import SystemClock

    reachability = ExchangeReachability(SystemClock(), call_timeout_s=0.05)
    monitored = MonitoredExchange(
        ScriptedExchange(FakeClock()), SystemClock(), reachability=reachability
    )
    try:
        for _ in range(20):
            monitored.balances()
        time.sleep(0.15)
        assert reachability.reachable is True
        assert reachability.snapshot().in_flight == 0
    finally:
        reachability.close()


def test_probe_interval_while_healthy_and_doubling_backoff_while_down() -> None:
    _clock, inner, reachability, monitored, _changes = _setup()
    prober = ExchangeProber(monitored.probe, reachability, interval_s=0.2, backoff_max_s=2.0)
    assert prober.next_delay() == 0.2

    inner.error = DOWN
    delays = []
    for _ in range(6):
        prober.probe_once()
        delays.append(prober.next_delay())
    assert delays == [0.4, 0.8, 1.6, 2.0, 2.0, 2.0]

    inner.error = None
    prober.probe_once()
    assert reachability.reachable is True and prober.next_delay() == 0.2


def test_prober_thread_probes_and_stops() -> None:
    _clock, inner, reachability, monitored, changes = _setup()
    inner.error = DOWN
    with pytest.raises(ExchangeUnavailableError):
        monitored.ticker("BTCUSDT")
    inner.error = None
    prober = ExchangeProber(monitored.probe, reachability, interval_s=0.01, backoff_max_s=0.02)
    prober.start()
    try:
        deadline = time.monotonic() + 10
        while not reachability.reachable and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        prober.stop()
    assert reachability.reachable is True and changes == [False, True]
    assert prober.probes >= 1


def test_status_snapshot_names_the_state_since_and_why() -> None:
    _clock, inner, reachability, monitored, _changes = _setup()
    inner.error = DOWN
    with pytest.raises(ExchangeUnavailableError):
        monitored.ticker("BTCUSDT")
    data = reachability.snapshot().to_dict()
    assert data["reachable"] is False
    assert data["since"] == "2026-01-01T00:00:00.000000Z"
    assert data["code"] == "EXCHANGE_UNREACHABLE"
    assert "ticker failed" in data["detail"]


def test_deadline_timer_calls_due_callbacks_and_skips_cancelled_ones() -> None:
    timer = DeadlineTimer("test")
    fired: list[str] = []
    done = threading.Event()
    try:
        cancelled = timer.schedule(0.01, lambda: fired.append("cancelled"))
        timer.schedule(0.02, lambda: fired.append("late"))
        timer.schedule(0.0, lambda: fired.append("early"))
        timer.schedule(0.03, done.set)
        assert timer.cancel(cancelled) is True
        assert done.wait(10)
        assert fired == ["early", "late"]
        assert timer.pending == 0
        assert timer.cancel(cancelled) is False
    finally:
        timer.close()


def test_deadline_timer_survives_a_failing_callback() -> None:
    timer = DeadlineTimer("test")
    done = threading.Event()

    def boom() -> None:
        raise RuntimeError("boom")

    try:
        timer.schedule(0.0, boom)
        timer.schedule(0.01, done.set)
        assert done.wait(10)
    finally:
        timer.close()


def test_a_follower_adopts_the_leaders_state_unless_its_own_failure_is_newer() -> None:
    clock, inner, reachability, monitored, changes = _setup()
    reachability.adopt(False, 0.1, "probe failed")
    assert reachability.reachable is False and "leader" in reachability.snapshot().detail
    clock.advance(1)
    reachability.adopt(True, 0.1)
    assert reachability.reachable is True

    clock.advance(1)
    inner.error = DOWN
    with pytest.raises(ExchangeUnavailableError):
        monitored.place_order(OrderRequest("tg-2", "BTCUSDT", Side.BUY, Decimal("0.1")))
    reachability.adopt(True, 0.5)  # published before this follower's own failure: ignored
    assert reachability.reachable is False
    clock.advance(1)
    reachability.adopt(True, 0.1)  # the leader's probe answered after it: reachable again
    assert reachability.reachable is True
    assert changes == [False, True, False, True]


def test_leader_publication_carries_reachability_and_followers_apply_it() -> None:
    from tradeguard.bootstrap import build_container
    from tradeguard.leadership import apply_status, status_payload

    from ...service_support import make_settings

    leader = build_container(make_settings())
    follower = build_container(make_settings())
    try:
        leader_reach = leader.exchange.reachability
        follower_reach = follower.exchange.reachability
        assert leader_reach is not None and follower_reach is not None
        leader_reach.adopt(False, 0.0, "simulated outage")
        payload = status_payload(leader)
        assert payload["exchange_reachability"]["reachable"] is False
        apply_status(follower, payload, 0.05)
        assert follower_reach.reachable is False
        assert follower.operator.status()["state"] == "NEUTRAL"
    finally:
        leader.close()
        follower.close()


def test_deadline_timer_is_not_woken_by_every_later_deadline() -> None:
    # Each exchange call schedules a deadline and cancels it when it answers: the thread must
    # not be woken for each of them (one wake-up per call cost more than the call), and a
    # deadline that is due before the thread would look again must still wake it.
    timer = DeadlineTimer("test")
    notified = 0

    class CountingCondition(threading.Condition):
        def notify(self, n: int = 1) -> None:
            nonlocal notified
            notified += 1
            super().notify(n)

    timer._cond = CountingCondition(threading.Lock())
    done = threading.Event()
    try:
        for _ in range(200):  # calls that answer at once, the thread let run between them
            timer.cancel(timer.schedule(60.0, lambda: None))
            time.sleep(0.001)
        assert notified <= 20  # not one per call (a stall of the loop may cost one each)
        timer.schedule(0.0, done.set)  # due before the thread would look: wakes it
        assert done.wait(10)
    finally:
        timer.close()
