"""What the simulator's dialects share: the request they are handed and the reply they give."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from ..parsing import format_decimal


@dataclass(frozen=True, slots=True)
class SimRequest:
    """One HTTP request as a dialect sees it."""

    method: str
    path: str
    raw_path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """Return a header case-insensitively."""
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None


@dataclass(frozen=True, slots=True)
class SimReply:
    """A JSON reply (``body`` None means an empty body)."""

    status: int
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)


def json_reply(status: int, body: Any) -> SimReply:
    """Return a JSON reply."""
    return SimReply(status=status, body=body)


def parse_decimal(value: Any) -> Decimal | None:
    """Parse a decimal from a request field, or None when absent or invalid."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def dec(value: Decimal | None) -> str:
    """Format a Decimal for an answer (``"0"`` for None)."""
    return "0" if value is None else format_decimal(value)


__all__ = ["SimReply", "SimRequest", "dec", "json_reply", "parse_decimal"]
