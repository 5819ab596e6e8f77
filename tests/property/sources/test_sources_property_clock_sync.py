"""Properties 15 and 16: drift beyond the tolerance (either sign) → YELLOW with
EXCHANGE_TIME_DRIFT; back within tolerance → cleared; unavailable and garbage → YELLOW with
EXCHANGE_TIME_UNAVAILABLE."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.sources.fakes import FakeExchangeClock, fake_clock, unreachable
from tradeguard.codes import ErrorCode
from tradeguard.policy import HealthStatus
from tradeguard.sources import (
    CheckStatus,
    ClockSyncCheck,
    ExchangeTimeSynchronizer,
    HealthVerificationModule,
)

MAX_DRIFT = 1000.0

skews = st.floats(min_value=-600_000, max_value=600_000, allow_nan=False)
latencies = st.floats(min_value=0, max_value=2.0, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(skew_ms=skews, latency_s=latencies)
def test_property_15_drift_beyond_tolerance_either_sign_is_yellow_with_code(
    skew_ms: float, latency_s: float
) -> None:
    clock = fake_clock()
    exchange = FakeExchangeClock(clock, skew_ms=skew_ms, latency_s=latency_s)
    sync = ExchangeTimeSynchronizer(exchange, clock, max_drift_ms=MAX_DRIFT)
    health = HealthVerificationModule([ClockSyncCheck(sync)])
    result = sync.sync_time("c")
    assert result.drift_ms is not None and abs(result.drift_ms - skew_ms) < 0.01
    assert result.uncertainty_ms is not None and abs(result.uncertainty_ms - latency_s * 500) < 0.01
    exceeded = abs(result.drift_ms) > MAX_DRIFT
    assert result.is_within_tolerance is not exceeded
    report = health.report()
    if exceeded:
        assert report.status is HealthStatus.YELLOW
        assert report.results[0].code == ErrorCode.EXCHANGE_TIME_DRIFT
        assert result.error_code == ErrorCode.EXCHANGE_TIME_DRIFT
    else:
        assert report.status is HealthStatus.GREEN
        assert result.error_code is None


STEP = st.one_of(
    st.tuples(st.just("skew"), skews),
    st.tuples(st.just("unreachable"), st.none()),
    st.tuples(
        st.just("garbage"),
        st.one_of(st.none(), st.text(max_size=20), st.integers(), st.floats(allow_nan=True)),
    ),
)


@settings(max_examples=100, deadline=None)
@given(steps=st.lists(STEP, min_size=1, max_size=8), final_skew=st.floats(-MAX_DRIFT, MAX_DRIFT))
def test_property_16_health_follows_the_latest_sync_and_recovery_clears(
    steps: list[tuple[str, object]], final_skew: float
) -> None:
    clock = fake_clock()
    exchange = FakeExchangeClock(clock, latency_s=0.02)
    sync = ExchangeTimeSynchronizer(exchange, clock, max_drift_ms=MAX_DRIFT)
    check = ClockSyncCheck(sync)
    for kind, value in steps:
        exchange.failure, exchange.answer = None, None
        if kind == "skew":
            exchange.skew_ms = float(value)  # type: ignore[arg-type]
        elif kind == "unreachable":
            exchange.failure = unreachable()
        else:
            exchange.answer = value if value is not None else object()
        sync.sync_time("step")
        result = check.check()
        if kind == "skew" and abs(float(value)) <= MAX_DRIFT:  # type: ignore[arg-type]
            assert result.status is CheckStatus.GREEN
        elif kind == "skew":
            assert (result.status, result.code) == (CheckStatus.YELLOW, "EXCHANGE_TIME_DRIFT")
        else:
            assert (result.status, result.code) == (
                CheckStatus.YELLOW,
                "EXCHANGE_TIME_UNAVAILABLE",
            )
        clock.advance(1)
    exchange.failure, exchange.answer, exchange.skew_ms = None, None, final_skew
    sync.sync_time("recover")
    assert check.check().status is CheckStatus.GREEN
