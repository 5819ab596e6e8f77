"""Small factories shared by the service tests: settings, containers, signed requests."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from tradeguard.api import create_app
from tradeguard.api.auth import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign_body
from tradeguard.background import prime_sources
from tradeguard.bootstrap import Container, build_container
from tradeguard.settings import Settings

TOKEN = "operator-token-for-tests"
SECRET = "webhook-secret-for-tests"
PASSPHRASE = "passphrase-for-tests"

# Tests about other things (caps, decide permits, the dashboard, workers) send bursts of one
# size and LIMIT orders far from the market on purpose: the order controls that would refuse
# those (duplicate, rate, collar) are proven in their own tests, and stand aside here.
LOOSE_ORDER_CONTROLS: dict[str, Any] = {
    "duplicate_order_window_seconds": 0,
    "max_orders_per_symbol": 1_000_000,
    "max_orders_per_account": 1_000_000,
    "price_collar_pct": 99,
}
LOOSE_ORDER_CONTROLS_ENV = {
    f"TRADEGUARD_{name.upper()}": str(value) for name, value in LOOSE_ORDER_CONTROLS.items()
}


def make_settings(database_url: str = "memory://", **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "operator_token": TOKEN,
        "webhook_secret": SECRET,
        "webhook_passphrase": PASSPHRASE,
        "latch_reset_window_seconds": 300,
    }
    values.update(overrides)
    return Settings(**values)


@contextmanager
def service(settings: Settings | None = None) -> Iterator[tuple[Container, TestClient]]:
    container = build_container(settings or make_settings())
    prime_sources(container)
    try:
        with TestClient(create_app(container), raise_server_exceptions=False) as client:
            yield container, client
    finally:
        container.close()


def signal_body(**fields: Any) -> dict[str, Any]:
    body = {
        "signal_id": f"sig-{uuid.uuid4()}",
        "symbol": "BTCUSDT",
        "side": "BUY",
        "intent": "OPEN",
        "quantity": "0.01",
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }
    body.update(fields)
    return body


def signed_headers(raw: bytes, *, secret: str = SECRET, at: float | None = None) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign_body(secret, raw),
        TIMESTAMP_HEADER: str(int(time.time() if at is None else at)),
    }


def post_signal(client: TestClient, body: dict[str, Any]) -> Any:
    raw = json.dumps(body).encode()
    return client.post("/v1/signals", content=raw, headers=signed_headers(raw))


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def count_rows(container: Container, table: str) -> int:
    from tradeguard.audit.records import AuditTable

    return sum(1 for _ in container.audit_store.rows(AuditTable(table)))
