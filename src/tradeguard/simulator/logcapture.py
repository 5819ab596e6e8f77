"""Capture every structlog line of a scenario, stamped with ``scenario_id`` and ``outcome``.

The pipeline logs from many threads (gate, background work, feed), and threads do not inherit
context variables, so the scenario id is added by a processor installed for the scenario's
duration rather than bound per thread. The outcome is only known at the end: every captured
line carries ``outcome="RUNNING"`` until :meth:`ScenarioLogCapture.finish` stamps the final
one (PASS, FAIL or ABORTED) on all of them.
"""

from __future__ import annotations

import threading
from collections.abc import MutableMapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import structlog

RUNNING = "RUNNING"
MAX_LINES = 20000


class ScenarioLogCapture:
    """Install a capturing structlog configuration; restore the previous one on exit.

    Args:
        scenario_id: Stamped on every captured line.
        max_lines: Lines kept at most (the rest are counted in ``dropped``).
    """

    def __init__(self, scenario_id: str, max_lines: int = MAX_LINES) -> None:
        self.scenario_id = scenario_id
        self._max_lines = max_lines
        self._lines: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._saved: dict[str, Any] | None = None
        self.dropped = 0

    def _capture(self, _logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> Any:
        line = dict(event_dict)
        line.setdefault("level", method_name)
        line.setdefault("timestamp", datetime.now(UTC).isoformat().replace("+00:00", "Z"))
        line["scenario_id"] = self.scenario_id
        line["outcome"] = RUNNING
        with self._lock:
            if len(self._lines) < self._max_lines:
                self._lines.append(line)
            else:
                self.dropped += 1
        raise structlog.DropEvent

    def __enter__(self) -> ScenarioLogCapture:
        self._saved = structlog.get_config()
        structlog.configure(
            processors=[
                structlog.contextvars.merge_contextvars,
                structlog.processors.format_exc_info,
                self._capture,
            ]
        )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._saved is not None:
            structlog.configure(processors=self._saved["processors"])

    def lines(self) -> list[dict[str, Any]]:
        """Return a snapshot of the lines captured so far."""
        with self._lock:
            return list(self._lines)

    def finish(self, outcome: str) -> tuple[dict[str, Any], ...]:
        """Stamp ``outcome`` on every captured line and return them all."""
        with self._lock:
            for line in self._lines:
                line["outcome"] = outcome
            return tuple(self._lines)


__all__ = ["MAX_LINES", "RUNNING", "ScenarioLogCapture"]
