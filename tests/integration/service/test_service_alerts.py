"""Every alert event, raised by a real container and delivered to a loopback JSON webhook."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.alert_receiver import AlertReceiver, alert_receiver
from tests.service_support import bearer, make_settings, service
from tradeguard.audit.records import AuditTable
from tradeguard.background import Heartbeat
from tradeguard.bootstrap import Container, build_container
from tradeguard.errors import ConfigurationError
from tradeguard.execution.reconciliation import ReconciliationJob
from tradeguard.policy import Side
from tradeguard.ports import ChainBreak, OrderState, OrderStatus, VerifyReport

WAIT = 10.0


def fields(body: dict[str, Any]) -> dict[str, str]:
    """The ``key: value`` lines of an alert's message."""
    found = {}
    for line in body["message"].splitlines():
        match = re.fullmatch(r"([a-z_]+): (.*)", line)
        if match:
            found[match.group(1)] = match.group(2)
    return found


def event_is(name: str) -> Any:
    return lambda body: fields(body).get("event") == name


@contextmanager
def alerting_service(**overrides: Any) -> Iterator[tuple[Container, TestClient, AlertReceiver]]:
    with alert_receiver() as receiver:
        settings = make_settings(
            alert_urls=receiver.url,
            public_url="https://ops.example/tradeguard",
            **overrides,
        )
        with service(settings) as (container, client):
            assert container.alerts is not None
            container.alerts.start()
            yield container, client, receiver


def test_kill_switch_engage_and_release_through_the_api_alert_with_operator_and_reason() -> None:
    with alerting_service() as (_container, client, receiver):
        engaged = client.post(
            "/v1/kill-switch",
            json={"active": True, "operator_id": "alice", "reason": "exchange outage"},
            headers=bearer(),
        ).json()
        released = client.post(
            "/v1/kill-switch",
            json={"active": False, "operator_id": "bob", "reason": "outage over"},
            headers=bearer(),
        ).json()
        on = receiver.wait_for(event_is("kill_switch_engaged"), WAIT)
        off = receiver.wait_for(event_is("kill_switch_released"), WAIT)
    assert on is not None and off is not None
    assert fields(on)["code"] == "KILL_SWITCH_ENGAGED"
    assert fields(on)["operator_id"] == "alice" and fields(on)["reason"] == "exchange outage"
    assert fields(on)["correlation_id"] == engaged["correlation_id"]
    assert fields(on)["status"] == "https://ops.example/tradeguard/v1/status"
    assert fields(off)["code"] == "KILL_SWITCH_RELEASED" and fields(off)["operator_id"] == "bob"
    assert fields(off)["correlation_id"] == released["correlation_id"]


def test_a_latched_halt_alerts_once_with_gate_and_code_and_the_reset_alerts_too() -> None:
    with alerting_service() as (container, client, receiver):
        heartbeat = Heartbeat(container)
        client.post(
            "/v1/kill-switch",
            json={"active": True, "operator_id": "alice", "reason": "drill"},
            headers=bearer(),
        )
        heartbeat.beat()
        heartbeat.beat()  # still latched: no second alert
        client.post(
            "/v1/kill-switch",
            json={"active": False, "operator_id": "alice", "reason": "drill over"},
            headers=bearer(),
        )
        reset = client.post(
            "/v1/latch/reset", json={"operator_id": "carol", "reason": "checked"}, headers=bearer()
        ).json()
        latched = receiver.wait_for(event_is("halt_latched"), WAIT)
        reset_alert = receiver.wait_for(event_is("latch_reset"), WAIT)
        halts = [body for body in receiver.bodies if event_is("halt_latched")(body)]
        rows = list(container.audit_store.rows(AuditTable.POLICY_DECISION))
    assert latched is not None and reset_alert is not None
    assert fields(latched)["code"] == "HALT_KILL_SWITCH"
    assert fields(latched)["gate"] == "KILL_SWITCH"
    # The decision row that latched was recorded first, under the alert's correlation id.
    assert fields(latched)["correlation_id"] in {row["correlation_id"] for row in rows}
    assert len(halts) == 1
    assert fields(reset_alert)["code"] == "LATCH_RESET"
    assert fields(reset_alert)["operator_id"] == "carol"
    assert fields(reset_alert)["correlation_id"] == reset["correlation_id"]
    assert fields(reset_alert)["was_latched"] == "true"


def test_l6_lockdown_alerts_as_critical_with_its_own_code() -> None:
    with alerting_service() as (container, _client, receiver):
        assert container.lockdown.enter(5) is True
        body = receiver.wait_for(event_is("l6_lockdown"), WAIT)
    assert body is not None
    assert fields(body)["code"] == "L6_LOCKDOWN" and fields(body)["severity"] == "CRITICAL"
    assert fields(body)["operator_id"] == "system:event-feed"
    assert body["type"] == "failure"


def test_a_broken_audit_chain_found_by_verify_alerts() -> None:
    with alerting_service() as (container, client, receiver):
        broken = VerifyReport(
            3, (), (ChainBreak(AuditTable.OPERATOR, 2, "AUD-004", "row hash mismatch"),)
        )
        container.audit_store.verify = lambda: broken  # type: ignore[method-assign]
        answer = client.get("/v1/audit/verify", headers=bearer()).json()
        body = receiver.wait_for(event_is("audit_verification_failed"), WAIT)
    assert answer["ok"] is False
    assert body is not None
    assert fields(body)["code"] == "AUD-004" and fields(body)["seq"] == "2"


def test_a_partial_fill_alerts_a_reconciliation_mismatch() -> None:
    with alerting_service() as (container, _client, receiver):
        correlation_id = str(uuid.uuid4())
        job = ReconciliationJob(
            correlation_id=correlation_id,
            symbol="BTCUSDT",
            side=Side.BUY,
            intent="OPEN",
            order_id="order-1",
            client_order_id=None,
            requested_quantity=Decimal("1"),
            applied_quantity=Decimal("0.4"),
        )
        state = OrderState(
            order_id="order-1",
            client_order_id="tg-1",
            symbol="BTCUSDT",
            side=Side.BUY,
            status=OrderStatus.PARTIALLY_FILLED,
            requested_quantity=Decimal("1"),
            filled_quantity=Decimal("0.4"),
        )
        container.execution.reconciler.close()  # no polling: only the alert matters here
        container.execution.reconciler.after_order(job, state, None)
        body = receiver.wait_for(event_is("reconciliation_mismatch"), WAIT)
    assert body is not None
    assert fields(body)["code"] == "PARTIAL_FILL_DISCREPANCY"
    assert fields(body)["correlation_id"] == correlation_id


def test_clock_drift_alerts_when_it_leaves_tolerance_and_when_it_returns() -> None:
    from tradeguard.sources.clock_sync import TimeSyncResult

    def result(drift: float, within: bool) -> TimeSyncResult:
        now = datetime.now(UTC)
        return TimeSyncResult(
            local_time_utc=now,
            exchange_time_utc=now,
            drift_ms=drift,
            rtt_ms=1.0,
            uncertainty_ms=0.5,
            is_within_tolerance=within,
            error_code=None if within else "EXCHANGE_TIME_DRIFT",
            correlation_id=str(uuid.uuid4()),
            timestamp_utc=now,
        )

    with alerting_service() as (container, _client, receiver):
        hook = container.time_sync._on_result
        assert hook is not None
        hook(result(2500, False))
        hook(result(2600, False))  # still drifting: no second alert
        hook(result(10, True))
        drift = receiver.wait_for(event_is("clock_drift"), WAIT)
        back = receiver.wait_for(event_is("clock_drift_resolved"), WAIT)
        drifts = [body for body in receiver.bodies if event_is("clock_drift")(body)]
    assert drift is not None and back is not None
    assert fields(drift)["code"] == "EXCHANGE_TIME_DRIFT" and fields(drift)["drift_ms"] == "2500"
    assert fields(back)["code"] == "EXCHANGE_TIME_DRIFT_RESOLVED"
    assert len(drifts) == 1


def test_status_shows_alerts_configured_without_any_url() -> None:
    with alerting_service() as (_container, client, receiver):
        status = client.get("/v1/status", headers=bearer()).json()
        metrics = client.get("/metrics").text
    assert status["safeguards"]["alerts"] == "CONFIGURED"
    assert receiver.url.removeprefix("json://") not in str(status)
    assert 'tradeguard_alerts_total{outcome="dropped"} 0.0' in metrics


def test_an_invalid_alert_url_refuses_to_build_the_service_with_its_code() -> None:
    with pytest.raises(ConfigurationError) as caught:
        build_container(make_settings(alert_urls="json://ok.example/hook,nosuchscheme://tok"))
    assert caught.value.code == "ALERT_URL_INVALID"
    assert "#2" in caught.value.message and "tok" not in caught.value.message
