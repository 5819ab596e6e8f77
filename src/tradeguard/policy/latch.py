"""The HALT latch: an explicit transition table, its state and an in-memory store.

```
state          HALT     FAIL (non-HALT)   PASS                 WINDOW_ELAPSED   RESET
UNLATCHED      LATCHED  UNLATCHED         UNLATCHED            -                UNLATCHED
LATCHED        LATCHED  LATCHED           REVALIDATING         -                UNLATCHED
REVALIDATING   LATCHED  LATCHED           REVALIDATING         UNLATCHED        UNLATCHED
```

HALT has exactly two exits: an operator RESET, or a full re-validation window of
all-pass evaluations (WINDOW_ELAPSED). A failing evaluation during the window sends the
latch back to LATCHED, which restarts the window at the next all-pass evaluation.

Only LATCHED and UNLATCHED are persisted. REVALIDATING is a duration the evaluating process
observes on its monotonic clock; after a restart the window starts again, which can only keep
a latch longer, never shorter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from ..codes import PolicyReasonCode
from .domain import GateName


class LatchPhase(StrEnum):
    """Where the latch is."""

    UNLATCHED = "UNLATCHED"
    LATCHED = "LATCHED"
    REVALIDATING = "REVALIDATING"


class LatchEvent(StrEnum):
    """What an evaluation or operator did to the latch."""

    HALT = "HALT"
    FAIL = "FAIL"
    PASS = "PASS"
    WINDOW_ELAPSED = "WINDOW_ELAPSED"
    RESET = "RESET"


TRANSITIONS: Final[dict[tuple[LatchPhase, LatchEvent], LatchPhase]] = {
    (LatchPhase.UNLATCHED, LatchEvent.HALT): LatchPhase.LATCHED,
    (LatchPhase.UNLATCHED, LatchEvent.FAIL): LatchPhase.UNLATCHED,
    (LatchPhase.UNLATCHED, LatchEvent.PASS): LatchPhase.UNLATCHED,
    (LatchPhase.UNLATCHED, LatchEvent.RESET): LatchPhase.UNLATCHED,
    (LatchPhase.LATCHED, LatchEvent.HALT): LatchPhase.LATCHED,
    (LatchPhase.LATCHED, LatchEvent.FAIL): LatchPhase.LATCHED,
    (LatchPhase.LATCHED, LatchEvent.PASS): LatchPhase.REVALIDATING,
    (LatchPhase.LATCHED, LatchEvent.RESET): LatchPhase.UNLATCHED,
    (LatchPhase.REVALIDATING, LatchEvent.HALT): LatchPhase.LATCHED,
    (LatchPhase.REVALIDATING, LatchEvent.FAIL): LatchPhase.LATCHED,
    (LatchPhase.REVALIDATING, LatchEvent.PASS): LatchPhase.REVALIDATING,
    (LatchPhase.REVALIDATING, LatchEvent.WINDOW_ELAPSED): LatchPhase.UNLATCHED,
    (LatchPhase.REVALIDATING, LatchEvent.RESET): LatchPhase.UNLATCHED,
}


def transition(phase: LatchPhase, event: LatchEvent) -> LatchPhase:
    """Return the next phase; a pair missing from the table keeps the latch held."""
    return TRANSITIONS.get((phase, event), LatchPhase.LATCHED)


_set = object.__setattr__


@dataclass(frozen=True, slots=True, init=False)
class LatchState:
    """The persisted latch: which gate set it, why and when."""

    phase: LatchPhase
    gate: GateName | None
    reason_code: PolicyReasonCode | None
    latched_at: datetime | None

    # Hand-written: the latch changes on the evaluation hot path while trading is halted, and
    # the generated frozen __init__ costs about twice as much.
    def __init__(
        self,
        phase: LatchPhase = LatchPhase.UNLATCHED,
        gate: GateName | None = None,
        reason_code: PolicyReasonCode | None = None,
        latched_at: datetime | None = None,
    ) -> None:
        _set(self, "phase", phase)
        _set(self, "gate", gate)
        _set(self, "reason_code", reason_code)
        _set(self, "latched_at", latched_at)

    @property
    def is_latched(self) -> bool:
        """True while the latch holds."""
        return self.phase is not LatchPhase.UNLATCHED

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (timestamps as ISO strings)."""
        return {
            "phase": self.phase.value,
            "gate": None if self.gate is None else self.gate.value,
            "reason_code": None if self.reason_code is None else self.reason_code.value,
            "latched_at": None if self.latched_at is None else self.latched_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LatchState:
        """Rebuild a state written by :meth:`to_dict`; a malformed dict raises."""
        latched_at = data.get("latched_at")
        gate = data.get("gate")
        reason = data.get("reason_code")
        state = cls(
            phase=LatchPhase(data["phase"]),
            gate=None if gate is None else GateName(gate),
            reason_code=None if reason is None else PolicyReasonCode(reason),
            latched_at=None if latched_at is None else datetime.fromisoformat(latched_at),
        )
        if state.is_latched and state.gate is None:
            raise ValueError("a held latch must name its gate")
        return state


UNLATCHED: Final = LatchState()


class InMemoryLatchStore:
    """A latch store that lives as long as the process; for tests and the library default."""

    __slots__ = ("_state",)

    def __init__(self, state: LatchState = UNLATCHED) -> None:
        self._state = state

    def load(self) -> LatchState:
        """Return the current state."""
        return self._state

    def save(self, state: LatchState) -> None:
        """Keep ``state``."""
        self._state = state
