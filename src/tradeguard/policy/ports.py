"""Ports the policy core needs; adapters outside the core implement them."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from .latch import LatchState


class Clock(Protocol):
    """Where time comes from: wall-clock UTC for records, monotonic for durations."""

    def now(self) -> datetime:
        """Return the current time as an aware UTC datetime."""
        ...

    def monotonic(self) -> float:
        """Return a monotonic reading in seconds."""
        ...


class LatchStore(Protocol):
    """Keeps the HALT latch so that a restart never clears it.

    ``load`` may raise; the policy then treats the latch as held (fail closed).
    """

    def load(self) -> LatchState:
        """Return the current latch state."""
        ...

    def save(self, state: LatchState) -> None:
        """Persist ``state`` durably before returning."""
        ...
