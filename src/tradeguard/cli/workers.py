"""``tradeguard run --workers N``: N worker processes behind one port, on PostgreSQL only.

The parent binds the socket and starts N workers (uvicorn's supervisor, which also replaces
a worker that dies); each worker builds its own container from the environment through
:func:`worker_app`. They share what must be shared through PostgreSQL: the audit trail, the
kill switch and latch, the position book (:mod:`tradeguard.execution.shared_book`), and the
leader's observations (:mod:`tradeguard.leadership`: background work once per account).
SQLite (or memory) cannot share the account state between processes: more than one worker is
refused there with ``WORKERS_UNSUPPORTED`` (exit 2).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Protocol

from ..codes import ErrorCode
from ..errors import ConfigurationError
from ..leadership import account_key, shares_account_state, start_shared_background
from ..settings import ENV_PREFIX, Settings, load_settings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from ..bootstrap import Container

WORKER_APP = "tradeguard.cli.workers:worker_app"


class Stoppable(Protocol):
    """Background work that can be stopped."""

    def stop(self) -> None:
        """Stop it."""
        ...


def check_workers(settings: Settings, workers: int) -> None:
    """Refuse more than one worker where the account state cannot be shared.

    Raises:
        ConfigurationError: ``WORKERS_UNSUPPORTED`` (exit 2).
    """
    if workers > 1 and not shares_account_state(settings.database_url):
        raise ConfigurationError(
            ErrorCode.WORKERS_UNSUPPORTED,
            f"{workers} workers need a PostgreSQL database; "
            f"{settings.database_url.split(':', 1)[0]} serves one process",
            hint="run one worker, or set TRADEGUARD_DATABASE_URL=postgresql://...",
        )


class _Together:
    # Stops several background parts as one.
    def __init__(self, *parts: Stoppable | None) -> None:
        self._parts = [part for part in parts if part is not None]

    def stop(self) -> None:
        for part in self._parts:
            part.stop()


def start_service_background(container: Container) -> Stoppable:
    """Start the background: elected once per account on PostgreSQL, else in this process.

    On PostgreSQL every process also starts from the exchange's truth and reads the account
    itself (``start_account_watch``), leader or not, so each one's ``exchange_account`` check
    is current and a LIVE process whose account cannot be read does not start.
    """
    settings = container.settings
    if shares_account_state(settings.database_url):
        from ..background import start_account_watch

        watch = start_account_watch(container)
        account = account_key(settings.exchange, settings.execution_mode)
        return _Together(start_shared_background(container, settings.database_url, account), watch)
    from ..background import start_background

    return start_background(container)


def worker_app() -> FastAPI:
    """Build one worker's app from the environment (the factory uvicorn's workers call)."""
    from ..api import create_app
    from ..bootstrap import build_container
    from ..logging import configure_logging, get_logger

    settings = load_settings()
    configure_logging(settings.log_level, cache=True)
    container = build_container(settings)
    background = start_service_background(container)
    app = create_app(container)
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: Any) -> AsyncIterator[Any]:
        async with inner(application) as state:
            try:
                yield state
            finally:
                background.stop()
                container.close()

    app.router.lifespan_context = lifespan
    get_logger("tradeguard.run").info("worker_started", pid=os.getpid())
    return app


def run_workers(
    settings: Settings, host: str, port: int, generated: dict[str, str], banner: Any
) -> None:
    """Bind ``host:port``, call ``banner(port bound)``, run the workers until stopped."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from ..logging import get_logger

    for key, value in generated.items():  # the workers read the same settings
        os.environ[f"{ENV_PREFIX}{key.upper()}"] = value
    os.environ[f"{ENV_PREFIX}WORKERS"] = str(settings.workers)
    config = uvicorn.Config(
        WORKER_APP,
        factory=True,
        host=host,
        port=port,
        workers=settings.workers,
        log_config=None,
        access_log=False,
    )
    sock = config.bind_socket()
    bound = int(sock.getsockname()[1])
    banner(bound)
    get_logger("tradeguard.run").info(
        "workers_started", host=host, port=bound, workers=settings.workers
    )
    Multiprocess(config, sockets=[sock]).run()


__all__ = ["WORKER_APP", "check_workers", "run_workers", "start_service_background", "worker_app"]
