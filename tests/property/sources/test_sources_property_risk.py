"""RiskGovernor for any portfolio: CRITICAL exactly when a critical limit is reached, and never
better than the worst breach it names."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tradeguard.policy import RiskAssessment
from tradeguard.sources import PortfolioSnapshot, RiskLimits
from tradeguard.sources.risk import assess_snapshot

amounts = st.decimals(min_value=0, max_value=10**7, places=2, allow_nan=False)
pnl = st.decimals(min_value=-(10**6), max_value=10**6, places=2, allow_nan=False)


@st.composite
def limits(draw: st.DrawFn) -> RiskLimits:
    warning = draw(st.decimals(min_value=0, max_value=50, places=1))
    critical = warning + draw(st.decimals(min_value=0, max_value=50, places=1))
    return RiskLimits(warning, critical, draw(amounts), draw(amounts), draw(st.integers(0, 100)))


@settings(max_examples=300, deadline=None)
@given(
    equity=amounts,
    peak=amounts,
    realised=pnl,
    unrealised=pnl,
    exposure=amounts,
    orders=st.integers(0, 200),
    risk_limits=limits(),
)
def test_risk_assessment_matches_limits(
    equity: Decimal,
    peak: Decimal,
    realised: Decimal,
    unrealised: Decimal,
    exposure: Decimal,
    orders: int,
    risk_limits: RiskLimits,
) -> None:
    snapshot = PortfolioSnapshot(equity, peak, realised, unrealised, exposure, orders)
    evaluation = assess_snapshot(snapshot, risk_limits)
    drawdown = (peak - equity) / peak * 100 if peak > 0 and equity < peak else Decimal(0)
    loss = -(realised + unrealised)
    critical = (
        (drawdown > 0 and drawdown >= risk_limits.drawdown_critical_pct)
        or (loss > 0 and loss >= risk_limits.daily_loss_limit)
        or exposure > risk_limits.max_gross_exposure
        or orders > risk_limits.max_open_orders
    )
    warning = drawdown > 0 and drawdown >= risk_limits.drawdown_warning_pct
    if critical:
        assert evaluation.assessment is RiskAssessment.CRITICAL
    elif warning:
        assert evaluation.assessment is RiskAssessment.WARNING
    else:
        assert evaluation.assessment is RiskAssessment.HEALTHY
    assert bool(evaluation.breaches) == (evaluation.assessment is not RiskAssessment.HEALTHY)
