"""RiskGovernor: each limit, its code and the worst assessment."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tradeguard.codes import ErrorCode
from tradeguard.errors import SourceUnavailableError
from tradeguard.policy import RiskAssessment
from tradeguard.settings import load_settings
from tradeguard.sources import PortfolioSnapshot, RiskGovernor, RiskLimits

LIMITS = RiskLimits(
    drawdown_warning_pct=Decimal(5),
    drawdown_critical_pct=Decimal(10),
    daily_loss_limit=Decimal(1000),
    max_gross_exposure=Decimal(50000),
    max_open_orders=10,
)


def portfolio(**overrides: object) -> PortfolioSnapshot:
    values: dict[str, object] = {
        "equity": Decimal(10000),
        "peak_equity": Decimal(10000),
        "realised_pnl_today": Decimal(0),
        "unrealised_pnl": Decimal(0),
        "gross_exposure": Decimal(0),
        "open_orders": 0,
    }
    values.update(overrides)
    return PortfolioSnapshot(**values)  # type: ignore[arg-type]


class FixedPortfolio:
    def __init__(self, snapshot: object) -> None:
        self.value = snapshot

    def snapshot(self) -> PortfolioSnapshot:
        return self.value  # type: ignore[return-value]


def assess(snapshot: object) -> tuple[RiskAssessment, list[str]]:
    evaluation = RiskGovernor(FixedPortfolio(snapshot), LIMITS).assess()
    return evaluation.assessment, [code for code, _ in evaluation.breaches]


def test_risk_flat_portfolio_is_healthy() -> None:
    assert assess(portfolio()) == (RiskAssessment.HEALTHY, [])


@pytest.mark.parametrize(
    ("equity", "expected"),
    [
        (Decimal(9501), RiskAssessment.HEALTHY),
        (Decimal(9500), RiskAssessment.WARNING),
        (Decimal(9001), RiskAssessment.WARNING),
        (Decimal(9000), RiskAssessment.CRITICAL),
        (Decimal(12000), RiskAssessment.HEALTHY),  # above the stale peak: no drawdown
    ],
)
def test_risk_drawdown_from_peak_thresholds(equity: Decimal, expected: RiskAssessment) -> None:
    assessment, codes = assess(portfolio(equity=equity))
    assert assessment is expected
    assert codes == ([] if expected is RiskAssessment.HEALTHY else [ErrorCode.RISK_DRAWDOWN])


@pytest.mark.parametrize(
    ("realised", "unrealised", "expected"),
    [
        (Decimal(-600), Decimal(-399), RiskAssessment.HEALTHY),
        (Decimal(-600), Decimal(-400), RiskAssessment.CRITICAL),
        (Decimal(-2000), Decimal(1500), RiskAssessment.HEALTHY),
        (Decimal(500), Decimal(-1600), RiskAssessment.CRITICAL),
    ],
)
def test_risk_daily_loss_is_realised_plus_unrealised(
    realised: Decimal, unrealised: Decimal, expected: RiskAssessment
) -> None:
    assessment, codes = assess(portfolio(realised_pnl_today=realised, unrealised_pnl=unrealised))
    assert assessment is expected
    assert (ErrorCode.RISK_DAILY_LOSS in codes) is (expected is RiskAssessment.CRITICAL)


def test_risk_exposure_and_open_orders_above_maximum_are_critical() -> None:
    assert assess(portfolio(gross_exposure=Decimal(50000)))[0] is RiskAssessment.HEALTHY
    assert assess(portfolio(gross_exposure=Decimal("50000.01"))) == (
        RiskAssessment.CRITICAL,
        [ErrorCode.RISK_EXPOSURE],
    )
    assert assess(portfolio(open_orders=10))[0] is RiskAssessment.HEALTHY
    assert assess(portfolio(open_orders=11)) == (
        RiskAssessment.CRITICAL,
        [ErrorCode.RISK_OPEN_ORDERS],
    )


def test_risk_every_breach_is_named_critical_first() -> None:
    assessment, codes = assess(
        portfolio(equity=Decimal(9400), gross_exposure=Decimal(60000), open_orders=99)
    )
    assert assessment is RiskAssessment.CRITICAL
    assert codes == [ErrorCode.RISK_EXPOSURE, ErrorCode.RISK_OPEN_ORDERS, ErrorCode.RISK_DRAWDOWN]


@pytest.mark.parametrize(
    "bad",
    [
        "not a snapshot",
        portfolio(equity=1.5),
        portfolio(equity=Decimal("NaN")),
        portfolio(peak_equity=Decimal(-1)),
        portfolio(gross_exposure=Decimal(-5)),
        portfolio(open_orders=-1),
        portfolio(open_orders=True),
    ],
)
def test_risk_out_of_domain_snapshot_raises_tpp_005(bad: object) -> None:
    with pytest.raises(SourceUnavailableError) as caught:
        assess(bad)
    assert caught.value.code == ErrorCode.TPP_005


def test_risk_limits_come_from_settings() -> None:
    settings = load_settings({}, drawdown_warning_pct="3", max_open_orders=7)
    limits = RiskLimits.from_settings(settings)
    assert limits.drawdown_warning_pct == Decimal(3)
    assert limits.max_open_orders == 7
    assert limits.daily_loss_limit == settings.daily_loss_limit
