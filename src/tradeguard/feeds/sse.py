"""The event feed: a Server-Sent Events client with resume, backoff and the lockdown count.

What counts as a **failed reconnection attempt** (SPEC §6): every connection attempt made
while the feed is not connected — including the very first one at start — that does not end
in a *live stream*. A stream is live once the server has answered ``200`` with content type
``text/event-stream`` **and** delivered at least one complete event or comment line. So each
of these is one failed attempt:

- a connect error or timeout (refused, reset, DNS, TLS);
- any status other than 200 (503, 404, ...);
- a content type other than ``text/event-stream``;
- a stream that ends (or breaks) before its first event or comment.

A live stream that later drops is not a failure: it is the disconnection that starts the next
reconnection. A successful attempt resets the consecutive-failure count to zero. When the
count reaches exactly ``max_failures`` (5), ``on_exhausted`` is called once and the count
restarts, so the feed keeps trying (and a long outage locks down again after another five).

Between attempts the client waits a full-jitter exponential backoff: a uniform random delay in
``[0, min(cap, base * 2**(failures-1))]`` where ``base`` is the server's last ``retry`` (in
milliseconds) when it sent one, else ``backoff_initial_seconds``. ``random`` and ``sleep`` are
injectable so tests run without waiting. The ``Last-Event-ID`` header carries the id of the
last event received, so a server that supports it resumes where the stream broke.
"""

from __future__ import annotations

import random as _random
import threading
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from ..codes import ErrorCode
from ..logging import get_logger

MAX_CONSECUTIVE_FAILURES = 5
EVENT_STREAM = "text/event-stream"

_log = get_logger("tradeguard.feeds.sse")


@dataclass(frozen=True, slots=True)
class FeedEvent:
    """One dispatched SSE event."""

    event: str
    data: str
    id: str | None = None


class SSEParser:
    """Turn SSE lines into events (the WHATWG ``text/event-stream`` field rules).

    ``feed(line)`` returns a ``FeedEvent`` when a blank line dispatches one, else None.
    ``retry_ms`` holds the last valid ``retry`` field; ``saw_anything`` turns True at the first
    complete event or comment line.
    """

    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None
        self.last_event_id: str | None = None
        self.retry_ms: int | None = None
        self.saw_anything = False

    def feed(self, line: str) -> FeedEvent | None:
        """Consume one line (without its line terminator)."""
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            self.saw_anything = True
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self._id = value
        elif name == "retry" and value.isdigit():
            self.retry_ms = int(value)
        return None

    def _dispatch(self) -> FeedEvent | None:
        if self._id is not None:
            self.last_event_id = self._id
        if not self._data:
            self._event = ""
            return None
        event = FeedEvent(self._event or "message", "\n".join(self._data), self.last_event_id)
        self._event, self._data, self._id = "", [], None
        self.saw_anything = True
        return event


class _AttemptFailedError(Exception):
    """One failed attempt; ``reason`` says why (for the log and the metric)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class EventFeedClient:
    """Keep an SSE stream open; count failed reconnections; call ``on_exhausted`` at five.

    Args:
        url: The feed URL.
        on_event: Called with every event (in the client's thread); its exceptions are logged.
        on_exhausted: Called once each time the consecutive failures reach ``max_failures``.
        on_attempt: Called after every attempt with ``(succeeded, reason)``; for metrics.
        transport: Optional httpx transport (tests).
        backoff_initial_seconds: Backoff base before the server sent a ``retry``.
        backoff_max_seconds: Largest backoff.
        random: ``() -> float`` in [0, 1); full jitter.
        sleep: ``(seconds, stop_event) -> None``; waits unless stopped.
        connect_timeout_seconds: Connect (and first byte) timeout of one attempt.
        on_connection_change: Called with the new ``connected`` value the moment it changes
            (the stream turns live, or a live stream ends), so health follows at once.
    """

    def __init__(
        self,
        url: str,
        *,
        on_event: Callable[[FeedEvent], object] | None = None,
        on_exhausted: Callable[[int], object] | None = None,
        on_attempt: Callable[[bool, str], object] | None = None,
        transport: httpx.BaseTransport | None = None,
        backoff_initial_seconds: float = 0.5,
        backoff_max_seconds: float = 30.0,
        max_failures: int = MAX_CONSECUTIVE_FAILURES,
        random: Callable[[], float] = _random.random,
        sleep: Callable[[float, threading.Event], object] | None = None,
        connect_timeout_seconds: float = 5.0,
        on_connection_change: Callable[[bool], object] | None = None,
    ) -> None:
        self.url = url
        self._on_event = on_event
        self._on_exhausted = on_exhausted
        self._on_attempt = on_attempt
        self._transport = transport
        self._initial = backoff_initial_seconds
        self._cap = backoff_max_seconds
        self._max_failures = max_failures
        self._random = random
        self._sleep = sleep if sleep is not None else _wait
        self._timeout = connect_timeout_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._response: httpx.Response | None = None
        self._lock = threading.Lock()
        self.parser = SSEParser()
        self.connected = False
        self.consecutive_failures = 0
        self.total_failures = 0
        self.lockdowns = 0
        self._on_connection_change = on_connection_change

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Run the feed in a daemon thread (again after :meth:`stop`)."""
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="event-feed", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the feed and close the stream."""
        self._stop.set()
        with self._lock:
            response = self._response
        if response is not None:
            response.close()
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self) -> None:
        """Connect, read, reconnect until stopped (blocking)."""
        with httpx.Client(
            transport=self._transport,
            timeout=httpx.Timeout(self._timeout, read=None),
        ) as client:
            while not self._stop.is_set():
                self.run_once(client)
                if self._stop.is_set():
                    return
                self._sleep(self.next_delay(), self._stop)

    # -- one attempt ------------------------------------------------------------------------

    def run_once(self, client: httpx.Client) -> bool:
        """Make one attempt and read its stream until it ends; return True when it was live."""
        try:
            self._attempt(client)
        except _AttemptFailedError as failure:
            self._failed(failure.reason)
            return False
        finally:
            was_connected, self.connected = self.connected, False
            with self._lock:
                self._response = None
            if was_connected:
                self._connection_changed(False)
        return True

    def next_delay(self) -> float:
        """Return the full-jitter backoff before the next attempt."""
        retry = self.parser.retry_ms
        base = retry / 1000 if retry is not None else self._initial
        exponent = max(0, self.consecutive_failures - 1)
        ceiling = min(self._cap, base * (2.0**exponent))
        jitter: float = self._random()
        return max(0.0, jitter * ceiling)

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": EVENT_STREAM, "Cache-Control": "no-cache"}
        if self.parser.last_event_id:
            headers["Last-Event-ID"] = self.parser.last_event_id
        return headers

    def _attempt(self, client: httpx.Client) -> None:
        live = False
        try:
            with client.stream("GET", self.url, headers=self._headers()) as response:
                with self._lock:
                    self._response = response
                _check_response(response)
                live = self._read(response)
        except (httpx.HTTPError, httpx.StreamError) as exc:
            if not live and not self._stop.is_set():
                raise _AttemptFailedError(type(exc).__name__) from exc
        if not live and not self._stop.is_set():
            raise _AttemptFailedError("stream ended before any event")
        if live:
            _log.warning("event_feed_disconnected", code=ErrorCode.FEED_DISCONNECTED, url=self.url)

    def _read(self, response: httpx.Response) -> bool:
        # Returns whether the stream became live; a break after that is not a failed attempt.
        live = False
        self.parser.saw_anything = False
        try:
            for line in response.iter_lines():
                if self._stop.is_set():
                    return live
                event = self.parser.feed(line)
                if self.parser.saw_anything and not live:
                    live = True
                    self._succeeded()
                if event is not None:
                    self._deliver(event)
        except (httpx.HTTPError, httpx.StreamError):
            if not live:
                raise
        return live

    def _succeeded(self) -> None:
        failures, self.consecutive_failures = self.consecutive_failures, 0
        # Count reset before ``connected`` flips, so no reader sees connected with old failures.
        self.connected = True
        self._connection_changed(True)
        if failures:
            _log.info("event_feed_reconnected", failures=failures, url=self.url)
        if self._on_attempt is not None:
            self._on_attempt(True, "connected")

    def _failed(self, reason: str) -> None:
        self.consecutive_failures += 1
        self.total_failures += 1
        _log.warning(
            "event_feed_attempt_failed",
            code=ErrorCode.FEED_DISCONNECTED,
            reason=reason,
            consecutive_failures=self.consecutive_failures,
            url=self.url,
        )
        if self._on_attempt is not None:
            self._on_attempt(False, reason)
        if self.consecutive_failures >= self._max_failures:
            failures = self.consecutive_failures
            self.consecutive_failures = 0
            self.lockdowns += 1
            if self._on_exhausted is not None:
                self._on_exhausted(failures)

    def _connection_changed(self, connected: bool) -> None:
        if self._on_connection_change is None:
            return
        try:
            self._on_connection_change(connected)
        except Exception as exc:  # a listener must not break the feed; it is logged
            _log.error("event_feed_listener_failed", code=ErrorCode.HANDLER_FAILED, error=str(exc))

    def _deliver(self, event: FeedEvent) -> None:
        if self._on_event is None:
            return
        try:
            self._on_event(event)
        except Exception as exc:  # a bad event must not kill the feed; it is logged
            _log.error("event_feed_handler_failed", code=ErrorCode.HANDLER_FAILED, error=str(exc))


def _check_response(response: httpx.Response) -> None:
    if response.status_code != 200:
        raise _AttemptFailedError(f"status {response.status_code}")
    content_type = response.headers.get("content-type", "")
    if not content_type.startswith(EVENT_STREAM):
        raise _AttemptFailedError(f"content type {content_type!r}")


def _wait(seconds: float, stop: threading.Event) -> None:
    stop.wait(seconds)


__all__ = ["MAX_CONSECUTIVE_FAILURES", "EventFeedClient", "FeedEvent", "SSEParser"]
