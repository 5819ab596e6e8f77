"""A loopback SSE server for tests, the failure simulator and the demo feed.

It streams ``heartbeat`` events (and ``ticker`` events for configured symbols) to every client
and can be told to misbehave:

- ``refuse_next(count, mode)``: the next ``count`` connection attempts fail, by ``mode``:
  ``"status"`` (HTTP 503), ``"close"`` (the socket is closed without an answer) or ``"drop"``
  (200 and the stream headers, then closed before any event);
- ``drop_connections()``: every open stream is closed now (clients must reconnect).

The same controls are reachable over HTTP: ``POST /_sse/refuse`` ``{"count": 5, "mode":
"status"}``, ``POST /_sse/drop``, ``GET /_sse/stats``. Events carry increasing ids; a client
that sends ``Last-Event-ID`` gets the buffered events after it first.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from typing import Any

from ..loopback_http import LoopbackHTTPServer

REFUSAL_MODES = ("status", "close", "drop")


class LoopbackSSEServer:
    """An SSE server on 127.0.0.1 (port 0 by default) running in a daemon thread.

    Args:
        host: Address to bind.
        port: Port to bind; 0 picks a free one.
        heartbeat_seconds: Interval between heartbeat (and ticker) events.
        retry_ms: When set, sent as the stream's ``retry`` field.
        tickers: Symbol → price; each beat also emits a ``ticker`` event per symbol.
        now: Wall clock for event timestamps.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        heartbeat_seconds: float = 0.2,
        retry_ms: int | None = None,
        tickers: dict[str, Decimal] | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.heartbeat_seconds = heartbeat_seconds
        self.retry_ms = retry_ms
        self.tickers = dict(tickers or {})
        self._now = now or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._refusals: deque[str] = deque()
        self._generation = 0
        self._next_id = 0
        self._history: deque[tuple[int, str, str]] = deque(maxlen=256)
        self.attempts = 0
        self.refused = 0
        self.streams_opened = 0
        self.last_event_ids: list[str | None] = []
        self._httpd = _HTTPServer((host, port), _Handler)
        self._httpd.owner = self
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()

    @property
    def url(self) -> str:
        """The stream URL (``http://127.0.0.1:PORT/events``)."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/events"

    @property
    def base_url(self) -> str:
        """The server's base URL."""
        return self.url.removesuffix("/events")

    def start(self) -> LoopbackSSEServer:
        """Serve in a daemon thread; return self."""
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="sse-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close every stream and stop serving."""
        self._closed.set()
        self.drop_connections()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> LoopbackSSEServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- controls ---------------------------------------------------------------------------

    def refuse_next(self, count: int, mode: str = "status") -> None:
        """Make the next ``count`` connection attempts fail in ``mode``."""
        if mode not in REFUSAL_MODES:
            raise ValueError(f"mode must be one of {REFUSAL_MODES}")
        with self._lock:
            self._refusals.extend([mode] * count)

    def clear_refusals(self) -> None:
        """Accept connections again."""
        with self._lock:
            self._refusals.clear()

    def drop_connections(self) -> None:
        """Close every open stream now."""
        with self._lock:
            self._generation += 1

    def publish(self, event: str, data: dict[str, Any] | str) -> int:
        """Queue an event for every stream; return its id."""
        text = data if isinstance(data, str) else json.dumps(data, default=str)
        with self._lock:
            self._next_id += 1
            self._history.append((self._next_id, event, text))
            return self._next_id

    def stats(self) -> dict[str, Any]:
        """Counters for tests and the simulator."""
        with self._lock:
            return {
                "attempts": self.attempts,
                "refused": self.refused,
                "streams_opened": self.streams_opened,
                "pending_refusals": len(self._refusals),
            }

    # -- used by the handler ----------------------------------------------------------------

    def _admit(self, last_event_id: str | None) -> str | None:
        with self._lock:
            self.attempts += 1
            self.last_event_ids.append(last_event_id)
            if self._refusals:
                self.refused += 1
                return self._refusals.popleft()
            self.streams_opened += 1
            return None

    def _beat(self) -> None:
        stamp = self._now().isoformat().replace("+00:00", "Z")
        self.publish("heartbeat", {"timestamp": stamp})
        for symbol, price in self.tickers.items():
            self.publish("ticker", {"symbol": symbol, "price": str(price), "timestamp": stamp})

    def _after(self, last_id: int) -> list[tuple[int, str, str]]:
        with self._lock:
            return [item for item in self._history if item[0] > last_id]

    def _current(self) -> tuple[int, int]:
        with self._lock:
            return self._generation, self._next_id


def _frame(event_id: int, event: str, data: str) -> bytes:
    lines = [f"id: {event_id}", f"event: {event}"]
    lines += [f"data: {part}" for part in data.split("\n")]
    return ("\n".join(lines) + "\n\n").encode()


class _HTTPServer(LoopbackHTTPServer):
    owner: LoopbackSSEServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        owner = self.server.owner
        if self.path.startswith("/_sse/stats"):
            self._json(200, owner.stats())
            return
        refusal = owner._admit(self.headers.get("Last-Event-ID"))
        if refusal == "close":
            self.close_connection = True
            return
        if refusal == "status":
            self._json(503, {"code": "FEED_REFUSED"})
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        if refusal != "drop":
            self._stream(owner)

    def do_POST(self) -> None:
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b"{}"
        try:
            body = json.loads(raw or b"{}")
            if self.path.startswith("/_sse/refuse"):
                owner.refuse_next(int(body.get("count", 1)), str(body.get("mode", "status")))
            elif self.path.startswith("/_sse/drop"):
                owner.drop_connections()
            else:
                self._json(404, {"code": "NOT_FOUND"})
                return
        except (ValueError, TypeError, AttributeError) as exc:
            self._json(400, {"code": "INPUT_INVALID_VALUE", "message": str(exc)})
            return
        self._json(200, owner.stats())

    def _json(self, status: int, body: dict[str, Any]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _stream(self, owner: LoopbackSSEServer) -> None:
        generation, last_sent = owner._current()
        resume = self.headers.get("Last-Event-ID")
        if resume and resume.isdigit():
            last_sent = int(resume)
        try:
            if owner.retry_ms is not None:
                self.wfile.write(f"retry: {owner.retry_ms}\n\n".encode())
            self.wfile.write(b": connected\n\n")
            self.wfile.flush()
            while not owner._closed.is_set():
                for event_id, event, data in owner._after(last_sent):
                    self.wfile.write(_frame(event_id, event, data))
                    last_sent = event_id
                self.wfile.flush()
                owner._closed.wait(owner.heartbeat_seconds)
                if owner._current()[0] != generation:
                    return
                owner._beat()
        except OSError:
            return


__all__ = ["REFUSAL_MODES", "LoopbackSSEServer"]
