"""``FailureScenarioSimulator``: run the six SPEC §8 scenarios against the real pipeline.

Each scenario gets a fresh pipeline (see :mod:`.pipeline`), a signal producer sending OPEN and
CLOSE signals through the gate every 20–50 ms, and an outside observer polling the status.
The fault is injected through the loopback servers' control surfaces, observed, removed, and
observed again. Around every scenario body the simulator adds the common assertions:

- ``expected_state``: the state observed under the fault equals the scenario's expectation;
- ``no_new_risk_orders_while_unsafe``: counted at the exchange simulator (``GET /_sim/orders``)
  and judged by each order's own decision record (see :mod:`.assertions`);
- ``logs_carry_scenario_id_and_outcome``: every captured log line is stamped.

A failed assertion carries FSS-002 and names the violated expectation; a fault that cannot be
injected (or a pipeline that cannot start) ends the scenario with one FSS-001 assertion.

**After recovery.** NEUTRAL never latches, so downtime, stale data, clock drift and a short
feed storm must return to ALLOW by themselves. HALT latches: after the budget report is
repaired the scenario asserts that the latch *holds* for the re-validation window
(``latch_reset_window_seconds``, 1 s in the scenario pipeline instead of 300 s) and then clears
by itself to ALLOW — no operator reset is used. L6 lockdown never clears by itself: the storm
scenario asserts it persists after the feed reconnects.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from ..bootstrap import Container
from ..logging import get_logger
from . import assertions as rules
from . import scenarios as bodies
from .credentials import auth_revoked
from .logcapture import ScenarioLogCapture
from .pipeline import PipelineTimings, ScenarioPipeline
from .results import ScenarioAbortedError, ScenarioResult, ScenarioType
from .run import RunLimits, ScenarioRun

DEFAULT_PARAMETERS: dict[ScenarioType, dict[str, Any]] = {
    ScenarioType.EXCHANGE_DOWNTIME: {"duration_s": 1.0},
    ScenarioType.PARTIAL_FILL: {"fill_pct": 40.0},
    ScenarioType.STALE_MARKET_DATA: {"age_hours": 2.0},
    ScenarioType.BUDGETGUARD_CORRUPTION: {"mode": "garbage"},
    ScenarioType.SSE_DISCONNECT_STORM: {"count": 5},
    ScenarioType.EXCHANGE_CLOCK_DRIFT: {"drift_ms": 2500},
    ScenarioType.EXCHANGE_AUTH_REVOKED: {"duration_s": 1.0},
}

Body = Callable[[ScenarioRun], None]
ProgressCallback = Callable[[ScenarioType, ScenarioResult | None], None]


class FailureScenarioSimulator:
    """Run failure scenarios against fresh, real pipelines and return their results.

    Args:
        timings: Intervals of the scenario pipelines (short by default).
        limits: Waiting limits (SPEC §8: the fault must show within 5 s).
        container_hook: Called with each built container before its background work starts;
            tests use it to plant a fault and prove the assertions can fail.
    """

    def __init__(
        self,
        timings: PipelineTimings | None = None,
        limits: RunLimits | None = None,
        *,
        container_hook: Callable[[Container], object] | None = None,
    ) -> None:
        self.timings = timings or PipelineTimings()
        self.limits = limits or RunLimits()
        self._hook = container_hook
        self._log = get_logger("tradeguard.simulator")

    # -- the six scenarios ------------------------------------------------------------------

    def inject_exchange_downtime(self, duration_s: float = 1.0) -> ScenarioResult:
        """The exchange stops answering; expect NEUTRAL within 1 s, ALLOW after recovery."""
        return self._execute(
            ScenarioType.EXCHANGE_DOWNTIME,
            {"duration_s": duration_s},
            lambda run: bodies.exchange_downtime(run, duration_s),
        )

    def inject_partial_fill(self, fill_pct: float = 40.0) -> ScenarioResult:
        """Orders fill only ``fill_pct`` %; expect discrepancy logged and a reconciled book."""
        return self._execute(
            ScenarioType.PARTIAL_FILL,
            {"fill_pct": fill_pct},
            lambda run: bodies.partial_fill(run, fill_pct),
        )

    def inject_stale_market_data(self, age_hours: float = 2.0) -> ScenarioResult:
        """Tickers frozen ``age_hours`` in the past; expect new risk refused until fresh."""
        return self._execute(
            ScenarioType.STALE_MARKET_DATA,
            {"age_hours": age_hours},
            lambda run: bodies.stale_market_data(run, age_hours),
        )

    def inject_budgetguard_corruption(self, mode: str = "garbage") -> ScenarioResult:
        """Corrupt the budget report (garbage, truncated, wrong_types, negative); expect HALT."""
        return self._execute(
            ScenarioType.BUDGETGUARD_CORRUPTION,
            {"mode": mode},
            lambda run: bodies.budget_corruption(run, mode),
        )

    def inject_sse_disconnect_storm(self, count: int = 5) -> ScenarioResult:
        """Refuse ``count`` feed connections; expect L6_LOCKDOWN exactly when count >= 5."""
        return self._execute(
            ScenarioType.SSE_DISCONNECT_STORM,
            {"count": count},
            lambda run: bodies.disconnect_storm(run, count),
        )

    def inject_exchange_clock_drift(self, drift_ms: int = 2500) -> ScenarioResult:
        """Skew the exchange clock; expect NEUTRAL above 1000 ms, ALLOW within tolerance."""
        return self._execute(
            ScenarioType.EXCHANGE_CLOCK_DRIFT,
            {"drift_ms": drift_ms},
            lambda run: bodies.clock_drift(run, drift_ms),
        )

    def inject_exchange_auth_revoked(self, duration_s: float = 1.0) -> ScenarioResult:
        """Revoke the API keys; expect HALT latched with EXCHANGE_AUTH_FAILED, no new risk."""
        return self._execute(
            ScenarioType.EXCHANGE_AUTH_REVOKED,
            {"duration_s": duration_s},
            lambda run: auth_revoked(run, duration_s),
        )

    # -- running by name --------------------------------------------------------------------

    def run(self, scenario: ScenarioType | str, **parameters: Any) -> ScenarioResult:
        """Run one scenario by type or (case-insensitive) name with its default parameters."""
        kind = scenario if isinstance(scenario, ScenarioType) else ScenarioType.parse(scenario)
        values = {**DEFAULT_PARAMETERS[kind], **parameters}
        methods: dict[ScenarioType, Callable[..., ScenarioResult]] = {
            ScenarioType.EXCHANGE_DOWNTIME: self.inject_exchange_downtime,
            ScenarioType.PARTIAL_FILL: self.inject_partial_fill,
            ScenarioType.STALE_MARKET_DATA: self.inject_stale_market_data,
            ScenarioType.BUDGETGUARD_CORRUPTION: self.inject_budgetguard_corruption,
            ScenarioType.SSE_DISCONNECT_STORM: self.inject_sse_disconnect_storm,
            ScenarioType.EXCHANGE_CLOCK_DRIFT: self.inject_exchange_clock_drift,
            ScenarioType.EXCHANGE_AUTH_REVOKED: self.inject_exchange_auth_revoked,
        }
        return methods[kind](**values)

    def run_all(
        self,
        scenarios: Iterable[ScenarioType] | None = None,
        progress: ProgressCallback | None = None,
    ) -> list[ScenarioResult]:
        """Run the given scenarios (all six by default) in order with default parameters."""
        results = []
        for kind in list(scenarios) if scenarios is not None else list(ScenarioType):
            if progress is not None:
                progress(kind, None)
            result = self.run(kind)
            results.append(result)
            if progress is not None:
                progress(kind, result)
        return results

    # -- the common frame -------------------------------------------------------------------

    def _execute(
        self, kind: ScenarioType, parameters: dict[str, Any], body: Body
    ) -> ScenarioResult:
        scenario_id = f"{kind.value.lower()}-{uuid.uuid4().hex[:12]}"
        started = time.monotonic()
        with ScenarioLogCapture(scenario_id) as capture:
            log = self._log.bind(scenario_id=scenario_id)
            log.info("scenario_started", scenario_type=kind.value, parameters=parameters)
            run: ScenarioRun | None = None
            aborted: ScenarioAbortedError | None = None
            crashed: Exception | None = None
            try:
                with ScenarioPipeline(self.timings, container_hook=self._hook) as pipeline:
                    run = ScenarioRun.open(scenario_id, pipeline, capture, self.limits)
                    try:
                        body(run)
                    except ScenarioAbortedError as exc:
                        aborted = exc
                    finally:
                        run.stop_traffic()
                    run.judge_trades()
            except ScenarioAbortedError as exc:
                aborted = aborted or exc
            except Exception as exc:  # a broken scenario is a failed scenario, never a pass
                crashed = exc
                log.error("scenario_crashed", code="FSS-002", error=repr(exc))
            if aborted is not None:
                log.error("scenario_aborted", code=aborted.code, message=aborted.message)
            result = self._result(
                kind, parameters, scenario_id, run, (aborted, crashed), capture, started
            )
        return result

    def _result(
        self,
        kind: ScenarioType,
        parameters: dict[str, Any],
        scenario_id: str,
        run: ScenarioRun | None,
        failure: tuple[ScenarioAbortedError | None, Exception | None],
        capture: ScenarioLogCapture,
        started: float,
    ) -> ScenarioResult:
        aborted, crashed = failure
        checks = [] if run is None else list(run.assertions)
        if run is not None and aborted is None and crashed is None:
            checks.insert(0, rules.state_matches(run.expected_state, run.actual_state))
        if aborted is not None:
            checks.append(rules.aborted("injection", f"{aborted.code}: {aborted.message}"))
        if crashed is not None:
            checks.append(
                rules.check(
                    "scenario_completed",
                    False,
                    "the scenario runs to completion",
                    repr(crashed),
                    "the scenario runs to completion",
                )
            )
        passed = bool(checks) and all(item.passed for item in checks)
        lines = capture.lines()
        stamped = all("scenario_id" in line and "outcome" in line for line in lines)
        checks.append(
            rules.check(
                "logs_carry_scenario_id_and_outcome",
                stamped,
                "every line has scenario_id and outcome",
                f"{len(lines)} lines, stamped={stamped}",
                "every log line of the scenario carries scenario_id and outcome",
            )
        )
        passed = passed and stamped
        outcome = "PASS" if passed else ("ABORTED" if aborted is not None else "FAIL")
        self._log.bind(scenario_id=scenario_id).info(
            "scenario_finished",
            scenario_type=kind.value,
            outcome_of_scenario=outcome,
            failures=[item.name for item in checks if not item.passed],
        )
        logs = capture.finish(outcome)
        return ScenarioResult(
            scenario_id=scenario_id,
            scenario_type=kind,
            expected_state="" if run is None else run.expected_state,
            actual_state="" if run is None else run.actual_state,
            assertion_passed=passed,
            trades_during_unsafe=0 if run is None else len(run.violations),
            logs=logs,
            duration_ms=(time.monotonic() - started) * 1000,
            assertions=tuple(checks),
            reaction_time_ms=None if run is None else run.reaction_time_ms,
            recovery_time_ms=None if run is None else run.recovery_time_ms,
            parameters=dict(parameters),
            unsafe_intervals=() if run is None else run.unsafe,
            violations=() if run is None else run.violations,
            notes={} if run is None else dict(run.notes),
        )


__all__ = ["DEFAULT_PARAMETERS", "FailureScenarioSimulator"]
