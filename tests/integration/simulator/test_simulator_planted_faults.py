"""The assertions can fail: a fault planted in the real pipeline is reported with FSS-002,
naming the exact expectation it violates."""

from __future__ import annotations

from tradeguard.bootstrap import Container
from tradeguard.policy import HealthStatus, PolicyContext
from tradeguard.simulator import FailureScenarioSimulator, RunLimits
from tradeguard.sources.health import CheckResult, CheckStatus

FAST = RunLimits(baseline_s=0.15, hold_s=0.3, resume_s=0.25, reaction_limit_s=1.5)


class AlwaysGreenCheck:
    """A health check wired to answer GREEN whatever happens (the planted fault)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def check(self) -> CheckResult:
        return CheckResult(self.name, CheckStatus.GREEN, "CHECK_OK", "planted: always green")


def plant_green_exchange_check(container: Container) -> None:
    module = container.health
    module._checks = tuple(  # type: ignore[attr-defined]
        AlwaysGreenCheck(check.name) if check.name == "exchange_reachable" else check
        for check in module._checks  # type: ignore[attr-defined]
    )


def plant_green_health_module(container: Container) -> None:
    module = container.health
    module._checks = tuple(  # type: ignore[attr-defined]
        AlwaysGreenCheck(check.name)
        for check in module._checks  # type: ignore[attr-defined]
    )


class GreenHealthForTheGateOnly:
    """Wraps the gate's context builder so the gate alone believes health is GREEN."""

    def __init__(self, inner: object) -> None:
        self._inner = inner

    def build(self, correlation_id: str) -> PolicyContext:
        context: PolicyContext = self._inner.build(correlation_id)  # type: ignore[attr-defined]
        return PolicyContext(
            context.kill_switch_active,
            context.budget_signal,
            HealthStatus.GREEN,
            context.risk_assessment,
            context.correlation_id,
            context.timestamp_utc,
            context.incomplete_sources,
        )

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)


def plant_gate_ignores_health(container: Container) -> None:
    container.gate._decider._builder = GreenHealthForTheGateOnly(container.gate._decider._builder)  # type: ignore[attr-defined]


def test_exchange_check_wired_green_is_reported_as_the_violated_expectation() -> None:
    simulator = FailureScenarioSimulator(limits=FAST, container_hook=plant_green_exchange_check)
    result = simulator.inject_exchange_downtime(0.5)
    assert not result.assertion_passed
    failed = result.assertion("exchange_unreachable_reported")
    assert (failed.passed, failed.code) == (False, "FSS-002")
    assert "EXCHANGE_UNREACHABLE" in failed.message
    assert {line["outcome"] for line in result.logs} == {"FAIL"}


def test_health_module_wired_green_fails_the_neutral_within_limit_expectation() -> None:
    simulator = FailureScenarioSimulator(limits=FAST, container_hook=plant_green_health_module)
    result = simulator.inject_exchange_downtime(0.5)
    assert result.outcome == "FAIL"
    assert result.actual_state == "ALLOW"
    names = {item.name for item in result.failures}
    assert {"expected_state", "neutral_within_1s"} <= names
    reaction = result.assertion("neutral_within_1s")
    assert reaction.code == "FSS-002"
    assert "the system reaches NEUTRAL within 1000 ms" in reaction.message


def test_gate_that_ignores_health_is_caught_trading_while_neutral() -> None:
    simulator = FailureScenarioSimulator(limits=FAST, container_hook=plant_gate_ignores_health)
    result = simulator.inject_stale_market_data(2.0)
    assert result.outcome == "FAIL"
    assert result.trades_during_unsafe > 0
    trades = result.assertion("no_new_risk_orders_while_unsafe")
    assert trades.code == "FSS-002"
    assert "zero new-risk orders reach the exchange" in trades.message
    assert all("ALLOW on a context read at" in v.reason for v in result.violations)
    refused = result.assertion("new_risk_refused_while_stale")
    assert not refused.passed and refused.code == "FSS-002"
