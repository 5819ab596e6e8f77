"""A background thread that calls one action every interval (budget refresh, clock sync)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from ..logging import get_logger

_log = get_logger(__name__)


class PeriodicTask:
    """Call ``action`` now and then every ``interval_s`` seconds until stopped.

    A failing action is logged with ``code`` and the loop goes on; the action's own answer is
    ignored (sources keep their state themselves). :meth:`wake` runs the action at once
    instead of at the end of the interval (the heartbeat, when a health condition changed).
    """

    def __init__(
        self, name: str, interval_s: float, action: Callable[[], object], *, code: str = ""
    ) -> None:
        self.name = name
        self._interval_s = interval_s
        self._action = action
        self._code = code
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the background thread (once)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._loop, name=f"periodic-{self.name}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Ask the loop to end and wait up to ``timeout_s`` for it."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def wake(self) -> None:
        """Run the action now (on the task's thread) instead of at the end of the interval."""
        self._wake.set()

    def run_once(self) -> None:
        """Call the action once, logging its failure."""
        try:
            self._action()
        except Exception as exc:  # the loop must survive; the source reports its own state
            _log.error("periodic_task_failed", task=self.name, code=self._code, error=repr(exc))

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            self.run_once()
            self._wake.wait(self._interval_s)


__all__ = ["PeriodicTask"]
