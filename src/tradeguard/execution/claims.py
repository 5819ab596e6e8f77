"""One submission per ``signal_id`` at a time in this process.

The gate claims a signal's ``signal_id`` before it checks the audit trail for a first record
and releases it once the decision is recorded (and the order placed), so a repeat that
arrives meanwhile waits and is then answered from the trail instead of being decided twice.
"""

from __future__ import annotations

import threading


class SignalClaims:
    """The ``signal_id`` s being decided right now, each held by the submission deciding it.

    A claim is a lock held by the running submission (cheaper than an Event per signal);
    ``dict.setdefault`` makes taking it atomic under the GIL.
    """

    __slots__ = ("_inflight",)

    def __init__(self) -> None:
        self._inflight: dict[str, threading.Lock] = {}

    def try_claim(self, signal_id: str) -> bool:
        """Claim ``signal_id`` without waiting: False when another submission holds it."""
        mine = threading.Lock()
        mine.acquire()
        return self._inflight.setdefault(signal_id, mine) is mine

    def claim(self, signal_id: str) -> None:
        """Claim ``signal_id``, waiting for a running submission of it to finish first."""
        mine = threading.Lock()
        mine.acquire()
        while True:
            running = self._inflight.setdefault(signal_id, mine)  # atomic under the GIL
            if running is mine:
                return
            running.acquire()  # wait for the running submission to finish
            running.release()

    def release(self, signal_id: str) -> None:
        """Release the claim of ``signal_id`` (nothing when it is not held)."""
        held = self._inflight.pop(signal_id, None)
        if held is not None:
            held.release()


__all__ = ["SignalClaims"]
