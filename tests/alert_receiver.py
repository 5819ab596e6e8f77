"""A loopback JSON webhook that records what apprise's ``json://`` targets post, and a
listener that accepts connections and never answers (a hanging alert target)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tradeguard.loopback_http import LoopbackHTTPServer


class AlertReceiver:
    """Records every JSON body posted to it; ``url`` is its apprise ``json://`` URL."""

    def __init__(self, server: ThreadingHTTPServer, path: str) -> None:
        self._server = server
        self.path = path
        self.bodies: list[dict[str, Any]] = []
        self.lock = threading.Condition()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"json://{host}:{port}{self.path}"

    def record(self, body: dict[str, Any]) -> None:
        with self.lock:
            self.bodies.append(body)
            self.lock.notify_all()

    def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float
    ) -> dict[str, Any] | None:
        """Return the first body matching ``predicate`` that arrives within ``timeout``."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                for body in self.bodies:
                    if predicate(body):
                        return body
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.lock.wait(left)


@contextmanager
def alert_receiver(path: str = "/hooks/tradeguard") -> Iterator[AlertReceiver]:
    holder: list[AlertReceiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw)
            except ValueError:
                body = {"raw": raw.decode(errors="replace")}
            body["_path"] = self.path
            body["_received_monotonic"] = time.monotonic()
            body["_received_at"] = time.time()
            holder[0].record(body)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = LoopbackHTTPServer(("127.0.0.1", 0), Handler)
    receiver = AlertReceiver(server, path)
    holder.append(receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def hanging_target() -> Iterator[str]:
    """Yield a ``json://`` URL whose server accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            accepted.append(conn)  # held open, never read from, never answered

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"json://127.0.0.1:{sock.getsockname()[1]}/hang"
    finally:
        stop.set()
        thread.join(2)
        for conn in accepted:
            conn.close()
        sock.close()


def closed_port_url() -> str:
    """Return a ``json://`` URL of a loopback port nothing listens on (a dead target)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"json://127.0.0.1:{port}/dead"
