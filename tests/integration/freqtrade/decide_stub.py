"""A loopback HTTP server that answers the decide API with whatever a test sets."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tradeguard.loopback_http import LoopbackHTTPServer


@dataclass
class StubReply:
    """What the stub answers: a status and raw body, after ``delay`` seconds, or nothing."""

    status: int = 200
    body: bytes = b"{}"
    delay: float = 0.0
    drop: bool = False


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class DecideStub:
    base_url: str = ""
    reply: StubReply = field(default_factory=StubReply)
    report_reply: StubReply = field(
        default_factory=lambda: StubReply(body=json.dumps(REPORT_ANSWER).encode())
    )
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, status: int = 200, delay: float = 0.0, **fields: Any) -> None:
        self.reply = StubReply(status, json.dumps(decide_answer(**fields)).encode(), delay)

    def requests(self, suffix: str = "") -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path.endswith(suffix)]


REPORT_ANSWER = {
    "permit_id": "p-1",
    "correlation_id": "c-1",
    "status": "FILLED",
    "filled_quantity": "0.01",
    "applied_quantity": "0.01",
    "open": False,
}


def decide_answer(
    decision: str = "ALLOW", permitted: bool | None = None, permit_id: Any = "", **extra: Any
) -> dict[str, Any]:
    """A well-formed decide answer (permit and expiry present exactly when permitted)."""
    permitted = decision == "ALLOW" if permitted is None else permitted
    if permit_id == "":
        permit_id = "permit-1" if permitted else None
    body = {
        "signal_id": "s-1",
        "correlation_id": "c-1",
        "decision": decision,
        "reason_code": {"ALLOW": "ALLOW_ALL_GATES_PASSED", "NEUTRAL": "NEUTRAL_HEALTH_YELLOW"}.get(
            decision, "HALT_KILL_SWITCH"
        ),
        "blocking_gate": None if decision == "ALLOW" else "KILL_SWITCH",
        "precedence_rank": None if decision == "ALLOW" else 1,
        "is_latched": False,
        "codes": ["ALLOW_ALL_GATES_PASSED"],
        "permitted": permitted,
        "refusal_code": None,
        "permit_id": permit_id,
        "expires_at": "2030-01-01T00:00:00.000000Z" if permit_id else None,
        "duplicate": False,
    }
    body.update(extra)
    return body


def _handler(stub: DecideStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def setup(self) -> None:
            super().setup()
            # Headers and body leave in two writes: without NODELAY each answer waits ~40 ms.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            with stub.lock:
                stub.received.append(Received(self.path, dict(self.headers.items()), body))
            reply = stub.report_reply if self.path.endswith("/report") else stub.reply
            if reply.delay:
                time.sleep(reply.delay)
            if reply.drop:
                self.close_connection = True
                return
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

    return Handler


@contextmanager
def running_stub() -> Iterator[DecideStub]:
    stub = DecideStub()
    server = LoopbackHTTPServer(("127.0.0.1", 0), _handler(stub))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    host, port = server.server_address[:2]
    stub.base_url = f"http://{host!s}:{port}"
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
