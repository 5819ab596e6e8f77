"""Gate 1: the kill switch."""

from __future__ import annotations

from ...codes import PolicyReasonCode
from ..domain import Decision


def check_kill_switch(kill_switch_active: object) -> tuple[Decision, PolicyReasonCode] | None:
    """Fail with HALT while the kill switch is active (anything but ``False`` counts)."""
    if kill_switch_active is False:
        return None
    return Decision.HALT, PolicyReasonCode.HALT_KILL_SWITCH
