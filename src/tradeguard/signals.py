"""The trade signal a bot sends (SPEC §5): a strict pydantic model and its content hash.

Quantities and prices arrive as decimal strings and become ``Decimal``; a float is refused so
no binary rounding ever reaches an order. Unknown fields are refused. ``content_hash`` is the
sha256 of the canonical JSON of the normalised fields, so a ``signal_id`` replayed with other
content is told apart from an honest retry.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import cached_property
from typing import Annotated, Any, Final

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from .codes import ErrorCode
from .errors import InvalidInputError
from .policy import OrderIntent, Side, format_utc
from .ports import OrderType

MAX_SIGNAL_ID_LENGTH: Final = 128
MAX_TEXT_LENGTH: Final = 128


def _decimal_text(value: object) -> Decimal:
    # Strings (the wire format) and Decimals (Python callers) only: a float has already lost
    # precision and an int or bool is almost always a sender's bug.
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation as exc:
            raise ValueError(f"not a decimal number: {value!r}") from exc
    else:
        raise ValueError(f"must be a decimal string, got {type(value).__name__}")
    if not number.is_finite():
        raise ValueError("must be finite")
    return number


def _positive_decimal(value: object) -> Decimal:
    number = _decimal_text(value)
    if number <= 0:
        raise ValueError("must be greater than 0")
    return number


def _optional_positive_decimal(value: object) -> Decimal | None:
    return None if value is None else _positive_decimal(value)


def _confidence(value: object) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ValueError(f"must be a number or decimal string, got {type(value).__name__}")
    try:
        # str() of a float gives its shortest repr, so 99.5 stays 99.5 and not 99.4999...
        number = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except InvalidOperation as exc:
        raise ValueError(f"not a number: {value!r}") from exc
    if not number.is_finite() or not Decimal(0) <= number <= Decimal(100):
        raise ValueError("must be within 0-100")
    return number


def _aware_timestamp(value: object) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValueError(f"not an ISO-8601 timestamp: {value!r}") from exc
    else:
        raise ValueError("must be an ISO-8601 timestamp string")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("must carry a timezone (e.g. a trailing Z)")
    return moment.astimezone(UTC)


def _member(enum_type: type[Any]) -> BeforeValidator:
    values = {member.value: member for member in enum_type}

    def parse(value: object) -> Any:
        member = values.get(value) if isinstance(value, str) else None
        if member is None:
            raise ValueError(f"must be one of {sorted(values)}")
        return member

    return BeforeValidator(parse)


def _text(max_length: int, *, pattern: re.Pattern[str] | None = None) -> BeforeValidator:
    def parse(value: object) -> str:
        if not isinstance(value, str):
            raise ValueError(f"must be a string, got {type(value).__name__}")
        if not value.strip():
            raise ValueError("must not be empty")
        if len(value) > max_length:
            raise ValueError(f"must be at most {max_length} characters")
        if pattern is not None and pattern.fullmatch(value) is None:
            raise ValueError(f"must match {pattern.pattern}")
        return value

    return BeforeValidator(parse)


def _optional(validator: BeforeValidator) -> BeforeValidator:
    inner = validator.func

    def parse(value: object) -> Any:
        return None if value is None else inner(value)  # type: ignore[call-arg]

    return BeforeValidator(parse)


_SYMBOL_RE: Final = re.compile(r"[A-Za-z0-9._:/-]{1,32}")
PositiveDecimal = Annotated[Decimal, BeforeValidator(_positive_decimal)]


class Signal(BaseModel):
    """One trade signal: what the bot wants, and how sure its model was (kept apart).

    Attributes:
        signal_id: Idempotency key; a repeat gets the first result and is never re-executed.
        symbol: Exchange symbol, e.g. ``BTCUSDT``.
        side: BUY or SELL.
        intent: What the order does to the position (default OPEN).
        quantity: Decimal string > 0.
        order_type: MARKET (default) or LIMIT.
        price: Decimal string, required for LIMIT and refused for MARKET.
        ai_confidence: Optional 0–100; recorded, never used by the gate.
        strategy: Optional free text naming the strategy.
        source: Optional free text naming the sender.
        timestamp: Optional ISO-8601 timestamp with a timezone.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    signal_id: Annotated[str, _text(MAX_SIGNAL_ID_LENGTH)]
    symbol: Annotated[str, _text(32, pattern=_SYMBOL_RE)]
    side: Annotated[Side, _member(Side)]
    intent: Annotated[OrderIntent, _member(OrderIntent)] = OrderIntent.OPEN
    quantity: PositiveDecimal
    order_type: Annotated[OrderType, _member(OrderType)] = OrderType.MARKET
    price: Annotated[
        Decimal | None,
        BeforeValidator(_optional_positive_decimal),
        Field(validate_default=True),
    ] = None
    ai_confidence: Annotated[Decimal | None, BeforeValidator(_confidence)] = None
    strategy: Annotated[str | None, _optional(_text(MAX_TEXT_LENGTH))] = None
    source: Annotated[str | None, _optional(_text(MAX_TEXT_LENGTH))] = None
    timestamp: Annotated[datetime | None, BeforeValidator(_aware_timestamp)] = None

    @field_validator("price", mode="after")
    @classmethod
    def _price_matches_type(cls, price: Decimal | None, info: ValidationInfo) -> Decimal | None:
        order_type = info.data.get("order_type")
        if order_type is OrderType.LIMIT and price is None:
            raise ValueError("price is required for a LIMIT order")
        if order_type is OrderType.MARKET and price is not None:
            raise ValueError("price is only allowed for a LIMIT order")
        return price

    def to_payload(self) -> dict[str, Any]:
        """Return the normalised fields as JSON-ready values (Decimals as strings)."""
        return dict(self._payload)

    def content_hash(self) -> str:
        """Return the sha256 (hex) of the canonical JSON of the normalised fields."""
        return self._hash

    @cached_property
    def _payload(self) -> dict[str, Any]:
        return {
            "signal_id": self.signal_id,
            "symbol": self.symbol,
            "side": str(self.side),
            "intent": str(self.intent),
            "quantity": _canonical_decimal(self.quantity),
            "order_type": str(self.order_type),
            "price": None if self.price is None else _canonical_decimal(self.price),
            "ai_confidence": None
            if self.ai_confidence is None
            else _canonical_decimal(self.ai_confidence),
            "strategy": self.strategy,
            "source": self.source,
            "timestamp": None if self.timestamp is None else format_utc(self.timestamp),
        }

    @cached_property
    def _hash(self) -> str:
        canonical = json.dumps(
            self._payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _canonical_decimal(value: Decimal) -> str:
    # "1.50" and "1.5" are the same order; normalise so a retry hashes the same.
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


class InvalidSignalError(InvalidInputError):
    """A signal failed validation; ``problems`` names every field and why (SIGNAL_INVALID)."""

    def __init__(self, problems: tuple[tuple[str, str], ...]) -> None:
        text = "; ".join(f"{where}: {why}" for where, why in problems) or "invalid signal"
        super().__init__(
            ErrorCode.SIGNAL_INVALID,
            text,
            field=problems[0][0] if problems else None,
            hint="fix the named fields in the sender",
        )
        self.problems = problems

    @property
    def fields(self) -> tuple[str, ...]:
        """Return the names of the invalid fields."""
        return tuple(where for where, _ in self.problems)


class SignalReplayedError(InvalidInputError):
    """A ``signal_id`` was reused with different content (SIGNAL_REPLAYED; HTTP 409)."""

    def __init__(self, signal_id: str, first_correlation_id: str) -> None:
        super().__init__(
            ErrorCode.SIGNAL_REPLAYED,
            f"signal_id {signal_id!r} was already used with different content",
            field="signal_id",
            hint="give each signal a unique signal_id",
        )
        self.signal_id = signal_id
        self.first_correlation_id = first_correlation_id


def signal_invalid(exc: ValidationError) -> InvalidSignalError:
    """Turn pydantic's errors into ``InvalidSignalError`` (SIGNAL_INVALID) naming every field."""
    problems = tuple(
        (
            ".".join(str(part) for part in error["loc"]) or "signal",
            str(error["msg"]).removeprefix("Value error, "),
        )
        for error in exc.errors()
    )
    return InvalidSignalError(problems)


def parse_signal(data: Mapping[str, Any] | Signal) -> Signal:
    """Validate ``data`` into a ``Signal``, raising ``InvalidInputError(SIGNAL_INVALID)``."""
    if isinstance(data, Signal):
        return data
    if not isinstance(data, Mapping):
        raise InvalidSignalError((("signal", "must be a JSON object"),))
    try:
        return Signal.model_validate(dict(data))
    except ValidationError as exc:
        raise signal_invalid(exc) from exc


__all__ = [
    "MAX_SIGNAL_ID_LENGTH",
    "InvalidSignalError",
    "Signal",
    "SignalReplayedError",
    "parse_signal",
    "signal_invalid",
]
