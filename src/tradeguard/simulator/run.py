"""One scenario in progress: the pipeline, the traffic, the observer, and what was found.

:class:`ScenarioRun` is what a scenario body works with: it injects and removes faults
through the loopback control surfaces, waits for states the outside observer reads, and
collects ``AssertionResult``s. :meth:`ScenarioRun.judge_trades` counts new-risk orders at the
exchange simulator and judges each by its own decision record (see ``assertions``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..audit.records import AuditTable
from ..errors import TradeGuardError
from ..logging import get_logger
from ..policy import parse_utc
from . import assertions as rules
from .logcapture import ScenarioLogCapture
from .pipeline import SYMBOL, ScenarioPipeline
from .results import (
    AssertionResult,
    DecisionEvidence,
    ExchangeOrder,
    Observation,
    ScenarioAbortedError,
    SystemState,
    UnsafeInterval,
    Violation,
)
from .traffic import LoopbackControl, SignalProducer, StatusObserver

WARMUP_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class RunLimits:
    """How long a scenario waits for things (seconds)."""

    reaction_limit_s: float = 5.0
    """A fault must show in the state within this (SPEC §8: 5 s)."""
    downtime_reaction_limit_s: float = 1.0
    """Exchange downtime must show as NEUTRAL within this (SPEC §10 Detection: 1 s)."""
    recovery_limit_s: float = 5.0
    """After the fault is removed, the recovered state must show within this."""
    baseline_s: float = 0.3
    """Healthy traffic before the injection."""
    hold_s: float = 0.4
    """How long a detected fault is kept in force (signals keep flowing meanwhile)."""
    resume_s: float = 0.4
    """Healthy traffic after recovery (to see new risk accepted again)."""


@dataclass
class ScenarioRun:
    """The shared machinery of one scenario run."""

    scenario_id: str
    pipeline: ScenarioPipeline
    capture: ScenarioLogCapture
    limits: RunLimits
    control: LoopbackControl
    observer: StatusObserver
    producer: SignalProducer
    assertions: list[AssertionResult] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)
    injected_at: float | None = None
    recovered_at: float | None = None
    expected_state: str = ""
    actual_state: str = ""
    reaction_time_ms: float | None = None
    recovery_time_ms: float | None = None
    unsafe: tuple[UnsafeInterval, ...] = ()
    violations: tuple[Violation, ...] = ()
    log: Any = None

    @classmethod
    def open(
        cls,
        scenario_id: str,
        pipeline: ScenarioPipeline,
        capture: ScenarioLogCapture,
        limits: RunLimits,
    ) -> ScenarioRun:
        """Start observing and sending signals against a started pipeline."""
        container = pipeline.require()
        if pipeline.sse_server is None:
            raise ScenarioAbortedError("the loopback SSE server is not running")
        run = cls(
            scenario_id=scenario_id,
            pipeline=pipeline,
            capture=capture,
            limits=limits,
            control=LoopbackControl(pipeline.exchange_url, pipeline.sse_server.base_url),
            observer=StatusObserver(container.operator.status),
            producer=SignalProducer(container.gate.submit, pipeline.position, scenario_id, SYMBOL),
            log=get_logger("tradeguard.simulator", scenario_id=scenario_id),
        )
        run.observer.start()
        if run.observer.wait_for(lambda o: o.state is SystemState.ALLOW, WARMUP_TIMEOUT_S) is None:
            latest = run.observer.latest()
            seen = "nothing" if latest is None else f"{latest.state} ({latest.reason_code})"
            run.observer.stop()
            raise ScenarioAbortedError(
                f"the pipeline did not reach ALLOW within {WARMUP_TIMEOUT_S:.0f} s before the "
                f"injection; last reading: {seen}"
            )
        run.producer.start()
        time.sleep(limits.baseline_s)
        return run

    # -- injection and recovery ----------------------------------------------------------

    def inject(self, description: str, action: Callable[[], object]) -> float:
        """Make the fault (FSS-001 when it cannot be made); return the monotonic time."""
        self.injected_at = time.monotonic()
        action()
        self.log.warning("scenario_fault_injected", fault=description)
        return self.injected_at

    def recover(self, description: str, action: Callable[[], object]) -> float:
        """Remove the fault; return the monotonic time."""
        self.recovered_at = time.monotonic()
        action()
        self.log.info("scenario_fault_removed", fault=description)
        return self.recovered_at

    def stop_traffic(self) -> None:
        """Stop the producer and the observer."""
        self.producer.stop()
        self.observer.stop()
        self.control.close()

    # -- observing ------------------------------------------------------------------------

    def add(self, assertion: AssertionResult) -> None:
        """Record an assertion (and log it with its outcome)."""
        self.assertions.append(assertion)
        self.log.info(
            "scenario_assertion",
            assertion=assertion.name,
            passed=assertion.passed,
            code=assertion.code,
            message=assertion.message,
        )

    def wait_state(self, state: SystemState, timeout: float, since: float) -> Observation | None:
        """Wait for a reading of ``state`` taken after ``since``."""
        return self.observer.wait_for(lambda o: o.state is state, timeout, since)

    def readings(self) -> list[Observation]:
        """Every reading so far."""
        return self.observer.readings()

    def worst_between(self, start: float, end: float) -> SystemState:
        """The most severe state read between two monotonic times."""
        return rules.worst_state(rules.states_between(self.readings(), start, end))

    def check_reported(
        self, name: str, check: str, code: str, start: float, end: float, expectation: str
    ) -> AssertionResult:
        """Assert that health check ``check`` showed ``code`` in some reading in the range."""
        codes = sorted(
            {
                str(item.check_code(check))
                for item in self.readings()
                if start <= item.monotonic <= end
            }
        )
        return rules.check(
            name,
            code in codes,
            f"{check} check reports {code}",
            f"{check} codes seen: {', '.join(codes) or 'none'}",
            expectation,
        )

    def logged(self, code: str) -> int:
        """How many captured lines carry ``code``."""
        return rules.count_codes(self.capture.lines(), code)

    def audit_contains(self, text: str) -> list[str]:
        """Return the audit tables in which some row mentions ``text``."""
        store = self.pipeline.require().audit_store
        found = []
        for table in AuditTable:
            rows = store.rows(table)
            if any(text in json.dumps(row, default=str) for row in rows):
                found.append(table.value)
        return found

    def new_risk_accepted_after(self, since: float) -> int:
        """Count new-risk signals the gate executed that were sent after ``since``."""
        return sum(
            1
            for item in self.producer.sent()
            if item.monotonic >= since and item.intent == "OPEN" and item.accepted
        )

    def recover_to_allow(self, since: float) -> None:
        """Wait for ALLOW after ``since``; assert it and that new risk is accepted again."""
        limit = self.limits.recovery_limit_s
        reading = self.wait_state(SystemState.ALLOW, limit, since)
        self.recovery_time_ms = rules.elapsed_ms(since, reading)
        seen = "never" if reading is None else f"after {self.recovery_time_ms:.0f} ms"
        self.add(
            rules.check(
                "allow_after_recovery",
                reading is not None,
                f"ALLOW within {limit:.0f} s of recovery",
                f"ALLOW {seen}",
                "the system is ALLOW again after the fault is removed",
            )
        )
        if reading is None:
            return
        # Give traffic at least ``resume_s``, and up to the recovery limit, to get an OPEN
        # through: on a loaded machine the producer's next OPEN can take longer to complete.
        time.sleep(self.limits.resume_s)
        deadline = time.monotonic() + limit
        accepted = self.new_risk_accepted_after(reading.monotonic)
        while accepted == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
            accepted = self.new_risk_accepted_after(reading.monotonic)
        self.add(
            rules.check(
                "new_risk_accepted_after_recovery",
                accepted > 0,
                f"at least one OPEN executed within {limit:.0f} s after recovery",
                f"{accepted} executed",
                "new-risk signals are accepted again once the system is ALLOW",
            )
        )

    def detect(self, expected: SystemState, injected: float, limit_s: float | None = None) -> bool:
        """Assert ``expected`` shows within ``limit_s`` (default: the reaction limit)."""
        limit = self.limits.reaction_limit_s if limit_s is None else limit_s
        limit_ms = limit * 1000
        self.wait_state(expected, limit, injected)
        result, measured = rules.reached_within(
            f"{expected.value.lower()}_within_{limit:.0f}s",
            expected,
            self.readings(),
            injected,
            limit_ms,
        )
        self.reaction_time_ms = measured
        self.add(result)
        return measured is not None

    def stays_allow(self, injected: float, expectation: str) -> None:
        """Keep the harmless fault for a while and assert the state never left ALLOW."""
        time.sleep(self.limits.hold_s * 2)
        worst = self.worst_between(injected, time.monotonic())
        self.add(
            rules.check("stays_allow", worst is SystemState.ALLOW, "ALLOW", worst, expectation)
        )

    # -- judging --------------------------------------------------------------------------

    def _evidence(self, order: ExchangeOrder) -> DecisionEvidence | None:
        store = self.pipeline.require().audit_store
        correlation_id = order.client_order_id.removeprefix("tg-")
        try:
            rows = list(store.rows(AuditTable.POLICY_DECISION, correlation_id=correlation_id))
        except TradeGuardError as exc:
            raise ScenarioAbortedError(f"cannot read the decision trail: {exc}") from exc
        if not rows:
            return None
        first = rows[0]
        snapshot = first.get("context_snapshot") or {}
        read_at = snapshot.get("timestamp_utc") if isinstance(snapshot, dict) else None
        return DecisionEvidence(
            correlation_id,
            str(first["policy_decision"]),
            parse_utc(str(first["timestamp_utc"])),
            None if read_at is None else parse_utc(str(read_at)),
        )

    def judge_trades(self) -> None:
        """Count violations at the exchange and record the assertion."""
        orders = self.control_orders()
        readings = self.readings()
        evidence = {order.order_id: self._evidence(order) for order in orders}
        found = rules.trades_during_unsafe(orders, lambda o: evidence[o.order_id], readings)
        self.violations = tuple(found)
        self.unsafe = tuple(run.interval for run in rules.unsafe_runs(readings))
        self.notes["exchange_orders"] = len(orders)
        self.notes["exchange_new_risk_orders"] = sum(1 for o in orders if o.is_new_risk)
        self.notes["in_flight_at_transition"] = rules.in_flight_at_transition(
            orders, lambda o: evidence[o.order_id], readings
        )
        sent = self.producer.sent()
        self.notes["signals_sent"] = len(sent)
        self.notes["signals_executed"] = sum(1 for item in sent if item.accepted)
        self.notes["status_readings"] = len(readings)
        self.notes["observer_errors"] = self.observer.errors
        if self.injected_at is not None:
            self.notes["timeline"] = rules.transitions(readings, self.injected_at)
        self.add(rules.no_trades_during_unsafe(found))

    def control_orders(self) -> list[ExchangeOrder]:
        """Every order the exchange simulator accepted (read over HTTP)."""
        control = LoopbackControl(self.pipeline.exchange_url, "http://127.0.0.1:1")
        try:
            return control.accepted_orders()
        finally:
            control.close()


__all__ = ["WARMUP_TIMEOUT_S", "RunLimits", "ScenarioRun"]
