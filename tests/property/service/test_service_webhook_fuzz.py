"""For any body and headers: never a 5xx, never an order, every 4xx carries a code."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.service_support import PASSPHRASE, count_rows, service, signal_body, signed_headers
from tradeguard.api.auth import SIGNATURE_HEADER, TIMESTAMP_HEADER
from tradeguard.bootstrap import Container

_HEADER_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=80)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=12,
)
_JUNK = st.one_of(
    st.none(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.lists(st.integers(), max_size=3),
    st.just("NaN"),
    st.just("-0"),
    st.just("1e999999"),
)
_REQUIRED_BREAKERS = {
    "signal_id": st.one_of(st.just(""), st.integers(), st.none(), st.just("x" * 200)),
    "side": st.text(max_size=5).filter(lambda s: s not in ("BUY", "SELL")),
    "quantity": st.one_of(
        st.just("0"), st.just("-1"), st.just("abc"), st.floats(), st.just("Infinity")
    ),
    "symbol": st.one_of(st.just(""), st.just("BTC USDT"), st.integers(), st.just("$$$")),
    "intent": st.text(max_size=8).filter(
        lambda s: s not in ("OPEN", "INCREASE", "REDUCE", "CLOSE", "CANCEL", "STOP_UPDATE")
    ),
}


@pytest.fixture(scope="module")
def running() -> Iterator[tuple[Container, TestClient]]:
    with service() as pair:
        yield pair


def _assert_refused_cleanly(response: Any) -> None:
    assert response.status_code < 500, response.text
    assert 400 <= response.status_code < 500, response.text
    body = response.json()
    assert isinstance(body.get("code"), str) and body["code"]
    assert isinstance(body.get("message"), str)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    body=st.binary(max_size=600),
    signature=st.one_of(st.none(), _HEADER_TEXT, _HEADER_TEXT.map(lambda s: "sha256=" + s)),
    timestamp=st.one_of(st.none(), _HEADER_TEXT, st.integers().map(str)),
)
def test_any_unsigned_bytes_and_headers_are_refused_with_a_code(
    running: tuple[Container, TestClient], body: bytes, signature: str | None, timestamp: str | None
) -> None:
    container, client = running
    orders = count_rows(container, "order_audit")
    headers = {}
    if signature is not None:
        headers[SIGNATURE_HEADER] = signature
    if timestamp is not None:
        headers[TIMESTAMP_HEADER] = timestamp
    response = client.post("/v1/signals", content=body, headers=headers)
    _assert_refused_cleanly(response)
    assert count_rows(container, "order_audit") == orders


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(payload=_JSON)
def test_any_correctly_signed_json_that_is_not_a_signal_is_refused(
    running: tuple[Container, TestClient], payload: Any
) -> None:
    container, client = running
    orders = count_rows(container, "order_audit")
    raw = json.dumps(payload).encode()
    response = client.post("/v1/signals", content=raw, headers=signed_headers(raw))
    _assert_refused_cleanly(response)
    assert count_rows(container, "order_audit") == orders


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    field=st.sampled_from(sorted(_REQUIRED_BREAKERS)),
    data=st.data(),
    extra=st.dictionaries(st.sampled_from(["ai_confidence", "price", "bogus"]), _JUNK, max_size=2),
    passphrase_mode=st.booleans(),
)
def test_a_signal_with_any_broken_field_is_refused_and_never_trades(
    running: tuple[Container, TestClient],
    field: str,
    data: st.DataObject,
    extra: dict[str, Any],
    passphrase_mode: bool,
) -> None:
    container, client = running
    orders = count_rows(container, "order_audit")
    body = {**signal_body(), **extra, field: data.draw(_REQUIRED_BREAKERS[field])}
    if passphrase_mode:
        # json.dumps (not httpx's strict encoder) so NaN/Infinity junk reaches the server too.
        raw = json.dumps({**body, "passphrase": PASSPHRASE}).encode()
        response = client.post(
            "/v1/signals", content=raw, headers={"Content-Type": "application/json"}
        )
    else:
        raw = json.dumps(body).encode()
        response = client.post("/v1/signals", content=raw, headers=signed_headers(raw))
    _assert_refused_cleanly(response)
    if passphrase_mode:
        assert PASSPHRASE not in response.text
    assert count_rows(container, "order_audit") == orders
