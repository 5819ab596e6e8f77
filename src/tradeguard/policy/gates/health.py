"""Gate 3: system health."""

from __future__ import annotations

from ...codes import PolicyReasonCode
from ..domain import Decision, HealthStatus


def check_health(health_status: object) -> tuple[Decision, PolicyReasonCode] | None:
    """Fail with NEUTRAL unless health is GREEN; anything but YELLOW counts as RED."""
    if health_status == HealthStatus.GREEN:
        return None
    if health_status == HealthStatus.YELLOW:
        return Decision.NEUTRAL, PolicyReasonCode.NEUTRAL_HEALTH_YELLOW
    return Decision.NEUTRAL, PolicyReasonCode.NEUTRAL_HEALTH_RED
