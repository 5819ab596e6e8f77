"""PolicyContextBuilder: every failure of a source fails closed, logged with its TPP code."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from structlog.testing import capture_logs

from tradeguard.clock import SystemClock
from tradeguard.codes import ErrorCode
from tradeguard.errors import SourceUnavailableError
from tradeguard.policy import (
    BudgetSignal,
    Decision,
    GateName,
    HealthStatus,
    RiskAssessment,
    TradePermissionPolicy,
)
from tradeguard.sources import (
    BudgetEvaluation,
    CircuitBreaker,
    HealthReport,
    PolicyContextBuilder,
    RiskEvaluation,
    SourceFailure,
)

from .fakes import (
    Behaving,
    FakeKillSwitchStore,
    StaticBudget,
    StaticHealth,
    StaticKill,
    StaticRisk,
    fake_clock,
)

TIMEOUT = 0.5  # generous: healthy sources must answer even on a loaded machine
SHORT = 0.05  # for sources that hang or answer late
MARGIN = 0.15


class Src:
    """One object with all four source methods, each a ``Behaving`` callable."""

    def __init__(self) -> None:
        self.is_active = Behaving(lambda: False)
        self.current = Behaving(lambda: BudgetEvaluation(BudgetSignal.ALLOW, None))
        self.report = Behaving(lambda: HealthReport(HealthStatus.GREEN, ()))
        self.assess = Behaving(lambda: RiskEvaluation(RiskAssessment.HEALTHY))


@pytest.fixture
def release() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()


def builder_for(src: Src, timeout: float = TIMEOUT, **kwargs: float) -> PolicyContextBuilder:
    return PolicyContextBuilder(src, src, src, src, SystemClock(), timeout, **kwargs)


def cid() -> str:
    return str(uuid.uuid4())


def test_builder_all_sources_healthy_gives_complete_context_and_allow() -> None:
    builder = builder_for(Src())
    context = builder.build(cid())
    assert (
        context.kill_switch_active,
        context.budget_signal,
        context.health_status,
        context.risk_assessment,
        context.incomplete_sources,
    ) == (False, BudgetSignal.ALLOW, HealthStatus.GREEN, RiskAssessment.HEALTHY, ())
    assert TradePermissionPolicy(0).evaluate(context).decision is Decision.ALLOW
    assert context.timestamp_utc.endswith("Z")
    builder.close()


RESTRICTIVE = {
    "is_active": (GateName.KILL_SWITCH, "TPP-002", "kill_switch_active", True),
    "current": (GateName.BUDGET, "TPP-003", "budget_signal", BudgetSignal.HARD_STOP),
    "report": (GateName.HEALTH, "TPP-004", "health_status", HealthStatus.RED),
    "assess": (GateName.RISK, "TPP-005", "risk_assessment", RiskAssessment.CRITICAL),
}


@pytest.mark.parametrize("method", list(RESTRICTIVE))
def test_builder_raising_source_gets_restrictive_value_and_logs_tpp_code(method: str) -> None:
    src = Src()
    setattr(src, method, Behaving(lambda: None, raises=RuntimeError("down")))
    gate, code, field, restrictive = RESTRICTIVE[method]
    builder = builder_for(src)
    correlation_id = cid()
    with capture_logs() as logs:
        context = builder.build(correlation_id)
    assert getattr(context, field) == restrictive
    assert context.incomplete_sources == (gate,)
    decision = TradePermissionPolicy(0).evaluate(context)
    assert decision.decision is Decision.HALT
    line = next(line for line in logs if line["event"] == "policy_context_incomplete")
    assert line["code"] == ErrorCode.POLICY_CONTEXT_INCOMPLETE
    assert line["source_code"] == code
    assert line["failure"] == SourceFailure.RAISED
    assert line["correlation_id"] == correlation_id
    details = builder.last_details()
    assert details is not None and details.problems[0].code == code
    builder.close()


@pytest.mark.parametrize(
    ("method", "answer"),
    [
        ("is_active", "false"),
        ("is_active", 0),
        ("is_active", None),
        ("current", BudgetEvaluation("MAYBE", None)),  # type: ignore[arg-type]
        ("current", "ALLOW!"),
        ("report", HealthReport("BLUE", ())),  # type: ignore[arg-type]
        ("report", [1]),
        ("assess", RiskEvaluation("FINE")),  # type: ignore[arg-type]
        ("assess", 42),
    ],
)
def test_builder_out_of_domain_answer_is_a_failure(method: str, answer: object) -> None:
    src = Src()
    setattr(src, method, Behaving(lambda: answer))
    builder = builder_for(src)
    with capture_logs() as logs:
        context = builder.build(cid())
    assert context.incomplete_sources == (RESTRICTIVE[method][0],)
    assert logs[0]["failure"] == SourceFailure.OUT_OF_DOMAIN
    builder.close()


def test_builder_hung_source_is_bounded_by_its_timeout(release: threading.Event) -> None:
    src = Src()
    src.assess = Behaving(lambda: RiskEvaluation(RiskAssessment.HEALTHY), hang=release)
    builder = builder_for(src, SHORT)
    for _ in range(6):
        started = time.monotonic()
        context = builder.build(cid())
        assert time.monotonic() - started < SHORT + MARGIN
        assert context.risk_assessment is RiskAssessment.CRITICAL
        assert context.incomplete_sources == (GateName.RISK,)
    builder.close()


def test_builder_late_answer_is_a_timeout_even_once_it_arrives() -> None:
    src = Src()
    src.current = Behaving(lambda: BudgetEvaluation(BudgetSignal.ALLOW, None), delay_s=SHORT * 2)
    builder = builder_for(src, SHORT, max_sample_age_s=10)
    with capture_logs() as logs:
        first = builder.build(cid())
        time.sleep(SHORT * 2)
        second = builder.build(cid())
    assert first.incomplete_sources == (GateName.BUDGET,)
    assert second.incomplete_sources == (GateName.BUDGET,)
    assert "late" in logs[-1]["detail"]
    builder.close()


def test_builder_reuses_fresh_answers_without_asking_again() -> None:
    src = Src()
    builder = builder_for(src, max_sample_age_s=10)
    for _ in range(50):
        builder.build(cid())
    assert src.current.calls == 1
    builder.close()


def test_builder_sees_local_kill_switch_engage_at_once_despite_cache() -> None:
    breaker = CircuitBreaker(FakeKillSwitchStore(), fake_clock())
    builder = PolicyContextBuilder(
        breaker,
        StaticBudget(),
        StaticHealth(),
        StaticRisk(),
        SystemClock(),
        TIMEOUT,
        max_sample_age_s=60,
    )
    assert builder.build(cid()).kill_switch_active is False
    breaker.engage("alice", "stop", cid())
    assert builder.build(cid()).kill_switch_active is True
    breaker.release("alice", "go", cid())
    assert builder.build(cid()).kill_switch_active is False
    builder.close()


def test_builder_unreadable_kill_switch_store_counts_engaged() -> None:
    store = FakeKillSwitchStore()
    store.fail_load = True
    builder = PolicyContextBuilder(
        CircuitBreaker(store, fake_clock()),
        StaticBudget(),
        StaticHealth(),
        StaticRisk(),
        SystemClock(),
        TIMEOUT,
    )
    context = builder.build(cid())
    assert context.kill_switch_active is True
    assert context.incomplete_sources == (GateName.KILL_SWITCH,)
    builder.close()


def test_builder_context_that_cannot_be_built_raises_tpp_001() -> None:
    builder = PolicyContextBuilder(
        StaticKill(), StaticBudget(), StaticHealth(), StaticRisk(), SystemClock(), TIMEOUT
    )
    with capture_logs() as logs, pytest.raises(SourceUnavailableError) as caught:
        builder.build("not-a-uuid")
    assert caught.value.code == ErrorCode.TPP_001
    assert logs[-1]["event"] == "policy_context_unavailable"

    class BrokenClock:
        def now(self) -> object:
            raise OSError("clock gone")

        def monotonic(self) -> float:
            return 0.0

    broken = PolicyContextBuilder(
        StaticKill(),
        StaticBudget(),
        StaticHealth(),
        StaticRisk(),
        BrokenClock(),
        TIMEOUT,  # type: ignore[arg-type]
    )
    with pytest.raises(SourceUnavailableError) as caught:
        broken.build(cid())
    assert caught.value.code == ErrorCode.TPP_001
    builder.close()
    broken.close()


def test_builder_last_details_carry_every_source_answer_for_status() -> None:
    builder = PolicyContextBuilder(
        StaticKill(),
        StaticBudget(BudgetSignal.RDS_EXCEEDED),
        StaticHealth(HealthStatus.YELLOW),
        StaticRisk(RiskAssessment.WARNING),
        SystemClock(),
        TIMEOUT,
    )
    assert builder.last_details() is None
    builder.build(cid())
    details = builder.last_details()
    assert details is not None
    data = details.to_dict()
    assert data["budget"]["budget_signal"] == "RDS_EXCEEDED"
    assert data["risk"]["risk_assessment"] == "WARNING"
    assert data["context"]["health_status"] == "YELLOW"
    assert data["incomplete"] == []
    builder.close()


def test_source_workers_exit_when_idle_and_restart_on_demand() -> None:
    from tradeguard.sources.slot import Pending, SourceSlot

    def live_workers() -> int:
        return sum(t.name.startswith("policy-source-idle") for t in threading.enumerate())

    slot = SourceSlot("idle", lambda: 7, timeout_s=1.0, max_age_s=0, idle_exit_s=0.05)
    assert live_workers() == 0
    for _ in range(2):
        pending = slot.poll(time.monotonic())
        assert isinstance(pending, Pending)
        sample = slot.wait(pending)
        assert sample is not None and sample.answer == 7
        assert live_workers() == 1
        deadline = time.monotonic() + 2
        while live_workers() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert live_workers() == 0
    slot.close()
