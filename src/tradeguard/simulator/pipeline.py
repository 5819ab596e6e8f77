"""A fresh, real tradeguard pipeline for one scenario, wired to loopback fakes only.

The pipeline is built by the service's own composition root (``bootstrap.build_container``)
and its own background work (``background.start_background``) from ``Settings`` that point
at:

- a temporary SQLite database (real file, WAL, durable);
- exchange ``valr`` whose base URL is an in-process :class:`ExchangeSimulator` on 127.0.0.1
  with its test credentials;
- an event feed on an in-process :class:`LoopbackSSEServer` on 127.0.0.1 (heartbeats only, so
  market data freshness comes from the exchange's tickers alone);
- a real budget report file in the temporary directory;
- short intervals (heartbeat, time sync, budget refresh 0.1 s; small latch window) so the
  whole suite runs in well under a minute.

**Why LIVE mode.** ``EXECUTION_MODE=DRY_RUN`` routes every order to the paper exchange and
never to the simulator, so the scenarios could not count orders at the exchange. The pipeline
therefore runs with ``execution_mode=LIVE`` and a random operator token, and it refuses to
start (FSS-001) unless every URL it was given is loopback: nothing can leave the machine, and
the credentials are the simulator's fake test credentials.

The settings are built from explicit values only: ``TRADEGUARD_*`` environment variables of
the calling shell are ignored, so a scenario never inherits a real exchange URL or key.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from ..background import Background, start_background, stop_background
from ..bootstrap import Container, build_container
from ..clock import SystemClock
from ..errors import TradeGuardError
from ..exchange.simulator import DEFAULT_API_KEY, DEFAULT_API_SECRET, ExchangeSimulator
from ..feeds.sse_server import LoopbackSSEServer
from ..logging import get_logger
from ..policy import Clock
from ..settings import ExecutionMode, Settings
from .results import ScenarioAbortedError

_log = get_logger("tradeguard.simulator.pipeline")

SYMBOL = "BTCUSDT"
CORRUPTION_MODES = ("garbage", "truncated", "wrong_types", "negative")


class ScenarioSettings(Settings):
    """``Settings`` built from explicit values only (no environment, no config file)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Read the values passed to the constructor and nothing else."""
        return (init_settings,)


@dataclass(frozen=True, slots=True)
class PipelineTimings:
    """The short intervals a scenario pipeline runs with.

    The ticker poll interval is derived by the service from ``max_market_data_age_seconds``
    (a third of it, at least 0.2 s); ``exchange_timeout_seconds`` must comfortably exceed the
    interval between successful exchange calls (time sync every ``sync_interval_seconds``),
    and the budget snapshot is trusted for three refresh intervals, so neither flickers when
    two pipelines share a busy machine. For the same reason a policy source may take
    ``source_timeout_ms`` (1 s, not the service's 250 ms) before it counts as failed: a source
    thread not scheduled in time on a loaded machine fails the gate closed (HALT, latched),
    which is no scenario's fault and would hide the state the scenario is about.
    """

    heartbeat_seconds: float = 0.1
    sync_interval_seconds: float = 0.2
    budget_refresh_seconds: float = 0.25
    max_market_data_age_seconds: float = 3.0
    exchange_timeout_seconds: float = 1.0
    exchange_request_timeout_seconds: float = 0.5
    latch_reset_window_seconds: float = 1.0
    feed_backoff_initial_seconds: float = 0.02
    feed_backoff_max_seconds: float = 0.1
    max_clock_drift_ms: int = 1000
    account_check_interval_seconds: float = 0.25
    source_timeout_ms: int = 1000


def require_loopback(url: str, what: str) -> None:
    """Raise FSS-001 unless ``url`` is an http(s) URL whose host is a loopback address."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if parts.scheme not in ("http", "https") or not loopback:
        raise ScenarioAbortedError(
            f"{what} {url!r} is not a loopback URL; scenarios only run against local fakes",
            hint="the failure simulator never talks to a real exchange or feed",
        )


def valid_budget_report(now: datetime) -> dict[str, Any]:
    """Return a healthy budget report generated a second before ``now``."""
    stamp = (now - timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    return {
        "generated_at": stamp,
        "currency": "USD",
        "monthly_budget": 1000,
        "month_to_date_spend": 100,
        "recommended_daily_spend": 50,
        "today_spend": 10,
        "risk_level": "OK",
    }


def corrupt_budget_report(mode: str, now: datetime) -> bytes:
    """Return the bytes of a budget report corrupted in ``mode`` (see ``CORRUPTION_MODES``)."""
    good = json.dumps(valid_budget_report(now)).encode()
    if mode == "garbage":
        return b"\x00\xff{{not json at all" + secrets.token_bytes(16)
    if mode == "truncated":
        return good[: len(good) // 2]
    if mode == "wrong_types":
        broken = valid_budget_report(now) | {"monthly_budget": "lots", "today_spend": [10]}
        return json.dumps(broken).encode()
    if mode == "negative":
        return json.dumps(valid_budget_report(now) | {"month_to_date_spend": -250}).encode()
    raise ValueError(f"unknown corruption mode {mode!r}; known: {', '.join(CORRUPTION_MODES)}")


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


class ScenarioPipeline:
    """Servers, files and a container for one scenario; a context manager.

    Args:
        timings: Short intervals for the background work.
        clock: Clock of the pipeline (the system clock: the exchange stamps real time too).
        container_hook: Called with the built container before its background work starts
            (tests use it to plant a fault in the pipeline).
    """

    def __init__(
        self,
        timings: PipelineTimings | None = None,
        *,
        clock: Clock | None = None,
        container_hook: Any = None,
    ) -> None:
        self.timings = timings or PipelineTimings()
        self.clock: Clock = clock or SystemClock()
        self._hook = container_hook
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        self.exchange_sim: ExchangeSimulator | None = None
        self.sse_server: LoopbackSSEServer | None = None
        self.container: Container | None = None
        self.background: Background | None = None
        self.budget_path: Path | None = None
        self.settings: Settings | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> ScenarioPipeline:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _start(self) -> None:
        self._tempdir = tempfile.TemporaryDirectory(prefix="tradeguard-scenario-")
        root = Path(self._tempdir.name)
        self.budget_path = root / "budget.json"
        self.write_budget(json.dumps(valid_budget_report(self.clock.now())).encode())
        try:
            self.exchange_sim = ExchangeSimulator(clock=self.clock)
            exchange_url = self.exchange_sim.start()
            self.sse_server = LoopbackSSEServer(heartbeat_seconds=0.1).start()
        except OSError as exc:
            raise ScenarioAbortedError(f"cannot start the loopback servers: {exc}") from exc
        require_loopback(exchange_url, "exchange base URL")
        require_loopback(self.sse_server.url, "event feed URL")
        self.settings = self._settings(root, exchange_url, self.sse_server.url)
        try:
            self.container = build_container(self.settings, self.clock)
            if self._hook is not None:
                self._hook(self.container)
            self.background = start_background(self.container)
        except TradeGuardError as exc:
            raise ScenarioAbortedError(f"cannot build the pipeline: {exc}") from exc

    def _settings(self, root: Path, exchange_url: str, feed_url: str) -> Settings:
        t = self.timings
        return ScenarioSettings(
            database_url=f"sqlite:///{root / 'audit.db'}",
            execution_mode=ExecutionMode.LIVE,
            exchange="valr",
            exchange_base_url=exchange_url,
            exchange_api_key=DEFAULT_API_KEY,
            exchange_api_secret=DEFAULT_API_SECRET,
            operator_token=secrets.token_urlsafe(24),
            policy_enabled=True,
            budget_report=str(self.budget_path),
            budget_refresh_seconds=t.budget_refresh_seconds,
            event_feed_url=feed_url,
            feed_backoff_initial_seconds=t.feed_backoff_initial_seconds,
            feed_backoff_max_seconds=t.feed_backoff_max_seconds,
            max_clock_drift_ms=t.max_clock_drift_ms,
            sync_interval_seconds=t.sync_interval_seconds,
            latch_reset_window_seconds=t.latch_reset_window_seconds,
            exchange_timeout_seconds=t.exchange_timeout_seconds,
            exchange_request_timeout_seconds=t.exchange_request_timeout_seconds,
            max_market_data_age_seconds=t.max_market_data_age_seconds,
            heartbeat_interval_seconds=t.heartbeat_seconds,
            account_check_interval_seconds=t.account_check_interval_seconds,
            source_timeout_ms=t.source_timeout_ms,
            symbols=(SYMBOL,),
            log_level="DEBUG",
            # The producer repeats the same small OPEN every few dozen milliseconds by design:
            # the duplicate rule and the rate limit would refuse it for reasons no scenario
            # is about (they have tests of their own).
            duplicate_order_window_seconds=0,
            max_orders_per_symbol=1000,
            max_orders_per_account=1000,
        )

    def close(self) -> None:
        """Stop the background work, the container and the servers; remove the files."""
        steps: tuple[tuple[str, Callable[[], None]], ...] = (
            ("background", self._stop_background),
            ("container", lambda: self.container.close() if self.container else None),
            ("sse_server", lambda: self.sse_server.stop() if self.sse_server else None),
            ("exchange_simulator", lambda: self.exchange_sim.stop() if self.exchange_sim else None),
            ("tempdir", lambda: self._tempdir.cleanup() if self._tempdir else None),
        )
        for name, step in steps:
            try:
                step()
            except Exception as exc:  # teardown is best effort; logged with its cause
                _log.warning("scenario_pipeline_close_failed", step=name, error=repr(exc))
        self.background = None
        self.container = None
        self.sse_server = None
        self.exchange_sim = None
        self._tempdir = None

    def _stop_background(self) -> None:
        if self.background is not None:
            stop_background(self.background)

    # -- access -----------------------------------------------------------------------------

    def require(self) -> Container:
        """Return the running container (FSS-001 when the pipeline is not running)."""
        if self.container is None:
            raise ScenarioAbortedError("the scenario pipeline is not running")
        return self.container

    @property
    def exchange_url(self) -> str:
        """Base URL of the exchange simulator."""
        if self.exchange_sim is None:
            raise ScenarioAbortedError("the exchange simulator is not running")
        return self.exchange_sim.base_url

    def write_budget(self, data: bytes, *, atomic: bool = True) -> None:
        """Replace the budget report file's content."""
        if self.budget_path is None:
            raise ScenarioAbortedError("the budget report file does not exist")
        try:
            if atomic:
                _write_atomically(self.budget_path, data)
            else:
                self.budget_path.write_bytes(data)
        except OSError as exc:
            raise ScenarioAbortedError(f"cannot write the budget report: {exc}") from exc

    def restore_budget(self) -> None:
        """Write a fresh, valid budget report."""
        self.write_budget(json.dumps(valid_budget_report(self.clock.now())).encode())

    def position(self) -> Decimal:
        """Return the position book's net position of the traded symbol."""
        positions = self.require().execution.positions
        return Decimal(positions.position(SYMBOL))


__all__ = [
    "CORRUPTION_MODES",
    "SYMBOL",
    "PipelineTimings",
    "ScenarioPipeline",
    "ScenarioSettings",
    "corrupt_budget_report",
    "require_loopback",
    "valid_budget_report",
]
