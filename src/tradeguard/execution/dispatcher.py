"""``SignalDispatcher``: the integration point of existing bots (SPEC §5).

Existing handlers keep receiving every signal with their old signature, accepted or not, after
the gate answered; a handler that raises is isolated and logged with ``HANDLER_FAILED`` and
never changes a decision. Import it from :mod:`tradeguard.gate` (or from here).

When placing an order is an in-process call (the paper exchange, see
``Gate.batches_orders``), the signals that producer threads dispatch at the same time are
decided together by ``Gate.submit_many`` (:class:`~.combining.Combiner`): two durable writes
per batch instead of two per signal, each signal still answered exactly as ``Gate.submit``
would. With a remote exchange every signal goes through ``Gate.submit`` on its caller's thread,
so the orders of concurrent signals go out concurrently.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from ..codes import ErrorCode
from ..logging import get_logger
from ..signals import Signal, parse_signal
from .combining import Combiner
from .results import SignalResult

_log = get_logger("tradeguard.gate")

Handler = Callable[[Signal], object]

BATCH_LANES = 2
"""Batches in flight at once when signals are combined (one prepares while one commits)."""
MAX_BATCH = 32
"""Most signals in one combined batch."""


class SignalGate(Protocol):
    """What the dispatcher needs from the gate (``tradeguard.gate.Gate`` is one).

    Defined here, on the side that needs it, so the gate can import the dispatcher without
    the dispatcher importing the gate back.
    """

    @property
    def batches_orders(self) -> bool:
        """True when concurrent signals are best decided together by ``submit_many``."""
        ...

    def submit(self, signal: Signal | Mapping[str, Any]) -> SignalResult:
        """Decide one signal."""
        ...

    def submit_many(
        self, signals: Sequence[Signal | Mapping[str, Any]]
    ) -> list[SignalResult | Exception]:
        """Decide several signals together."""
        ...


class SignalDispatcher:
    """The integration point of existing bots: the gate decides, handlers are told.

    Every registered handler is called with the ``Signal`` for every valid signal, accepted
    or not, after the gate answered; a handler that raises is isolated and logged with
    ``HANDLER_FAILED`` and never changes the decision.
    """

    def __init__(self, gate: SignalGate, *, combine: bool | None = None) -> None:
        """Wrap ``gate``; ``combine`` forces batching on or off (default: its batches_orders)."""
        self._gate = gate
        self._handlers: list[Handler] = []
        self._lock = threading.Lock()
        self._combiner: Combiner[Signal, SignalResult] | None = None
        if gate.batches_orders if combine is None else combine:
            self._combiner = Combiner(
                gate.submit_many, lanes=BATCH_LANES, max_batch=MAX_BATCH, name="tradeguard-dispatch"
            )

    def register_handler(self, fn: Handler) -> Handler:
        """Register ``fn(signal)``; return it (so this also works as a decorator)."""
        with self._lock:
            self._handlers.append(fn)
        return fn

    def dispatch(self, signal: Signal | Mapping[str, Any]) -> SignalResult:
        """Submit ``signal`` to the gate, then tell every handler; return the gate's result."""
        parsed = parse_signal(signal)
        try:
            if self._combiner is not None:
                return self._combiner.submit(parsed)
            return self._gate.submit(parsed)
        finally:
            self._notify(parsed)

    def _notify(self, signal: Signal) -> None:
        with self._lock:
            handlers = list(self._handlers)
        for handler in handlers:
            try:
                handler(signal)
            except Exception as exc:  # isolated: a handler never changes a decision
                _log.error(
                    "handler_failed",
                    code=ErrorCode.HANDLER_FAILED.value,
                    handler=getattr(handler, "__qualname__", repr(handler)),
                    signal_id=signal.signal_id,
                    error=f"{type(exc).__name__}: {exc}",
                )


__all__ = ["Handler", "SignalDispatcher", "SignalGate"]
