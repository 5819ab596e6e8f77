"""Alerts: tell operators within seconds, through apprise, without touching the signal path."""

from __future__ import annotations

from .apprise_target import AppriseTarget, apprise_targets, scheme_of, split_alert_urls
from .dispatcher import AlertConfig, AlertDispatcher, AlertTarget, render
from .events import (
    DriftAlerts,
    LatchAlerts,
    build_alert_dispatcher,
    halt_latched_alert,
    status_url,
)

__all__ = [
    "AlertConfig",
    "AlertDispatcher",
    "AlertTarget",
    "AppriseTarget",
    "DriftAlerts",
    "LatchAlerts",
    "apprise_targets",
    "build_alert_dispatcher",
    "halt_latched_alert",
    "render",
    "scheme_of",
    "split_alert_urls",
    "status_url",
]
