"""The HTTP surface through the FastAPI test client on a real container (SPEC §7)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.service_support import (
    PASSPHRASE,
    SECRET,
    bearer,
    count_rows,
    make_settings,
    post_signal,
    service,
    signal_body,
    signed_headers,
)
from tradeguard.api.auth import SIGNATURE_HEADER, TIMESTAMP_HEADER

STATUS_KEYS = {
    "state",
    "decision",
    "reason_code",
    "is_latched",
    "kill_switch_active",
    "budget_signal",
    "health_status",
    "risk_assessment",
    "health_checks",
    "clock_drift_ms",
    "execution_mode",
}

OPERATOR_CALLS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/v1/status", None),
    ("POST", "/v1/kill-switch", {"active": False, "operator_id": "ops", "reason": "check"}),
    ("POST", "/v1/latch/reset", {"operator_id": "ops", "reason": "check"}),
    ("GET", "/v1/decisions?limit=5", None),
    ("GET", "/v1/audit/verify", None),
]


def test_signed_signal_under_allow_is_executed_on_paper() -> None:
    with service() as (container, client):
        response = post_signal(client, signal_body())
        assert response.status_code == 200
        answer = response.json()
        assert answer["decision"] == "ALLOW"
        assert answer["outcome"] == "EXECUTED"
        assert answer["order"]["status"] == "FILLED"
        assert count_rows(container, "order_audit") >= 1


def test_signal_after_kill_switch_is_refused_with_halt() -> None:
    with service() as (_container, client):
        engaged = client.post(
            "/v1/kill-switch",
            json={"active": True, "operator_id": "alice", "reason": "drill"},
            headers=bearer(),
        )
        assert engaged.status_code == 200
        assert engaged.json()["kill_switch"]["active"] is True
        answer = post_signal(client, signal_body()).json()
        assert answer["decision"] == "HALT"
        assert answer["reason_code"] == "HALT_KILL_SWITCH"
        assert answer["outcome"] == "REFUSED"
        status = client.get("/v1/status", headers=bearer()).json()
        assert status["state"] == "HALT" and status["kill_switch_active"] is True


def test_status_has_every_spec_key_and_never_writes() -> None:
    with service() as (container, client):
        before = {t: count_rows(container, t) for t in ("policy_decision_audit", "signal_audit")}
        for _ in range(3):
            status = client.get("/v1/status", headers=bearer())
            assert status.status_code == 200
        data = status.json()
        assert set(data) >= STATUS_KEYS
        assert data["state"] in {"ALLOW", "NEUTRAL", "HALT", "L6_LOCKDOWN"}
        for check in data["health_checks"]:
            assert {"name", "status", "code"} <= set(check)
        after = {t: count_rows(container, t) for t in before}
        assert after == before


@pytest.mark.parametrize(("method", "path", "body"), OPERATOR_CALLS)
def test_operator_endpoint_refuses_missing_and_wrong_token_and_accepts_right_one(
    method: str, path: str, body: dict[str, Any] | None
) -> None:
    with service() as (_container, client):
        missing = client.request(method, path, json=body)
        wrong = client.request(method, path, json=body, headers=bearer("not-the-token"))
        right = client.request(method, path, json=body, headers=bearer())
    assert missing.status_code == 401 and missing.json()["code"] == "AUTH_INVALID"
    assert wrong.status_code == 401 and wrong.json()["code"] == "AUTH_INVALID"
    assert right.status_code == 200


@pytest.mark.parametrize(("method", "path", "body"), OPERATOR_CALLS)
def test_operator_endpoint_without_configured_token_is_disabled(
    method: str, path: str, body: dict[str, Any] | None
) -> None:
    with service(make_settings(operator_token=None)) as (_container, client):
        response = client.request(method, path, json=body, headers=bearer())
    assert response.status_code == 403
    assert response.json()["code"] == "OPERATOR_API_DISABLED"


def test_webhook_refuses_bad_signature_and_stale_timestamp() -> None:
    with service() as (container, client):
        raw = json.dumps(signal_body()).encode()
        forged = client.post(
            "/v1/signals", content=raw, headers=signed_headers(raw, secret="other-secret")
        )
        stale = client.post(
            "/v1/signals", content=raw, headers=signed_headers(raw, at=time.time() - 301)
        )
        no_time = {k: v for k, v in signed_headers(raw).items() if k != TIMESTAMP_HEADER}
        missing_ts = client.post("/v1/signals", content=raw, headers=no_time)
        assert count_rows(container, "order_audit") == 0
    for response in (forged, stale, missing_ts):
        assert response.status_code == 401
        assert response.json()["code"] == "AUTH_INVALID"


def test_webhook_refuses_signed_body_whose_own_timestamp_is_stale() -> None:
    with service() as (_container, client):
        body = signal_body(timestamp="2020-01-01T00:00:00Z")
        response = post_signal(client, body)
    assert response.status_code == 401


def test_webhook_passphrase_mode_accepts_and_never_stores_the_passphrase(tmp_path: Path) -> None:
    settings = make_settings(f"sqlite:///{tmp_path / 'tg.db'}")
    with service(settings) as (_container, client):
        ok = client.post("/v1/signals", json={**signal_body(), "passphrase": PASSPHRASE})
        bad = client.post("/v1/signals", json={**signal_body(), "passphrase": "nope"})
        assert ok.status_code == 200, ok.text
        assert bad.status_code == 401
    assert PASSPHRASE.encode() not in (tmp_path / "tg.db").read_bytes()
    for wal in tmp_path.glob("tg.db-*"):
        assert PASSPHRASE.encode() not in wal.read_bytes()


def test_webhook_refuses_body_over_64_kib_with_413() -> None:
    with service() as (_container, client):
        raw = json.dumps(signal_body(strategy="x" * 70_000)).encode()
        response = client.post("/v1/signals", content=raw, headers=signed_headers(raw))

        def chunks() -> Any:
            for _ in range(80):
                yield b" " * 1024

        streamed = client.post(
            "/v1/signals",
            content=chunks(),
            headers={SIGNATURE_HEADER: "sha256=00", TIMESTAMP_HEADER: str(int(time.time()))},
        )
    assert response.status_code == 413 and response.json()["code"] == "BODY_TOO_LARGE"
    assert streamed.status_code == 413


def test_webhook_invalid_signal_is_422_naming_the_fields() -> None:
    with service() as (container, client):
        response = post_signal(client, signal_body(side="HOLD", quantity="-1"))
        assert count_rows(container, "order_audit") == 0
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "SIGNAL_INVALID"
    assert {f["field"] for f in body["fields"]} >= {"side", "quantity"}


def test_webhook_replayed_id_with_other_content_is_409_and_same_content_is_first_answer() -> None:
    with service() as (container, client):
        body = signal_body()
        first = post_signal(client, body).json()
        again = post_signal(client, body)
        replay = post_signal(client, {**body, "quantity": "0.02"})
        orders = count_rows(container, "order_audit")
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert again.json()["correlation_id"] == first["correlation_id"]
    assert replay.status_code == 409 and replay.json()["code"] == "SIGNAL_REPLAYED"
    assert orders >= 1


def test_webhook_answers_503_when_the_gate_cannot_record() -> None:
    with service() as (container, client):
        container.audit_store.close()
        response = post_signal(client, signal_body())
    assert response.status_code == 503
    assert response.json()["code"]


def test_latch_reset_clears_latch_after_kill_switch_release() -> None:
    with service() as (_container, client):
        client.post(
            "/v1/kill-switch",
            json={"active": True, "operator_id": "a", "reason": "r"},
            headers=bearer(),
        )
        post_signal(client, signal_body())
        client.post(
            "/v1/kill-switch",
            json={"active": False, "operator_id": "a", "reason": "r"},
            headers=bearer(),
        )
        latched = client.get("/v1/status", headers=bearer()).json()
        reset = client.post(
            "/v1/latch/reset", json={"operator_id": "a", "reason": "fixed"}, headers=bearer()
        )
        after = client.get("/v1/status", headers=bearer()).json()
    assert latched["reason_code"] == "HALT_LATCHED" and latched["is_latched"]
    assert reset.status_code == 200 and reset.json()["was_latched"] is True
    assert after["state"] == "ALLOW"


def test_operator_body_without_operator_id_is_422_with_fields() -> None:
    with service() as (_container, client):
        response = client.post(
            "/v1/kill-switch",
            json={"active": True, "operator_id": "", "reason": "x"},
            headers=bearer(),
        )
    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "operator_id"


def test_probes_metrics_and_dashboard_answer() -> None:
    with service() as (_container, client):
        post_signal(client, signal_body())
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/readyz").status_code == 200
        metrics = client.get("/metrics").text
        page = client.get("/")
        docs = client.get("/docs")
    for name in (
        "tradeguard_decisions_total",
        "tradeguard_decision_latency_seconds",
        "tradeguard_latch_active",
        "tradeguard_kill_switch_active",
        "tradeguard_clock_drift_ms",
        "tradeguard_audit_append_seconds",
        "tradeguard_signals_total",
        "tradeguard_feed_reconnects_total",
    ):
        assert name in metrics
    assert page.status_code == 200 and "/v1/status" in page.text
    assert docs.status_code == 200


def test_decisions_since_must_be_a_timestamp() -> None:
    with service() as (_container, client):
        bad = client.get("/v1/decisions?since=yesterday", headers=bearer())
        good = client.get("/v1/decisions?since=2020-01-01T00:00:00Z", headers=bearer())
    assert bad.status_code == 422 and bad.json()["code"] == "INPUT_INVALID_VALUE"
    assert good.status_code == 200


def test_webhook_without_secret_configured_refuses_signatures() -> None:
    with service(make_settings(webhook_secret=None)) as (_container, client):
        response = post_signal(client, signal_body())
    assert response.status_code == 401
    assert SECRET not in response.text


def test_unknown_route_is_404_route_not_found_and_wrong_method_is_405() -> None:
    with service() as (_, client):
        missing = client.get("/v1/no-such-route")
        wrong_method = client.get("/v1/kill-switch", headers=bearer())
        static_missing = client.get("/static/no-such-file.js")
    assert missing.status_code == 404 and missing.json()["code"] == "ROUTE_NOT_FOUND"
    assert static_missing.status_code == 404 and static_missing.json()["code"] == "ROUTE_NOT_FOUND"
    assert wrong_method.status_code == 405
    assert wrong_method.json()["code"] == "METHOD_NOT_ALLOWED"
