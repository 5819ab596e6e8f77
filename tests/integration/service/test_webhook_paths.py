"""The webhook's ASGI fast path and its declared FastAPI route answer every request alike."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.service_support import (
    PASSPHRASE,
    count_rows,
    make_settings,
    service,
    signal_body,
    signed_headers,
)
from tradeguard.api.app import create_app
from tradeguard.api.errors import install_error_handlers
from tradeguard.api.signals import WebhookFastPath, build_router
from tradeguard.background import prime_sources
from tradeguard.bootstrap import build_container

Request = Callable[[TestClient], Any]


def _requests() -> list[tuple[str, Request]]:
    valid = json.dumps(signal_body(signal_id="same-id")).encode()
    forged = json.dumps(signal_body()).encode()
    invalid = json.dumps(signal_body(side="HOLD")).encode()
    large = json.dumps(signal_body(strategy="x" * 70_000)).encode()
    return [
        ("valid", lambda c: c.post("/v1/signals", content=valid, headers=signed_headers(valid))),
        ("repeat", lambda c: c.post("/v1/signals", content=valid, headers=signed_headers(valid))),
        (
            "forged",
            lambda c: c.post(
                "/v1/signals", content=forged, headers=signed_headers(forged, secret="x")
            ),
        ),
        (
            "invalid",
            lambda c: c.post("/v1/signals", content=invalid, headers=signed_headers(invalid)),
        ),
        ("large", lambda c: c.post("/v1/signals", content=large, headers=signed_headers(large))),
        ("not json", lambda c: c.post("/v1/signals", content=b"{", headers=signed_headers(b"{"))),
        ("unsigned", lambda c: c.post("/v1/signals", content=b"[1]")),
        (
            "passphrase",
            lambda c: c.post("/v1/signals", json={**signal_body(), "passphrase": PASSPHRASE}),
        ),
    ]


def _shape(response: Any) -> tuple[int, Any]:
    body = response.json()
    return response.status_code, body.get("code") or (body["decision"], body["outcome"])


def test_fast_path_and_declared_route_answer_alike() -> None:
    with service() as (_container, client):
        fast = {name: _shape(send(client)) for name, send in _requests()}
    container = build_container(make_settings())
    prime_sources(container)
    try:
        app = FastAPI()
        install_error_handlers(app)
        router, _webhook = build_router(container)
        app.include_router(router)  # no WebhookFastPath: the route answers
        with TestClient(app, raise_server_exceptions=False) as client:
            routed = {name: _shape(send(client)) for name, send in _requests()}
    finally:
        container.close()
    assert fast == routed
    assert fast["valid"] == (200, ("ALLOW", "EXECUTED"))
    assert fast["forged"] == (401, "AUTH_INVALID")
    assert fast["large"] == (413, "BODY_TOO_LARGE")


def test_the_app_answers_the_webhook_through_the_fast_path() -> None:
    container = build_container(make_settings())
    prime_sources(container)
    try:
        app = create_app(container)
        assert any(m.cls is WebhookFastPath for m in app.user_middleware)
        with TestClient(app) as client:
            raw = json.dumps(signal_body()).encode()
            response = client.post("/v1/signals", content=raw, headers=signed_headers(raw))
            assert response.status_code == 200
            assert response.headers["content-type"] == "application/json"
            assert count_rows(container, "order_audit") >= 1
            other = client.get("/healthz")  # every other request passes through
            assert other.status_code == 200
    finally:
        container.close()
