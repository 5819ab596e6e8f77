"""The base of tradeguard's loopback test servers (exchange simulator, SSE feed)."""

from __future__ import annotations

import sys
from http.server import ThreadingHTTPServer
from typing import Any

_PEER_GONE = (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)


class LoopbackHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that stays quiet when a client hangs up mid-request.

    Clients that time out, drop a stream or are closed at teardown are expected here; any other
    error in a handler is still printed by the standard library.
    """

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore a peer that went away; report anything else as usual."""
        if isinstance(sys.exc_info()[1], _PEER_GONE):
            return
        super().handle_error(request, client_address)
