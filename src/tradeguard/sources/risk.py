"""RiskGovernor: HEALTHY / WARNING / CRITICAL from the portfolio (SPEC §3).

Thresholds come from the settings. A measurement of zero never breaches a limit; a positive
measurement breaches when it reaches the limit (drawdown, daily loss) or goes above it
(exposure, open orders, whose settings read "above which"). Each breach names its code.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..codes import ErrorCode
from ..errors import SourceUnavailableError
from ..policy import RiskAssessment
from ..ports import PortfolioProvider, PortfolioSnapshot
from ..settings import Settings

_HUNDRED = Decimal(100)
_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """The risk thresholds (percentages for drawdown, quote currency for money)."""

    drawdown_warning_pct: Decimal
    drawdown_critical_pct: Decimal
    daily_loss_limit: Decimal
    max_gross_exposure: Decimal
    max_open_orders: int

    @classmethod
    def from_settings(cls, settings: Settings) -> RiskLimits:
        """Take the limits from the validated settings."""
        return cls(
            drawdown_warning_pct=settings.drawdown_warning_pct,
            drawdown_critical_pct=settings.drawdown_critical_pct,
            daily_loss_limit=settings.daily_loss_limit,
            max_gross_exposure=settings.max_gross_exposure,
            max_open_orders=settings.max_open_orders,
        )


@dataclass(frozen=True, slots=True)
class RiskEvaluation:
    """The governor's answer: the assessment and every breach as ``(code, detail)``."""

    assessment: RiskAssessment
    breaches: tuple[tuple[str, str], ...] = ()
    snapshot: PortfolioSnapshot | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the evaluation as JSON-ready data for ``status``."""
        return {
            "risk_assessment": self.assessment.value,
            "breaches": [{"code": code, "detail": detail} for code, detail in self.breaches],
        }


def _money(name: str, value: object, *, non_negative: bool) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise _invalid(f"{name} must be a Decimal, got {type(value).__name__}")
    number = Decimal(value)
    if not number.is_finite() or (non_negative and number < _ZERO):
        raise _invalid(f"{name} out of range: {value!r}")
    return number


def _invalid(message: str) -> SourceUnavailableError:
    return SourceUnavailableError(ErrorCode.TPP_005, f"invalid portfolio snapshot: {message}")


def _validated(snapshot: object) -> PortfolioSnapshot:
    if not isinstance(snapshot, PortfolioSnapshot):
        raise _invalid(f"not a PortfolioSnapshot: {type(snapshot).__name__}")
    for name in ("equity", "peak_equity", "gross_exposure"):
        _money(name, getattr(snapshot, name), non_negative=True)
    for name in ("realised_pnl_today", "unrealised_pnl"):
        _money(name, getattr(snapshot, name), non_negative=False)
    orders = snapshot.open_orders
    if isinstance(orders, bool) or not isinstance(orders, int) or orders < 0:
        raise _invalid(f"open_orders must be an int >= 0, got {orders!r}")
    return snapshot


class RiskGovernor:
    """Assess the portfolio against the limits.

    Raises ``SourceUnavailableError`` (TPP-005) when the provider fails or answers a snapshot
    outside its domain; the context builder turns that into CRITICAL.
    """

    def __init__(self, provider: PortfolioProvider, limits: RiskLimits) -> None:
        self._provider = provider
        self._limits = limits

    def assess(self) -> RiskEvaluation:
        """Read the portfolio and return the assessment with every breach."""
        snapshot = _validated(self._provider.snapshot())
        return assess_snapshot(snapshot, self._limits)


def drawdown_pct(snapshot: PortfolioSnapshot) -> Decimal:
    """Return the drawdown from the equity peak in percent (0 without a peak)."""
    peak = Decimal(snapshot.peak_equity)
    if peak <= _ZERO or snapshot.equity >= peak:
        return _ZERO
    return (peak - Decimal(snapshot.equity)) / peak * _HUNDRED


def assess_snapshot(snapshot: PortfolioSnapshot, limits: RiskLimits) -> RiskEvaluation:
    """Apply ``limits`` to a validated snapshot (pure)."""
    critical: list[tuple[str, str]] = []
    warning: list[tuple[str, str]] = []
    drawdown = drawdown_pct(snapshot)
    if drawdown > _ZERO and drawdown >= limits.drawdown_critical_pct:
        critical.append(
            (
                ErrorCode.RISK_DRAWDOWN.value,
                f"drawdown {drawdown:.2f}% >= {limits.drawdown_critical_pct}%",
            )
        )
    elif drawdown > _ZERO and drawdown >= limits.drawdown_warning_pct:
        warning.append(
            (
                ErrorCode.RISK_DRAWDOWN.value,
                f"drawdown {drawdown:.2f}% >= {limits.drawdown_warning_pct}%",
            )
        )
    loss = -(Decimal(snapshot.realised_pnl_today) + Decimal(snapshot.unrealised_pnl))
    if loss > _ZERO and loss >= limits.daily_loss_limit:
        critical.append(
            (ErrorCode.RISK_DAILY_LOSS.value, f"daily loss {loss} >= {limits.daily_loss_limit}")
        )
    if snapshot.gross_exposure > limits.max_gross_exposure:
        critical.append(
            (
                ErrorCode.RISK_EXPOSURE.value,
                f"gross exposure {snapshot.gross_exposure} > {limits.max_gross_exposure}",
            )
        )
    if snapshot.open_orders > limits.max_open_orders:
        critical.append(
            (
                ErrorCode.RISK_OPEN_ORDERS.value,
                f"open orders {snapshot.open_orders} > {limits.max_open_orders}",
            )
        )
    if critical:
        return RiskEvaluation(RiskAssessment.CRITICAL, tuple(critical + warning), snapshot)
    if warning:
        return RiskEvaluation(RiskAssessment.WARNING, tuple(warning), snapshot)
    return RiskEvaluation(RiskAssessment.HEALTHY, (), snapshot)


__all__ = [
    "PortfolioProvider",
    "PortfolioSnapshot",
    "RiskEvaluation",
    "RiskGovernor",
    "RiskLimits",
    "assess_snapshot",
    "drawdown_pct",
]
