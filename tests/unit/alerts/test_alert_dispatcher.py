"""AlertDispatcher: bounded queues, folding, retries, the severity filter, never raising."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from tradeguard.alerts import AlertConfig, AlertDispatcher, render
from tradeguard.clock import FakeClock
from tradeguard.codes import ErrorCode
from tradeguard.metrics import ServiceMetrics
from tradeguard.ports import Alert, AlertSeverity, publish_alert


@dataclass
class RecordingTarget:
    label: str = "json#1"
    answers: list[bool | Exception] = field(default_factory=list)
    sent: list[tuple[str, str, AlertSeverity]] = field(default_factory=list)

    def send(self, title: str, body: str, severity: AlertSeverity) -> bool:
        self.sent.append((title, body, severity))
        answer = self.answers.pop(0) if self.answers else True
        if isinstance(answer, Exception):
            raise answer
        return answer


def alert(
    code: str = "KILL_SWITCH_ENGAGED",
    severity: AlertSeverity = AlertSeverity.CRITICAL,
    event: str = "kill_switch_engaged",
) -> Alert:
    return Alert(
        event=event,
        code=code,
        severity=severity,
        summary=f"{event} {code}",
        correlation_id=str(uuid.uuid4()),
        details={"operator_id": "alice"},
    )


def dispatcher(
    *targets: RecordingTarget,
    clock: FakeClock | None = None,
    metrics: ServiceMetrics | None = None,
    sleeps: list[float] | None = None,
    **config: object,
) -> AlertDispatcher:
    return AlertDispatcher(
        list(targets),
        AlertConfig(**config),  # type: ignore[arg-type]
        clock=clock or FakeClock(),
        on_outcome=None if metrics is None else metrics.alert_outcome,
        sleep=(sleeps.append if sleeps is not None else lambda _s: None),
    )


def counted(metrics: ServiceMetrics, outcome: str) -> float:
    value = metrics.registry.get_sample_value("tradeguard_alerts_total", {"outcome": outcome})
    return 0.0 if value is None else value


def test_a_full_queue_drops_new_alerts_and_counts_each_drop() -> None:
    metrics = ServiceMetrics()
    target = RecordingTarget()
    sink = dispatcher(target, metrics=metrics, queue_size=2, fold_window_seconds=0)
    with capture_logs() as logs:
        for index in range(5):
            sink.publish(alert(code=f"CODE_{index}"))
    assert counted(metrics, "dropped") == 3
    assert sink.counts == {"dropped": 3}
    drops = [line for line in logs if line["event"] == "alert_dropped"]
    assert [line["code"] for line in drops] == ["CODE_2", "CODE_3", "CODE_4"]
    assert {line["failure_code"] for line in drops} == {ErrorCode.ALERT_DROPPED}
    sink.start()
    sink.close(timeout=10)
    assert [body.splitlines()[1] for _t, body, _s in target.sent] == [
        "code: CODE_0",
        "code: CODE_1",
    ]
    assert counted(metrics, "sent") == 2


def test_repeats_inside_the_fold_window_are_folded_and_counted_in_the_next_alert() -> None:
    clock = FakeClock()
    metrics = ServiceMetrics()
    target = RecordingTarget()
    sink = dispatcher(target, clock=clock, metrics=metrics, fold_window_seconds=60)
    sink.publish(alert())
    clock.advance(10)
    sink.publish(alert())
    clock.advance(49.9)
    sink.publish(alert())
    sink.publish(alert(code="HALT_LATCHED", event="halt_latched"))  # another condition
    clock.advance(0.1)
    sink.publish(alert())  # the window has passed
    assert counted(metrics, "folded") == 2
    sink.start()
    sink.close(timeout=10)
    bodies = [body for _t, body, _s in target.sent]
    assert len(bodies) == 3
    assert "folded_before" not in bodies[0]
    assert "folded_before: 2" in bodies[2]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b", "c"]), st.floats(min_value=0, max_value=30)),
        max_size=40,
    ),
    st.floats(min_value=0.5, max_value=60),
)
def test_for_any_stream_each_condition_goes_out_at_most_once_per_window(
    stream: list[tuple[str, float]], window: float
) -> None:
    clock = FakeClock()
    sink = dispatcher(RecordingTarget(), clock=clock, fold_window_seconds=window, queue_size=1000)
    queued: dict[str, list[float]] = {}
    for key, gap in stream:
        clock.advance(gap)
        before = sink.counts.get("folded", 0)
        sink.publish(alert(code=key))
        if sink.counts.get("folded", 0) == before:
            queued.setdefault(key, []).append(clock.monotonic())
    assert sink.counts.get("folded", 0) + sum(map(len, queued.values())) == len(stream)
    for times in queued.values():
        assert all(later - earlier >= window for earlier, later in itertools.pairwise(times))
    # Every condition's first occurrence is sent.
    assert set(queued) == {key for key, _gap in stream}


def test_a_failing_target_is_retried_with_doubling_backoff_then_delivered() -> None:
    sleeps: list[float] = []
    target = RecordingTarget(answers=[False, RuntimeError("boom"), True])
    metrics = ServiceMetrics()
    sink = dispatcher(
        target, metrics=metrics, sleeps=sleeps, retry_attempts=3, backoff_initial_seconds=0.5
    )
    assert sink.deliver(target, alert()) is True
    assert sleeps == [0.5, 1.0]
    assert len(target.sent) == 3
    assert counted(metrics, "sent") == 1 and counted(metrics, "failed") == 0


def test_a_target_that_keeps_failing_is_logged_and_counted_after_the_last_attempt() -> None:
    sleeps: list[float] = []
    target = RecordingTarget(answers=[False] * 5)
    metrics = ServiceMetrics()
    sink = dispatcher(
        target,
        metrics=metrics,
        sleeps=sleeps,
        retry_attempts=5,
        backoff_initial_seconds=0.5,
        backoff_max_seconds=1.5,
    )
    sent = alert()
    with capture_logs() as logs:
        assert sink.deliver(target, sent) is False
    assert sleeps == [0.5, 1.0, 1.5, 1.5]
    assert counted(metrics, "failed") == 1
    (line,) = [line for line in logs if line["event"] == "alert_failed"]
    assert line["code"] == sent.code and line["correlation_id"] == sent.correlation_id
    assert line["failure_code"] == ErrorCode.ALERT_DELIVERY_FAILED
    assert line["target"] == "json#1" and line["attempts"] == 5


@pytest.mark.parametrize(
    ("minimum", "passed"),
    [
        (AlertSeverity.INFO, {"INFO", "WARNING", "CRITICAL"}),
        (AlertSeverity.WARNING, {"WARNING", "CRITICAL"}),
        (AlertSeverity.CRITICAL, {"CRITICAL"}),
    ],
)
def test_alerts_below_the_minimum_severity_are_filtered(
    minimum: AlertSeverity, passed: set[str]
) -> None:
    metrics = ServiceMetrics()
    target = RecordingTarget()
    sink = dispatcher(target, metrics=metrics, min_severity=minimum)
    for severity in AlertSeverity:
        sink.publish(alert(code=severity.value, severity=severity))
    sink.start()
    sink.close(timeout=10)
    assert {severity.value for _t, _b, severity in target.sent} == passed
    assert counted(metrics, "filtered") == 3 - len(passed)


def test_publish_never_raises_even_when_the_target_and_the_metrics_raise() -> None:
    def broken_metrics(_outcome: str) -> None:
        raise RuntimeError("metrics down")

    target = RecordingTarget(answers=[RuntimeError("apprise exploded")] * 3)
    sink = AlertDispatcher(
        [target], AlertConfig(), clock=FakeClock(), on_outcome=broken_metrics, sleep=lambda _: 0
    )
    sink.publish(alert())
    sink.start()
    sink.close(timeout=10)
    assert sink.counts["failed"] == 1

    class ExplodingSink:
        def publish(self, _alert: Alert) -> None:
            raise RuntimeError("sink down")

    publish_alert(ExplodingSink(), alert())  # swallowed: the action it reports goes on


def test_publish_survives_an_internal_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    sink = dispatcher(RecordingTarget())

    def broken_fold(_alert: Alert) -> int:
        raise RuntimeError("bug")

    monkeypatch.setattr(sink, "_fold", broken_fold)
    with capture_logs() as logs:
        sink.publish(alert())
    assert [line["event"] for line in logs] == ["alert_publish_failed"]


def test_the_rendered_alert_carries_code_correlation_id_details_and_status_link() -> None:
    sent = alert()
    title, body = render(sent, "http://ops.example:8080/v1/status")
    assert "CRITICAL" in title
    assert f"correlation_id: {sent.correlation_id}" in body.splitlines()
    assert "code: KILL_SWITCH_ENGAGED" in body.splitlines()
    assert "operator_id: alice" in body.splitlines()
    assert "status: http://ops.example:8080/v1/status" in body.splitlines()


def test_alerts_queued_at_shutdown_beyond_the_drain_time_are_dropped_and_logged() -> None:
    sink = dispatcher(RecordingTarget(), fold_window_seconds=0)
    sink.publish(alert(code="A"))
    sink.publish(alert(code="B"))
    with capture_logs() as logs:
        sink.close(timeout=0)  # never started: nothing can be delivered
    assert sink.counts == {"dropped": 2}
    assert {line["code"] for line in logs if line["event"] == "alert_dropped"} == {"A", "B"}
