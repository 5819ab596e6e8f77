"""The values of the decide API: its answer, the bot's order report, and the report's answer.

They cross the HTTP boundary both ways (the service renders them, the Python client parses
them), so each has ``to_dict`` and a strict parser. Decimals travel as strings, timestamps as
ISO-8601 UTC with ``Z``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from ..codes import ErrorCode
from ..errors import InvalidInputError
from ..policy import format_utc, parse_utc
from ..ports import OrderStatus
from .positions import Reservation
from .results import SignalResult

MAX_ORDER_ID_LENGTH: Final = 128
NOT_PLACED: Final = "NOT_PLACED"
"""The ``exchange_order_id`` of a REJECTED report that named none (the order got no id)."""
_REPORT_FIELDS: Final = frozenset(
    {"exchange_order_id", "status", "filled_quantity", "average_price"}
)


@dataclass(frozen=True, slots=True)
class Decided:
    """What the gate decided for one intent it did not execute (see ``Gate.decide``).

    Attributes:
        result: The recorded decision (outcome ACCEPTED when permitted, REFUSED when not).
        reservation: The position book's hold on the permitted quantity (None when refused,
            for a repeated ``signal_id`` and for CANCEL).
    """

    result: SignalResult
    reservation: Reservation | None


@dataclass(frozen=True, slots=True)
class DecideAnswer:
    """The decide API's answer: the decision, every code, and the permit when permitted.

    ``permit_id`` and ``expires_at`` are None exactly when ``permitted`` is False. A
    repeated ``signal_id`` gets the first answer again with ``duplicate`` True.
    """

    signal_id: str
    correlation_id: str
    decision: str
    reason_code: str
    blocking_gate: str | None
    precedence_rank: int | None
    is_latched: bool
    codes: tuple[str, ...]
    permitted: bool
    refusal_code: str | None
    permit_id: str | None
    expires_at: datetime | None
    duplicate: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready values (the HTTP answer body)."""
        return {
            "signal_id": self.signal_id,
            "correlation_id": self.correlation_id,
            "decision": self.decision,
            "reason_code": self.reason_code,
            "blocking_gate": self.blocking_gate,
            "precedence_rank": self.precedence_rank,
            "is_latched": self.is_latched,
            "codes": list(self.codes),
            "permitted": self.permitted,
            "refusal_code": self.refusal_code,
            "permit_id": self.permit_id,
            "expires_at": None if self.expires_at is None else format_utc(self.expires_at),
            "duplicate": self.duplicate,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DecideAnswer:
        """Parse an answer body (raises ``ValueError`` on anything unexpected)."""
        try:
            expires = data["expires_at"]
            permit_id = data["permit_id"]
            answer = cls(
                signal_id=str(data["signal_id"]),
                correlation_id=str(data["correlation_id"]),
                decision=str(data["decision"]),
                reason_code=str(data["reason_code"]),
                blocking_gate=_optional_text(data.get("blocking_gate")),
                precedence_rank=data.get("precedence_rank"),
                is_latched=bool(data.get("is_latched", False)),
                codes=tuple(str(code) for code in data["codes"]),
                permitted=data["permitted"] is True,
                refusal_code=_optional_text(data.get("refusal_code")),
                permit_id=None if permit_id is None else str(permit_id),
                expires_at=None if expires is None else parse_utc(str(expires)),
                duplicate=bool(data.get("duplicate", False)),
            )
        except (KeyError, TypeError, ValueError, InvalidInputError) as exc:
            raise ValueError(f"not a decide answer: {exc!r}") from exc
        if answer.permitted and answer.permit_id is None:
            raise ValueError("a permitted answer without a permit_id")
        return answer


@dataclass(frozen=True, slots=True)
class OrderReport:
    """What the bot reports about the order a permit covered.

    Attributes:
        exchange_order_id: The exchange's id of the order (may be left out of a REJECTED
            report, for an order the exchange refused before giving it an id).
        status: NEW, PARTIALLY_FILLED, FILLED, CANCELLED or REJECTED.
        filled_quantity: The quantity filled so far (cumulative, never shrinking).
        average_price: The average fill price, when anything filled.
    """

    exchange_order_id: str
    status: OrderStatus
    filled_quantity: Decimal
    average_price: Decimal | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the report body."""
        return {
            "exchange_order_id": self.exchange_order_id,
            "status": self.status.value,
            "filled_quantity": str(self.filled_quantity),
            "average_price": None if self.average_price is None else str(self.average_price),
        }


def _invalid(field: str, message: str) -> InvalidInputError:
    return InvalidInputError(
        ErrorCode.PERMIT_REPORT_INVALID,
        f"{field}: {message}",
        field=field,
        hint="fix the report; nothing was changed",
    )


def _optional_text(value: object) -> str | None:
    return None if value is None else str(value)


def _report_decimal(data: Mapping[str, Any], field: str, *, positive: bool) -> Decimal | None:
    value = data.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise _invalid(field, "must be a decimal string")
    try:
        number = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    except InvalidOperation as exc:
        raise _invalid(field, f"not a decimal number: {value!r}") from exc
    if not number.is_finite() or number < 0 or (positive and number == 0):
        raise _invalid(field, "must be a finite number " + ("> 0" if positive else ">= 0"))
    return number


def parse_report(data: object) -> OrderReport:
    """Validate a report body into an ``OrderReport``.

    Raises:
        InvalidInputError: PERMIT_REPORT_INVALID naming the field.
    """
    if isinstance(data, OrderReport):
        return data
    if not isinstance(data, Mapping):
        raise _invalid("report", "must be a JSON object")
    unknown = sorted(str(key) for key in data if key not in _REPORT_FIELDS)
    if unknown:
        raise _invalid(unknown[0], "unknown field")
    status = data.get("status")
    if not isinstance(status, str) or status not in OrderStatus.__members__:
        raise _invalid("status", f"must be one of {sorted(OrderStatus.__members__)}")
    order_id = data.get("exchange_order_id")
    if order_id is None and status == OrderStatus.REJECTED.value:
        order_id = NOT_PLACED  # refused before the exchange gave it an id
    if not isinstance(order_id, str) or not order_id.strip():
        raise _invalid("exchange_order_id", "must be a non-empty string")
    if len(order_id) > MAX_ORDER_ID_LENGTH:
        raise _invalid("exchange_order_id", f"must be at most {MAX_ORDER_ID_LENGTH} characters")
    filled = _report_decimal(data, "filled_quantity", positive=False)
    if filled is None:
        raise _invalid("filled_quantity", "is required")
    return OrderReport(
        exchange_order_id=order_id,
        status=OrderStatus(status),
        filled_quantity=filled,
        average_price=_report_decimal(data, "average_price", positive=True),
    )


@dataclass(frozen=True, slots=True)
class ReportAnswer:
    """The answer to an accepted report.

    Attributes:
        permit_id: The permit reported on.
        correlation_id: The decision's correlation_id (the audit rows share it).
        status: The reported status.
        filled_quantity: The cumulative filled quantity now recorded.
        applied_quantity: What this report added to the position book.
        open: True while the order may still fill (a later report is expected).
    """

    permit_id: str
    correlation_id: str
    status: str
    filled_quantity: Decimal
    applied_quantity: Decimal
    open: bool

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready values."""
        return {
            "permit_id": self.permit_id,
            "correlation_id": self.correlation_id,
            "status": self.status,
            "filled_quantity": str(self.filled_quantity),
            "applied_quantity": str(self.applied_quantity),
            "open": self.open,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReportAnswer:
        """Parse an answer body (raises ``ValueError`` on anything unexpected)."""
        try:
            return cls(
                permit_id=str(data["permit_id"]),
                correlation_id=str(data["correlation_id"]),
                status=str(data["status"]),
                filled_quantity=Decimal(str(data["filled_quantity"])),
                applied_quantity=Decimal(str(data["applied_quantity"])),
                open=data["open"] is True,
            )
        except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
            raise ValueError(f"not a report answer: {exc!r}") from exc


__all__ = [
    "NOT_PLACED",
    "DecideAnswer",
    "Decided",
    "OrderReport",
    "ReportAnswer",
    "parse_report",
]
