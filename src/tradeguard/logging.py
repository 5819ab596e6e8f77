"""structlog set-up: one JSON object per line on stdout, snake_case events, ``code`` fields.

Only entry points call :func:`configure_logging`; library modules just ``get_logger``.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog


def configure_logging(
    level: str = "INFO", stream: TextIO | None = None, *, cache: bool = False
) -> None:
    """Send structlog events as JSON lines to ``stream`` (stdout by default).

    ``cache=True`` (the service) binds each module's logger once, on first use, instead of on
    every call; a later ``configure_logging`` then no longer reaches loggers already used, so
    only a process that configures logging once (an entry point) should ask for it.
    """
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(default=str),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stdout),
        cache_logger_on_first_use=cache,
    )


def get_logger(name: str | None = None, **context: Any) -> Any:
    """Return a structlog logger bound with ``context``."""
    logger = structlog.get_logger(name)
    return logger.bind(**context) if context else logger
