"""Strict readers for exchange answers: anything unexpected is ``EXCHANGE_BAD_RESPONSE``."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from ..codes import ErrorCode
from ..errors import ExchangeUnavailableError

_ISO_RE = re.compile(
    r"(?P<head>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(?P<frac>\d+))?(?P<tz>Z|[+-]\d{2}:\d{2})"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def bad_response(message: str) -> ExchangeUnavailableError:
    """Return the error for an answer the adapter cannot use."""
    return ExchangeUnavailableError(ErrorCode.EXCHANGE_BAD_RESPONSE, message)


def require_mapping(value: Any, what: str) -> dict[str, Any]:
    """Return ``value`` if it is a JSON object, else raise a bad-response error."""
    if not isinstance(value, dict):
        raise bad_response(f"{what}: expected a JSON object, got {type(value).__name__}")
    return value


def require_list(value: Any, what: str) -> list[Any]:
    """Return ``value`` if it is a JSON array, else raise a bad-response error."""
    if not isinstance(value, list):
        raise bad_response(f"{what}: expected a JSON array, got {type(value).__name__}")
    return value


def text_field(data: dict[str, Any], key: str, what: str) -> str:
    """Return ``data[key]`` as a non-empty string."""
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise bad_response(f"{what}: field {key!r} missing or not a string")
    return value


def decimal_field(
    data: dict[str, Any], key: str, what: str, *, allow_negative: bool = False
) -> Decimal:
    """Return ``data[key]`` (a decimal string or number) as a finite Decimal, >= 0 unless
    ``allow_negative``."""
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise bad_response(f"{what}: field {key!r} missing or not a number")
    try:
        number = Decimal(str(value))
    except InvalidOperation as exc:
        raise bad_response(f"{what}: field {key!r} is not a decimal: {value!r}") from exc
    if not number.is_finite() or (number < 0 and not allow_negative):
        raise bad_response(f"{what}: field {key!r} is not a finite non-negative number")
    return number


def parse_iso_utc(text: Any, what: str) -> datetime:
    """Parse an ISO-8601 timestamp with any number of fraction digits into aware UTC.

    Fractions beyond microseconds (VALR's server time has nanoseconds) are truncated.
    """
    match = _ISO_RE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise bad_response(f"{what}: not an ISO-8601 UTC timestamp: {text!r}")
    frac = (match.group("frac") or "")[:6].ljust(6, "0")
    tz = "+00:00" if match.group("tz") == "Z" else match.group("tz")
    try:
        moment = datetime.fromisoformat(f"{match.group('head')}.{frac}{tz}")
    except ValueError as exc:
        raise bad_response(f"{what}: invalid date {text!r}") from exc
    return moment.astimezone(UTC)


def from_epoch_ms(value: Any, what: str) -> datetime:
    """Convert epoch milliseconds into an aware UTC datetime."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad_response(f"{what}: expected epoch milliseconds, got {value!r}")
    try:
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise bad_response(f"{what}: epoch milliseconds out of range: {value!r}") from exc


def format_decimal(value: Decimal) -> str:
    """Format a Decimal as plain text without exponent or trailing zeros."""
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"


def format_iso_ms(moment: datetime) -> str:
    """Format ``moment`` as ISO-8601 UTC with milliseconds and ``Z`` (VALR's style)."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def to_epoch_ms(moment: datetime) -> int:
    """Return ``moment`` as integer epoch milliseconds."""
    return (moment - _EPOCH) // timedelta(milliseconds=1)


__all__ = [
    "bad_response",
    "decimal_field",
    "format_decimal",
    "format_iso_ms",
    "from_epoch_ms",
    "parse_iso_utc",
    "require_list",
    "require_mapping",
    "text_field",
    "to_epoch_ms",
]
