"""The service's HTTP surface: signal webhook, operator API, probes, metrics, dashboard."""

from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]
