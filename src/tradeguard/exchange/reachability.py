"""Is the exchange there? Every call the service makes answers it, not only a periodic probe.

:class:`ExchangeReachability` is told when each exchange call starts and how it ended
(:class:`~.monitored.MonitoredExchange` does this for every call: orders, tickers, balances,
time sync and the liveness probe):

- a call that fails (network error, timeout, 5xx, garbage, anything but a refusal) marks the
  exchange **unreachable at once**;
- a call still in flight ``call_timeout_s`` after it started marks it unreachable at that
  moment (a deadline timer fires; nobody has to poll), so a hanging exchange is detected as
  fast as a dead one; its late answer does not count as an answer;
- only a liveness probe answered within the timeout makes it reachable again; the HEALTH
  gate's existing rules then apply (NEUTRAL never latches, so the next evaluation is ALLOW).

Listeners are called with the new state on every change, on the thread that saw it; the
composition root uses them to drop the policy builder's cached health answer and to wake the
heartbeat, so the state the gate decides on changes at the moment the failure is known.

:class:`ExchangeProber` is the cheap liveness probe (the exchange's server time): every
``interval_s`` while the exchange is reachable, with exponential backoff up to
``backoff_max_s`` while it is not, so a dead exchange is not hammered.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..codes import ErrorCode
from ..logging import get_logger
from ..policy import Clock, format_utc
from ..timers import DeadlineTimer

_log = get_logger(__name__)

Listener = Callable[[bool], object]


@dataclass
class _Call:
    method: str
    probe: bool
    started: float
    timer: int | None
    overdue: bool = False


@dataclass(frozen=True, slots=True)
class ReachabilitySnapshot:
    """The reachability state at one moment (for the health check and ``status``)."""

    reachable: bool
    since_utc: datetime | None
    code: str
    detail: str
    in_flight: int
    overdue: int
    consecutive_probe_failures: int

    def to_dict(self) -> dict[str, Any]:
        """Return the snapshot as JSON-ready values."""
        return {
            "reachable": self.reachable,
            "since": None if self.since_utc is None else format_utc(self.since_utc),
            "code": self.code,
            "detail": self.detail,
            "in_flight": self.in_flight,
            "overdue": self.overdue,
            "consecutive_probe_failures": self.consecutive_probe_failures,
        }


class ExchangeReachability:
    """Track whether the exchange answers, from every call's start and outcome; thread-safe.

    Args:
        clock: Stamps the moment the state changes (``since``).
        call_timeout_s: A call in flight longer than this marks the exchange unreachable
            (None: calls are never timed, only their failures count).
        timer: The deadline timer for in-flight calls (one is made when omitted).
    """

    def __init__(
        self,
        clock: Clock,
        *,
        call_timeout_s: float | None = None,
        timer: DeadlineTimer | None = None,
    ) -> None:
        self._clock = clock
        self.call_timeout_s = call_timeout_s
        if timer is None and call_timeout_s is not None:
            timer = DeadlineTimer("exchange-calls")
        self._timer = timer
        self._lock = threading.Lock()
        self._calls: dict[int, _Call] = {}
        self._next_call = 0
        self._reachable = True
        self._since: datetime | None = None
        self._changed_monotonic = -math.inf
        self._code = ErrorCode.CHECK_OK.value
        self._detail = ""
        self._probe_failures = 0
        self._listeners: list[Listener] = []

    # -- what the health check and status read ------------------------------------------

    @property
    def reachable(self) -> bool:
        """False from a failed or overdue call until a probe answers in time."""
        with self._lock:
            return self._reachable

    @property
    def consecutive_probe_failures(self) -> int:
        """Probes that failed or answered late since the last timely answer."""
        with self._lock:
            return self._probe_failures

    def snapshot(self) -> ReachabilitySnapshot:
        """Return the state now."""
        with self._lock:
            return ReachabilitySnapshot(
                self._reachable,
                self._since,
                self._code,
                self._detail,
                len(self._calls),
                sum(1 for call in self._calls.values() if call.overdue),
                self._probe_failures,
            )

    def describe(self) -> str:
        """Return since when and why the state is what it is, in words."""
        snapshot = self.snapshot()
        since = snapshot.to_dict()["since"] or "start"
        state = "reachable" if snapshot.reachable else "unreachable"
        return f"{state} since {since}: {snapshot.detail}".rstrip(": ")

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(reachable)`` on every change of state."""
        with self._lock:
            self._listeners.append(listener)

    # -- what the monitored exchange reports --------------------------------------------

    def begin(self, method: str, *, probe: bool = False) -> int:
        """Record that a call starts; return its token for :meth:`answered` / :meth:`failed`."""
        with self._lock:
            self._next_call += 1
            token = self._next_call
            self._calls[token] = _Call(method, probe, self._clock.monotonic(), None)
        if self._timer is not None and self.call_timeout_s is not None:
            timer = self._timer.schedule(self.call_timeout_s, lambda: self._overdue(token))
            with self._lock:
                call = self._calls.get(token)
                if call is not None:
                    call.timer = timer
        return token

    def answered(self, token: int) -> None:
        """The call returned or was refused by the exchange: the exchange is there."""
        call = self._finish(token)
        if call is None:
            return
        late = call.overdue or self._is_late(call)
        if late:
            self._down(
                ErrorCode.EXCHANGE_UNREACHABLE.value,
                f"{call.method} answered after more than {self.call_timeout_s} s",
                probe=call.probe,
            )
        elif call.probe:
            self._up("probe answered")

    def failed(self, token: int, error: BaseException) -> None:
        """The call failed without an answer from the exchange: unreachable now."""
        call = self._finish(token)
        method = "call" if call is None else call.method
        code = str(getattr(error, "code", ErrorCode.EXCHANGE_UNREACHABLE.value))
        self._down(code, f"{method} failed: {error}", probe=call is not None and call.probe)

    def adopt(self, reachable: bool, age_s: float, detail: str = "") -> None:
        """Take the state another process saw ``age_s`` seconds ago (a follower, the leader's).

        A change this process saw itself after that moment (its own failed call) wins: an
        older word from elsewhere never makes the exchange reachable again.
        """
        observed = self._clock.monotonic() - max(0.0, age_s)
        with self._lock:
            if observed < self._changed_monotonic or reachable is self._reachable:
                return
        if reachable:
            self._up(f"the leader's probe answered: {detail}".rstrip(": "))
        else:
            self._down(
                ErrorCode.EXCHANGE_UNREACHABLE.value,
                f"the leader saw it unreachable: {detail}",
                probe=False,
            )

    def close(self) -> None:
        """Stop the deadline timer."""
        if self._timer is not None:
            self._timer.close()

    # -- internals ------------------------------------------------------------------------

    def _is_late(self, call: _Call) -> bool:
        timeout = self.call_timeout_s
        return timeout is not None and self._clock.monotonic() - call.started > timeout

    def _finish(self, token: int) -> _Call | None:
        with self._lock:
            call = self._calls.pop(token, None)
        if call is not None and call.timer is not None and self._timer is not None:
            self._timer.cancel(call.timer)
        return call

    def _overdue(self, token: int) -> None:
        with self._lock:
            call = self._calls.get(token)
            if call is None:
                return
            call.overdue = True
        self._down(
            ErrorCode.EXCHANGE_UNREACHABLE.value,
            f"{call.method} in flight for more than {self.call_timeout_s} s",
            probe=False,
        )

    def _down(self, code: str, detail: str, *, probe: bool) -> None:
        with self._lock:
            if probe:
                self._probe_failures += 1
            changed = self._reachable
            if changed:
                self._reachable = False
                self._since = self._clock.now()
                self._changed_monotonic = self._clock.monotonic()
                self._code, self._detail = code, detail
            listeners = tuple(self._listeners) if changed else ()
        if changed:
            _log.warning("exchange_unreachable", code=ErrorCode.EXCHANGE_UNREACHABLE, detail=detail)
        self._notify(listeners, False)

    def _up(self, detail: str) -> None:
        with self._lock:
            self._probe_failures = 0
            changed = not self._reachable
            if changed:
                self._reachable = True
                self._since = self._clock.now()
                self._changed_monotonic = self._clock.monotonic()
                self._code, self._detail = ErrorCode.CHECK_OK.value, detail
            listeners = tuple(self._listeners) if changed else ()
        if changed:
            _log.info("exchange_reachable_again", code=ErrorCode.CHECK_OK)
        self._notify(listeners, True)

    @staticmethod
    def _notify(listeners: tuple[Listener, ...], reachable: bool) -> None:
        for listener in listeners:
            try:
                listener(reachable)
            except Exception as exc:  # a listener must not hide the change from the others
                _log.error("reachability_listener_failed", error=repr(exc))


class ExchangeProber:
    """Probe the exchange on a thread: every ``interval_s`` while reachable, backing off while not.

    Args:
        probe: One cheap call through the monitored exchange (its outcome is recorded there).
        reachability: Read after each probe to choose the next delay.
        interval_s: Delay between probes while the exchange is reachable.
        backoff_max_s: Largest delay while it is not (doubling from ``interval_s``).
    """

    def __init__(
        self,
        probe: Callable[[], object],
        reachability: ExchangeReachability,
        *,
        interval_s: float,
        backoff_max_s: float,
    ) -> None:
        self._probe = probe
        self._reachability = reachability
        self.interval_s = interval_s
        self.backoff_max_s = max(backoff_max_s, interval_s)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.probes = 0

    def next_delay(self) -> float:
        """The wait before the next probe: the interval, doubled per failed probe while down."""
        if self._reachability.reachable:
            return self.interval_s
        failures = min(self._reachability.consecutive_probe_failures, 30)
        return float(min(self.backoff_max_s, self.interval_s * 2.0**failures))

    def probe_once(self) -> None:
        """Make one probe (its failure is recorded by the monitored exchange, not raised)."""
        self.probes += 1
        try:
            self._probe()
        except Exception as exc:  # recorded as unreachable by the monitored exchange
            _log.debug("exchange_probe_failed", error=repr(exc))

    def start(self) -> None:
        """Start probing on a daemon thread (once)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="exchange-probe", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop probing (a probe in flight finishes on its own)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.probe_once()
            self._stop.wait(self.next_delay())


__all__ = ["ExchangeProber", "ExchangeReachability", "ReachabilitySnapshot"]
