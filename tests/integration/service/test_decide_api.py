"""The decide API in process: decisions recorded, nothing sent, permits held until reported."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.service_support import (
    LOOSE_ORDER_CONTROLS,
    PASSPHRASE,
    bearer,
    count_rows,
    make_settings,
    signal_body,
    signed_headers,
)
from tradeguard.api import create_app
from tradeguard.audit.records import AuditTable
from tradeguard.background import prime_sources
from tradeguard.bootstrap import Container, build_container
from tradeguard.clock import FakeClock
from tradeguard.integrations.client import DecideClient, DecideRequestError

TTL = 5.0


@contextmanager
def decide_service(**overrides: Any) -> Iterator[tuple[Container, TestClient, FakeClock]]:
    clock = FakeClock(datetime.now(UTC))
    # A generous source timeout: a source slowed by a busy machine must not turn into a HALT.
    settings = make_settings(
        permit_ttl_seconds=TTL, source_timeout_ms=5000, **{**LOOSE_ORDER_CONTROLS, **overrides}
    )
    container = build_container(settings, clock=clock)
    prime_sources(container)
    try:
        with TestClient(create_app(container), raise_server_exceptions=False) as client:
            yield container, client, clock
    finally:
        container.close()


@pytest.fixture
def running() -> Iterator[tuple[Container, TestClient, FakeClock]]:
    with decide_service() as triple:
        yield triple


def post(client: TestClient, path: str, body: dict[str, Any]) -> Any:
    raw = json.dumps(body).encode()
    return client.post(path, content=raw, headers=signed_headers(raw))


def decide(client: TestClient, **fields: Any) -> Any:
    return post(client, "/v1/decide", signal_body(**fields))


def report(client: TestClient, permit_id: str, **fields: Any) -> Any:
    body = {"exchange_order_id": "x-1", "status": "FILLED", "filled_quantity": "0.01"}
    body.update(fields)
    return post(client, f"/v1/decide/{permit_id}/report", body)


def order_rows(container: Container) -> list[dict[str, Any]]:
    return list(container.audit_store.rows(AuditTable.ORDER))


def test_an_allowed_intent_is_recorded_answered_with_a_permit_and_nothing_is_sent(running):
    container, client, clock = running
    response = decide(client, signal_id="d-1", quantity="0.01")
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["decision"] == "ALLOW"
    assert answer["permitted"] is True
    assert answer["permit_id"] == answer["correlation_id"]
    assert answer["codes"] == ["ALLOW_ALL_GATES_PASSED"]
    expires = datetime.fromisoformat(answer["expires_at"].replace("Z", "+00:00"))
    assert (expires - clock.now()).total_seconds() == pytest.approx(TTL, abs=0.01)
    # Write-ahead: the signal and its decision are durable; no order event, no position.
    rows = container.audit_store.find_signal("d-1")
    assert rows is not None and rows["correlation_id"] == answer["correlation_id"]
    decisions = list(
        container.audit_store.rows(
            AuditTable.POLICY_DECISION, correlation_id=answer["correlation_id"]
        )
    )
    assert len(decisions) == 1
    assert order_rows(container) == []
    assert container.execution.positions.position("BTCUSDT") == 0
    assert container.execution.positions.reserved("BTCUSDT") == (Decimal("0.01"), 0)


def test_a_refused_intent_gets_no_permit_and_holds_nothing(running):
    container, client, _ = running
    client.post(
        "/v1/kill-switch",
        json={"active": True, "operator_id": "ops", "reason": "test"},
        headers=bearer(),
    )
    answer = decide(client).json()
    assert answer["decision"] == "HALT"
    assert answer["permitted"] is False
    assert answer["permit_id"] is None and answer["expires_at"] is None
    assert answer["refusal_code"] == "HALT_KILL_SWITCH"
    assert "HALT_KILL_SWITCH" in answer["codes"]
    assert container.execution.positions.reserved("BTCUSDT") == (0, 0)
    refused = [r for r in order_rows(container) if r["event"] == "REFUSED"]
    assert len(refused) == 1


def test_an_exit_under_halt_is_refused_but_cancel_is_permitted(running):
    _, client, _ = running
    client.post(
        "/v1/kill-switch",
        json={"active": True, "operator_id": "ops", "reason": "test"},
        headers=bearer(),
    )
    assert decide(client, intent="CLOSE", side="SELL").json()["permitted"] is False
    assert decide(client, intent="CANCEL").json()["permitted"] is True


def test_the_exposure_cap_counts_decide_reservations_and_signals_together():
    # 0.01 BTC at ~50k is ~500 quote; the cap admits one such order, not two.
    with decide_service(max_gross_exposure=Decimal(800)) as (_, client, _):
        first = decide(client, quantity="0.01").json()
        assert first["permitted"] is True
        second = decide(client, quantity="0.01").json()
        assert second["permitted"] is False
        assert second["refusal_code"] == "RISK_EXPOSURE"
        assert second["codes"] == ["ALLOW_ALL_GATES_PASSED", "RISK_EXPOSURE"]
        signal = post(client, "/v1/signals", signal_body(quantity="0.01")).json()
        assert signal["outcome"] == "REFUSED" and signal["refusal_code"] == "RISK_EXPOSURE"
        # The bot reports the order cancelled unfilled: the room is back for either path.
        done = report(client, first["permit_id"], status="CANCELLED", filled_quantity="0")
        assert done.status_code == 200, done.text
        assert post(client, "/v1/signals", signal_body(quantity="0.01")).json()["outcome"] == (
            "EXECUTED"
        )
        assert decide(client, quantity="0.01").json()["refusal_code"] == "RISK_EXPOSURE"


def test_the_open_orders_cap_counts_permits_in_flight():
    with decide_service(max_open_orders=2) as (_, client, _):
        assert decide(client).json()["permitted"] is True
        assert decide(client).json()["permitted"] is True
        third = decide(client).json()
        assert third["refusal_code"] == "RISK_OPEN_ORDERS"


def test_a_fill_report_is_recorded_then_applied_to_the_position_book(running):
    container, client, _ = running
    permit = decide(client, quantity="0.02").json()["permit_id"]
    partial = report(
        client, permit, status="PARTIALLY_FILLED", filled_quantity="0.005", average_price="50000"
    )
    assert partial.status_code == 200, partial.text
    assert partial.json()["open"] is True
    assert partial.json()["applied_quantity"] == "0.005"
    positions = container.execution.positions
    assert positions.position("BTCUSDT") == Decimal("0.005")
    assert positions.reserved("BTCUSDT") == (Decimal("0.015"), 0)
    done = report(client, permit, status="FILLED", filled_quantity="0.02", average_price="50000")
    assert done.json() == {
        "permit_id": permit,
        "correlation_id": permit,
        "status": "FILLED",
        "filled_quantity": "0.02",
        "applied_quantity": "0.015",
        "open": False,
    }
    assert positions.position("BTCUSDT") == Decimal("0.02")
    assert positions.reserved("BTCUSDT") == (0, 0)
    rows = order_rows(container)
    assert [r["event"] for r in rows] == ["PARTIALLY_FILLED", "FILLED"]
    assert all(r["correlation_id"] == permit and r["details"]["permit_id"] == permit for r in rows)
    assert rows[-1]["exchange_order_id"] == "x-1"


def test_bad_reports_are_refused_with_their_code_and_change_nothing(running):
    container, client, _ = running
    permit = decide(client, quantity="0.01").json()["permit_id"]
    cases = [
        ("nope", {}, 404, "PERMIT_UNKNOWN"),
        (permit, {"filled_quantity": "0.02"}, 422, "PERMIT_REPORT_INVALID"),
        (permit, {"status": "DONE"}, 422, "PERMIT_REPORT_INVALID"),
        (permit, {"filled_quantity": "-1"}, 422, "PERMIT_REPORT_INVALID"),
        (permit, {"bogus": "1"}, 422, "PERMIT_REPORT_INVALID"),
    ]
    for permit_id, fields, status, code in cases:
        response = report(client, permit_id, **fields)
        assert (response.status_code, response.json()["code"]) == (status, code), fields
    assert order_rows(container) == []
    assert container.execution.positions.reserved("BTCUSDT") == (Decimal("0.01"), 0)
    assert report(client, permit).status_code == 200
    again = report(client, permit)
    assert (again.status_code, again.json()["code"]) == (409, "PERMIT_ALREADY_REPORTED")
    assert len(order_rows(container)) == 1
    assert container.execution.positions.position("BTCUSDT") == Decimal("0.01")


def test_a_report_naming_another_order_or_shrinking_its_fill_is_refused(running):
    _, client, _ = running
    permit = decide(client, quantity="0.01").json()["permit_id"]
    assert report(client, permit, status="NEW", filled_quantity="0.004").status_code == 200
    other = report(client, permit, exchange_order_id="x-2", status="NEW", filled_quantity="0.004")
    assert other.json()["code"] == "PERMIT_REPORT_INVALID"
    shrunk = report(client, permit, status="NEW", filled_quantity="0.001")
    assert shrunk.json()["code"] == "PERMIT_REPORT_INVALID"


def test_an_unreported_permit_expires_frees_its_reservation_and_is_recorded(running):
    container, client, clock = running
    permit = decide(client, quantity="0.01").json()["permit_id"]
    clock.advance(TTL + 0.5)
    assert container.decider.expire_due() == 1
    assert container.execution.positions.reserved("BTCUSDT") == (0, 0)
    (row,) = order_rows(container)
    assert row["event"] == "CANCELLED" and row["code"] == "PERMIT_EXPIRED"
    assert row["correlation_id"] == permit
    late = report(client, permit)
    assert (late.status_code, late.json()["code"]) == (409, "PERMIT_EXPIRED")
    assert len(order_rows(container)) == 1
    assert container.execution.positions.position("BTCUSDT") == 0


def test_a_reported_resting_order_does_not_expire(running):
    container, client, clock = running
    permit = decide(client, quantity="0.01").json()["permit_id"]
    assert report(client, permit, status="NEW", filled_quantity="0").status_code == 200
    clock.advance(TTL * 3)
    assert container.decider.expire_due() == 0
    assert container.execution.positions.reserved("BTCUSDT") == (Decimal("0.01"), 0)
    assert report(client, permit, status="CANCELLED", filled_quantity="0").status_code == 200
    assert container.execution.positions.reserved("BTCUSDT") == (0, 0)


def test_a_repeated_signal_id_gets_the_first_answer_and_holds_once(running):
    container, client, _ = running
    body = signal_body(signal_id="same", quantity="0.01")
    first = post(client, "/v1/decide", body).json()
    again = post(client, "/v1/decide", body).json()
    assert again["duplicate"] is True
    assert {k: again[k] for k in ("permit_id", "expires_at", "decision", "permitted")} == {
        k: first[k] for k in ("permit_id", "expires_at", "decision", "permitted")
    }
    assert "SIGNAL_DUPLICATE" in again["codes"]
    assert container.execution.positions.reserved("BTCUSDT") == (Decimal("0.01"), 0)
    replayed = post(client, "/v1/decide", {**body, "quantity": "0.02"})
    assert (replayed.status_code, replayed.json()["code"]) == (409, "SIGNAL_REPLAYED")


def test_authentication_is_the_webhooks(running):
    container, client, _ = running
    raw = json.dumps(signal_body()).encode()
    forged = client.post("/v1/decide", content=raw, headers=signed_headers(raw, secret="x"))
    assert (forged.status_code, forged.json()["code"]) == (401, "AUTH_INVALID")
    unsigned = client.post("/v1/decide", json=signal_body())
    assert unsigned.status_code == 401
    by_passphrase = client.post("/v1/decide", json={**signal_body(), "passphrase": PASSPHRASE})
    assert by_passphrase.status_code == 200 and by_passphrase.json()["permitted"] is True
    permit = by_passphrase.json()["permit_id"]
    unsigned_report = client.post(
        f"/v1/decide/{permit}/report",
        json={"exchange_order_id": "1", "status": "FILLED", "filled_quantity": "0.01"},
    )
    assert unsigned_report.status_code == 401
    assert count_rows(container, "order_audit") == 0
    large = json.dumps(signal_body(strategy="x" * 70_000)).encode()
    too_big = client.post("/v1/decide", content=large, headers=signed_headers(large))
    assert (too_big.status_code, too_big.json()["code"]) == (413, "BODY_TOO_LARGE")
    invalid = decide(client, side="HOLD")
    assert (invalid.status_code, invalid.json()["code"]) == (422, "SIGNAL_INVALID")


def test_the_python_client_decides_and_reports(running):
    container, client, _ = running
    with DecideClient(str(client.base_url), secret="webhook-secret-for-tests") as api:
        api._http._transport = client._transport  # in process; the e2e test uses real HTTP
        answer = api.decide(
            {"signal_id": "c-1", "symbol": "BTCUSDT", "side": "BUY", "quantity": Decimal("0.01")}
        )
        assert answer.permitted and answer.permit_id is not None
        done = api.report(
            answer.permit_id, exchange_order_id="9", status="FILLED", filled_quantity="0.01"
        )
        assert done.open is False and done.applied_quantity == Decimal("0.01")
        retried = api.decide(
            {"signal_id": "c-1", "symbol": "BTCUSDT", "side": "BUY", "quantity": "0.01"}
        )  # a retry of the same signal: the first answer, no second permit
        assert retried.duplicate and retried.permit_id == answer.permit_id
        with pytest.raises(DecideRequestError) as refused:
            api.report(
                answer.permit_id, exchange_order_id="9", status="FILLED", filled_quantity="0.01"
            )
        assert refused.value.code == "PERMIT_ALREADY_REPORTED" and refused.value.status == 409
    assert container.execution.positions.position("BTCUSDT") == Decimal("0.01")


def test_a_store_that_cannot_record_answers_503_and_permits_nothing(running, monkeypatch):
    container, client, _ = running
    permit = decide(client, quantity="0.01").json()["permit_id"]

    def broken(records: Any) -> list[int]:
        raise OSError("disk gone")

    monkeypatch.setattr(container.audit_store, "record_many", broken)
    refused = decide(client, quantity="0.01")
    assert (refused.status_code, refused.json()["code"]) == (503, "AUD-006")
    not_recorded = report(client, permit)
    assert (not_recorded.status_code, not_recorded.json()["code"]) == (503, "AUD-006")
    assert container.execution.positions.position("BTCUSDT") == 0
    assert container.execution.positions.reserved("BTCUSDT") == (Decimal("0.01"), 0)
    assert container.decider.outstanding() == 1
    monkeypatch.undo()
    assert report(client, permit).status_code == 200


def test_an_expiry_that_cannot_be_recorded_keeps_holding_until_it_can(running, monkeypatch):
    container, client, clock = running
    decide(client, quantity="0.01")
    clock.advance(TTL + 1)

    def broken(records: Any) -> list[int]:
        raise OSError("disk gone")

    monkeypatch.setattr(container.audit_store, "record_many", broken)
    assert container.decider.expire_due() == 0
    assert container.execution.positions.reserved("BTCUSDT") == (Decimal("0.01"), 0)
    monkeypatch.undo()
    assert container.decider.expire_due() == 1
    assert container.execution.positions.reserved("BTCUSDT") == (0, 0)
