"""BudgetGuard reading its report over HTTP from a real loopback server."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.unit.sources.fakes import dumps, fake_clock, valid_report
from tradeguard.codes import ErrorCode
from tradeguard.policy import BudgetSignal
from tradeguard.sources import BudgetGuard


class ReportServer:
    """Serves ``body`` with ``status`` at any path; ``delay_s`` before answering."""

    def __init__(self) -> None:
        self.status = 200
        self.body = dumps(valid_report()).encode()
        self.delay_s = 0.0
        self.requests = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests += 1
                if owner.delay_s:
                    time.sleep(owner.delay_s)
                self.send_response(owner.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(owner.body)))
                self.end_headers()
                self.wfile.write(owner.body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/budget.json"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server() -> Iterator[ReportServer]:
    report_server = ReportServer()
    yield report_server
    report_server.close()


def test_budget_over_http_valid_report_allows(server: ReportServer) -> None:
    guard = BudgetGuard(server.url, fake_clock(), 86400, 2.0)
    assert guard.refresh().signal is BudgetSignal.ALLOW
    assert guard.current().signal is BudgetSignal.ALLOW
    assert server.requests == 1
    guard.close()


@pytest.mark.parametrize("status", [404, 500, 503])
def test_budget_over_http_error_status_is_unavailable_hard_stop(
    server: ReportServer, status: int
) -> None:
    server.status = status
    evaluation = BudgetGuard(server.url, fake_clock(), 86400, 2.0).refresh()
    assert (evaluation.signal, evaluation.code) == (
        BudgetSignal.HARD_STOP,
        ErrorCode.BUDGET_REPORT_UNAVAILABLE,
    )
    assert str(status) in evaluation.detail


def test_budget_over_http_garbage_body_is_corrupt(server: ReportServer) -> None:
    server.body = b'{"generated_at": "2026-03-01T11:00:00Z", "monthly_budget": 1e'
    evaluation = BudgetGuard(server.url, fake_clock(), 86400, 2.0).refresh()
    assert evaluation.code == ErrorCode.BUDGET_DATA_CORRUPT


def test_budget_over_http_slow_server_times_out_as_unavailable(server: ReportServer) -> None:
    server.delay_s = 1.0
    started = time.monotonic()
    evaluation = BudgetGuard(server.url, fake_clock(), 86400, 0.2).refresh()
    assert evaluation.code == ErrorCode.BUDGET_REPORT_UNAVAILABLE
    assert time.monotonic() - started < 0.9


def test_budget_over_http_refused_connection_is_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    evaluation = BudgetGuard(f"http://127.0.0.1:{port}/b.json", fake_clock(), 86400, 1.0).refresh()
    assert (evaluation.signal, evaluation.code) == (
        BudgetSignal.HARD_STOP,
        ErrorCode.BUDGET_REPORT_UNAVAILABLE,
    )
