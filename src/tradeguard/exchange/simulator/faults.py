"""The simulator's fault controls: what ``POST /_sim/faults`` accepts and ``GET`` shows.

Semantics (each POST *replaces* the whole set; ``{}`` clears every fault):

- ``down`` (bool): the trading API (VALR and Binance routes) stops answering: the simulator
  closes the connection without sending a response, so clients fail at once with a transport
  error. ``/_sim/`` keeps working.
- ``latency_ms`` (int >= 0): every trading API request is delayed this long before it is handled.
- ``clock_skew_ms`` (int): the exchange's clock (``/v1/public/time``, ``/api/v3/time`` and every
  time the exchange stamps) is shifted by this much.
- ``partial_fill_ratio`` (decimal string or number, 0 < r <= 1): orders fill only this fraction
  when placed; the remainder is settled at the order's next status read after the partial fill
  was reported, as ``partial_fill_remainder`` says.
- ``partial_fill_remainder`` (``"fill"`` default, ``"cancel"``, ``"rest"``): the remainder fills at
  that read (FILLED), is cancelled by the exchange (CANCELLED, partially filled), or stays open.
- ``ticker_frozen_seconds`` (number >= 0): ticker timestamps are frozen this far in the past
  (measured from when the fault was set) and the price stops moving.
- ``reject_orders`` (bool): every new order is refused (VALR 400 code -6, Binance 400 -2010).
- ``auth_fail`` (bool): the API keys are rejected from now on, as when they are revoked or
  rotated: every signed route answers like the real venue does for bad keys (VALR 401 code
  -11252, Binance 401 -2015). Public routes (time, ticker) keep answering.
- ``account_unreadable`` (bool): the account reads (balances and open orders, both dialects)
  answer HTTP 500 while orders, cancels, order status and public routes keep working.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from ..matching import RemainderPolicy

FAULT_KEYS: Final = frozenset(
    {
        "down",
        "latency_ms",
        "clock_skew_ms",
        "partial_fill_ratio",
        "partial_fill_remainder",
        "ticker_frozen_seconds",
        "reject_orders",
        "auth_fail",
        "account_unreadable",
    }
)


class FaultSpecError(ValueError):
    """A fault specification is invalid; the message names the key."""


@dataclass(frozen=True, slots=True)
class SimulatorFaults:
    """The faults in force; the defaults mean no fault."""

    down: bool = False
    latency_ms: int = 0
    clock_skew_ms: int = 0
    partial_fill_ratio: Decimal | None = None
    partial_fill_remainder: RemainderPolicy = RemainderPolicy.FILL
    ticker_frozen_seconds: float | None = None
    reject_orders: bool = False
    auth_fail: bool = False
    account_unreadable: bool = False

    def __post_init__(self) -> None:
        if self.latency_ms < 0:
            raise FaultSpecError("latency_ms must be >= 0")
        ratio = self.partial_fill_ratio
        if ratio is not None and not Decimal(0) < ratio <= Decimal(1):
            raise FaultSpecError("partial_fill_ratio must be in (0, 1]")
        if self.ticker_frozen_seconds is not None and self.ticker_frozen_seconds < 0:
            raise FaultSpecError("ticker_frozen_seconds must be >= 0")

    def to_json(self) -> dict[str, Any]:
        """Return the JSON shape ``GET /_sim/faults`` shows."""
        return {
            "down": self.down,
            "latency_ms": self.latency_ms,
            "clock_skew_ms": self.clock_skew_ms,
            "partial_fill_ratio": (
                None if self.partial_fill_ratio is None else str(self.partial_fill_ratio)
            ),
            "partial_fill_remainder": self.partial_fill_remainder.value,
            "ticker_frozen_seconds": self.ticker_frozen_seconds,
            "reject_orders": self.reject_orders,
            "auth_fail": self.auth_fail,
            "account_unreadable": self.account_unreadable,
        }

    @classmethod
    def from_json(cls, data: Any) -> SimulatorFaults:
        """Build faults from a JSON object; unknown keys and wrong types raise."""
        if not isinstance(data, dict):
            raise FaultSpecError("faults must be a JSON object")
        unknown = sorted(set(data) - FAULT_KEYS)
        if unknown:
            raise FaultSpecError(f"unknown fault {unknown[0]!r}; known: {sorted(FAULT_KEYS)}")
        return cls(
            down=_bool(data, "down"),
            latency_ms=_int(data, "latency_ms"),
            clock_skew_ms=_int(data, "clock_skew_ms"),
            partial_fill_ratio=_decimal(data, "partial_fill_ratio"),
            partial_fill_remainder=_remainder(data),
            ticker_frozen_seconds=_seconds(data, "ticker_frozen_seconds"),
            reject_orders=_bool(data, "reject_orders"),
            auth_fail=_bool(data, "auth_fail"),
            account_unreadable=_bool(data, "account_unreadable"),
        )


def _bool(data: dict[str, Any], key: str) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise FaultSpecError(f"{key} must be true or false")
    return value


def _int(data: dict[str, Any], key: str) -> int:
    value = data.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int):
        raise FaultSpecError(f"{key} must be an integer")
    return value


def _decimal(data: dict[str, Any], key: str) -> Decimal | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise FaultSpecError(f"{key} must be a decimal string or number")
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise FaultSpecError(f"{key} is not a decimal: {value!r}") from exc


def _seconds(data: dict[str, Any], key: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FaultSpecError(f"{key} must be a number of seconds")
    return float(value)


def _remainder(data: dict[str, Any]) -> RemainderPolicy:
    value = data.get("partial_fill_remainder", RemainderPolicy.FILL.value)
    try:
        return RemainderPolicy(value)
    except ValueError as exc:
        raise FaultSpecError("partial_fill_remainder must be fill, cancel or rest") from exc


__all__ = ["FAULT_KEYS", "FaultSpecError", "SimulatorFaults"]
