"""The exchange simulator's HTTP server (stdlib ``ThreadingHTTPServer`` in a thread).

Routes: ``/v1/...`` and ``/v2/...`` speak VALR, ``/api/v3/...`` speaks Binance spot, and the
control surface lives under ``/_sim/``:

- ``GET /_sim/orders``: every accepted order with the UTC time it arrived.
- ``DELETE /_sim/orders``: forget the accepted-order log.
- ``GET /_sim/faults``: the faults in force.
- ``POST /_sim/faults``: replace the faults (see :mod:`.faults`); ``{}`` clears them.
- ``GET /_sim/health``: ``{"ok": true}``.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

from ...clock import SystemClock
from ...logging import get_logger
from ...loopback_http import LoopbackHTTPServer
from ...policy import Clock
from .binance_api import BinanceDialect
from .faults import FaultSpecError, SimulatorFaults
from .protocol import SimReply, SimRequest, json_reply
from .state import AcceptedOrder, SimulatorState
from .valr_api import ValrDialect

DEFAULT_API_KEY: Final = "tradeguard-sim-key"
DEFAULT_API_SECRET: Final = "tradeguard-sim-secret"
_MAX_BODY: Final = 1 << 20
_log = get_logger(__name__)


class _Router:
    """Dispatches a request to the control surface or a dialect."""

    def __init__(self, state: SimulatorState, api_key: str, api_secret: str) -> None:
        self.state = state
        self.valr = ValrDialect(state, api_key, api_secret)
        self.binance = BinanceDialect(state, api_key, api_secret)

    def control(self, request: SimRequest) -> SimReply:
        route = (request.method, request.path)
        if route == ("GET", "/_sim/orders"):
            return json_reply(200, [o.to_json() for o in self.state.accepted_orders()])
        if route == ("DELETE", "/_sim/orders"):
            self.state.clear_accepted()
            return json_reply(200, [])
        if route == ("GET", "/_sim/faults"):
            return json_reply(200, self.state.faults.to_json())
        if route == ("POST", "/_sim/faults"):
            try:
                faults = SimulatorFaults.from_json(json.loads(request.body or b"{}"))
            except (ValueError, FaultSpecError) as exc:
                return json_reply(400, {"error": "INPUT_INVALID_VALUE", "message": str(exc)})
            self.state.set_faults(faults)
            return json_reply(200, faults.to_json())
        if route == ("GET", "/_sim/health"):
            return json_reply(200, {"ok": True})
        return json_reply(404, {"error": "NOT_FOUND", "message": f"no route {route}"})

    def trading(self, request: SimRequest) -> SimReply:
        if request.path.startswith("/api/"):
            return self.binance.handle(request)
        if request.path.startswith(("/v1/", "/v2/")):
            return self.valr.handle(request)
        return json_reply(404, {"code": -404, "message": f"no route {request.path}"})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the request log quiet."""

    def setup(self) -> None:
        """Track the connection so that ``stop`` can close it."""
        super().setup()
        # Headers and body go out in separate writes; without NODELAY, Nagle's algorithm and
        # delayed ACKs add ~40 ms to every keep-alive request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, open_=True)

    def finish(self) -> None:
        """Forget the connection."""
        try:
            super().finish()
        finally:
            self.server.track(self.connection, open_=False)

    def _request(self) -> SimRequest | None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            return None
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        return SimRequest(
            method=self.command,
            path=split.path,
            raw_path=self.path,
            query=dict(parse_qsl(split.query, keep_blank_values=True)),
            headers=dict(self.headers.items()),
            body=body,
        )

    def _dispatch(self) -> None:
        request = self._request()
        if request is None:
            self._send(json_reply(413, {"error": "BODY_TOO_LARGE"}))
            return
        router = self.server.router
        if request.path.startswith("/_sim/"):
            self._send(router.control(request))
            return
        faults = router.state.faults
        if faults.down:
            # "Down": no answer at all; the client sees the connection closed.
            self.close_connection = True
            return
        if faults.latency_ms:
            time.sleep(faults.latency_ms / 1000)
        self._send(router.trading(request))

    def _send(self, reply: SimReply) -> None:
        payload = b"" if reply.body is None else json.dumps(reply.body).encode()
        self.send_response(reply.status)
        if reply.body is not None:
            self.send_header("Content-Type", "application/json")
        for key, value in reply.headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = _dispatch
    do_POST = _dispatch
    do_DELETE = _dispatch
    do_PUT = _dispatch


class _Server(LoopbackHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], router: _Router) -> None:
        self.router = router
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, connection: socket.socket, *, open_: bool) -> None:
        with self._connections_lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections, self._connections = list(self._connections), set()
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the peer
                connection.shutdown(socket.SHUT_RDWR)


class ExchangeSimulator:
    """A loopback exchange: VALR and Binance spot subsets plus fault controls.

    Use as a context manager (``with ExchangeSimulator() as sim: sim.base_url``) or call
    :meth:`start` / :meth:`stop`.

    Args:
        host: Address to listen on.
        port: Port to listen on (0 picks a free one).
        api_key: The key both dialects accept.
        api_secret: The secret both dialects verify signatures with.
        clock: The exchange's clock before skew (the system clock by default).
        seed: Seed of the market's random walks.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str = DEFAULT_API_KEY,
        api_secret: str = DEFAULT_API_SECRET,
        clock: Clock | None = None,
        seed: int = 0,
    ) -> None:
        self.api_key = api_key
        self.api_secret = api_secret
        self.state = SimulatorState(clock or SystemClock(), seed=seed)
        self._router = _Router(self.state, api_key, api_secret)
        self._address = (host, port)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> str:
        """Start serving in a background thread and return the base URL."""
        if self._server is None:
            self._server = _Server(self._address, self._router)
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="exchange-simulator",
                daemon=True,
            )
            self._thread.start()
            _log.info("exchange_simulator_started", base_url=self.base_url)
        return self.base_url

    def stop(self) -> None:
        """Stop serving and close the socket."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        server.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._thread = None

    def __enter__(self) -> ExchangeSimulator:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the running server."""
        if self._server is None:
            raise RuntimeError("the exchange simulator is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # --- python control API ----------------------------------------------------------------

    @property
    def faults(self) -> SimulatorFaults:
        """The faults in force."""
        return self.state.faults

    def set_faults(self, faults: SimulatorFaults | None = None, **values: Any) -> SimulatorFaults:
        """Replace every fault: pass a ``SimulatorFaults`` or the JSON keys as keywords."""
        if faults is None:
            normalised = {k: (str(v) if isinstance(v, Decimal) else v) for k, v in values.items()}
            faults = SimulatorFaults.from_json(normalised)
        self.state.set_faults(faults)
        return faults

    def clear_faults(self) -> None:
        """Remove every fault."""
        self.state.set_faults(SimulatorFaults())

    def accepted_orders(self) -> list[AcceptedOrder]:
        """Return every order accepted so far, oldest first."""
        return self.state.accepted_orders()

    def set_price(self, symbol: str, price: Decimal) -> None:
        """Move ``symbol``'s market price (the walk continues from there)."""
        self.state.market.set_price(symbol, price)


__all__ = ["DEFAULT_API_KEY", "DEFAULT_API_SECRET", "ExchangeSimulator"]
