"""The event feed against the loopback SSE server: reconnects, resume, and the L6 rule."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from tradeguard.codes import ErrorCode
from tradeguard.feeds.lockdown import LOCKDOWN_ACTOR, LockdownController, is_lockdown
from tradeguard.feeds.sse import EventFeedClient, FeedEvent
from tradeguard.feeds.sse_server import LoopbackSSEServer
from tradeguard.policy import OperatorActionRecord
from tradeguard.ports import KillSwitchState


class FakeBreaker:
    """An in-memory kill switch with the engage/state surface of the circuit breaker."""

    def __init__(self) -> None:
        self._state = KillSwitchState(active=False)
        self.engagements: list[str] = []

    def state(self) -> KillSwitchState:
        return self._state

    def engage(
        self, operator_id: str, reason: str, correlation_id: str, *, code: str = ""
    ) -> OperatorActionRecord:
        self._state = KillSwitchState(True, operator_id, reason, datetime.now(UTC), code)
        self.engagements.append(code)
        return OperatorActionRecord(
            action=ErrorCode.KILL_SWITCH_ENGAGED,
            correlation_id=correlation_id,
            operator_id=operator_id,
            reason=reason,
            timestamp_utc=datetime.now(UTC),
        )


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


@pytest.fixture
def server() -> Iterator[LoopbackSSEServer]:
    with LoopbackSSEServer(heartbeat_seconds=0.05) as srv:
        yield srv


def make_client(
    server: LoopbackSSEServer, on_exhausted: Callable[[int], object], **kwargs: object
) -> EventFeedClient:
    return EventFeedClient(
        server.url,
        on_exhausted=on_exhausted,
        random=lambda: 0.0,
        sleep=lambda _s, _e: None,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("mode", ["status", "close", "drop"])
def test_feed_when_four_attempts_fail_then_one_succeeds_does_not_lock_down(
    server: LoopbackSSEServer, mode: str
) -> None:
    breaker = FakeBreaker()
    controller = LockdownController(breaker)
    server.refuse_next(4, mode)
    client = make_client(server, controller.enter)
    client.start()
    try:
        assert wait_until(lambda: client.connected)
        assert server.attempts == 5
        assert client.consecutive_failures == 0
        assert client.lockdowns == 0
        assert breaker.engagements == []
    finally:
        client.stop()


@pytest.mark.parametrize("mode", ["status", "close", "drop"])
def test_feed_when_five_attempts_fail_locks_down_at_exactly_the_fifth(
    server: LoopbackSSEServer, mode: str
) -> None:
    breaker = FakeBreaker()
    attempts_at_lockdown: list[int] = []

    def on_locked(_cid: str) -> None:
        attempts_at_lockdown.append(server.attempts)

    controller = LockdownController(breaker, on_locked=on_locked)
    server.refuse_next(5, mode)
    client = make_client(server, controller.enter)
    client.start()
    try:
        assert wait_until(lambda: client.connected)
        assert attempts_at_lockdown == [5]
        assert breaker.engagements == [ErrorCode.SSE_RECONNECT_EXHAUSTED]
        state = breaker.state()
        assert state.actor == LOCKDOWN_ACTOR and is_lockdown(state)
    finally:
        client.stop()
    # A later success does not clear the lockdown.
    assert is_lockdown(breaker.state())


def test_feed_failures_count_only_when_consecutive(server: LoopbackSSEServer) -> None:
    breaker = FakeBreaker()
    controller = LockdownController(breaker)
    server.refuse_next(3)
    client = make_client(server, controller.enter)
    client.start()
    try:
        assert wait_until(lambda: client.connected)
        server.refuse_next(4)
        server.drop_connections()
        assert wait_until(lambda: server.attempts >= 9 and client.connected)
        assert breaker.engagements == []
    finally:
        client.stop()


def test_feed_resumes_with_last_event_id_and_delivers_events(server: LoopbackSSEServer) -> None:
    events: list[FeedEvent] = []
    seen = threading.Event()

    def on_event(event: FeedEvent) -> None:
        events.append(event)
        if event.event == "ticker":
            seen.set()

    server.tickers = {"BTCUSDT": __import__("decimal").Decimal("50000")}
    client = EventFeedClient(
        server.url, on_event=on_event, random=lambda: 0.0, sleep=lambda _s, _e: None
    )
    client.start()
    try:
        assert seen.wait(5)
        server.drop_connections()
        assert wait_until(lambda: len(server.last_event_ids) >= 2)
        assert server.last_event_ids[0] is None
        assert server.last_event_ids[1] is not None
        assert server.last_event_ids[1].isdigit()
    finally:
        client.stop()


def test_feed_honours_server_retry_as_backoff_base() -> None:
    with LoopbackSSEServer(heartbeat_seconds=0.05, retry_ms=2000) as srv:
        client = EventFeedClient(srv.url, random=lambda: 1.0, sleep=lambda _s, _e: None)
        client.start()
        try:
            assert wait_until(lambda: client.connected)
            assert wait_until(lambda: client.parser.retry_ms == 2000)
            assert client.next_delay() == pytest.approx(2.0)
            client.consecutive_failures = 3
            assert client.next_delay() == pytest.approx(8.0)
        finally:
            client.stop()


def test_feed_when_store_cannot_record_keeps_lockdown_pending() -> None:
    from tradeguard.errors import AuditUnavailableError

    class BrokenBreaker(FakeBreaker):
        def engage(self, *args: object, **kwargs: object) -> OperatorActionRecord:
            raise AuditUnavailableError(ErrorCode.AUD_006, "down")

    controller = LockdownController(BrokenBreaker())
    assert controller.enter(5) is False
    assert controller.pending
