"""For any body: /v1/decide and its report route never answer 5xx, and bad input changes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.property.service.test_service_webhook_fuzz import (
    _JSON,
    _JUNK,
    _REQUIRED_BREAKERS,
    _assert_refused_cleanly,
)
from tests.service_support import PASSPHRASE, count_rows, service, signal_body, signed_headers
from tradeguard.api.auth import SIGNATURE_HEADER, TIMESTAMP_HEADER
from tradeguard.bootstrap import Container

_HEADER_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=80)
_STATUS = st.sampled_from(["NEW", "PARTIALLY_FILLED", "FILLED", "CANCELLED", "REJECTED"])
_REPORT = st.fixed_dictionaries(
    {},
    optional={
        "exchange_order_id": st.one_of(st.text(max_size=140), _JUNK),
        "status": st.one_of(_STATUS, _JUNK),
        "filled_quantity": st.one_of(
            st.decimals(allow_nan=False, allow_infinity=False, places=4).map(str), _JUNK
        ),
        "average_price": st.one_of(st.just("50000"), _JUNK),
        "bogus": _JUNK,
    },
)
_PERMIT_ID = st.text(
    st.characters(
        min_codepoint=33,
        max_codepoint=0x2FFF,
        exclude_categories=("Cc", "Cs"),
        exclude_characters="/?#%",
    ),
    min_size=1,
    max_size=200,
)


@pytest.fixture(scope="module")
def running() -> Iterator[tuple[Container, TestClient]]:
    with service() as pair:
        yield pair


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    body=st.binary(max_size=600),
    signature=st.one_of(st.none(), _HEADER_TEXT, _HEADER_TEXT.map(lambda s: "sha256=" + s)),
    timestamp=st.one_of(st.none(), _HEADER_TEXT, st.integers().map(str)),
    report=st.booleans(),
)
def test_any_unsigned_bytes_are_refused_with_a_code(
    running: tuple[Container, TestClient],
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    report: bool,
) -> None:
    container, client = running
    signals, orders = count_rows(container, "signal_audit"), count_rows(container, "order_audit")
    headers = {}
    if signature is not None:
        headers[SIGNATURE_HEADER] = signature
    if timestamp is not None:
        headers[TIMESTAMP_HEADER] = timestamp
    path = "/v1/decide/some-permit/report" if report else "/v1/decide"
    _assert_refused_cleanly(client.post(path, content=body, headers=headers))
    assert count_rows(container, "signal_audit") == signals
    assert count_rows(container, "order_audit") == orders


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    field=st.sampled_from(sorted(_REQUIRED_BREAKERS)),
    data=st.data(),
    extra=st.dictionaries(st.sampled_from(["ai_confidence", "price", "bogus"]), _JUNK, max_size=2),
    passphrase_mode=st.booleans(),
)
def test_a_decide_body_with_any_broken_field_is_refused_and_holds_nothing(
    running: tuple[Container, TestClient],
    field: str,
    data: st.DataObject,
    extra: dict[str, Any],
    passphrase_mode: bool,
) -> None:
    container, client = running
    signals = count_rows(container, "signal_audit")
    held = container.decider.outstanding()
    body = {**signal_body(), **extra, field: data.draw(_REQUIRED_BREAKERS[field])}
    if passphrase_mode:
        raw = json.dumps({**body, "passphrase": PASSPHRASE}).encode()
        response = client.post(
            "/v1/decide", content=raw, headers={"Content-Type": "application/json"}
        )
    else:
        raw = json.dumps(body).encode()
        response = client.post("/v1/decide", content=raw, headers=signed_headers(raw))
    _assert_refused_cleanly(response)
    assert PASSPHRASE not in response.text
    assert count_rows(container, "signal_audit") == signals
    assert container.decider.outstanding() == held


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(payload=st.one_of(_REPORT, _JSON), permit_id=st.one_of(st.none(), _PERMIT_ID))
@example(
    payload={"exchange_order_id": "1", "status": "FILLED", "filled_quantity": "0.001"},
    permit_id=None,
)
def test_any_signed_report_is_answered_without_a_5xx_and_only_a_valid_one_changes_anything(
    running: tuple[Container, TestClient], payload: Any, permit_id: str | None
) -> None:
    container, client = running
    permit = client.post(
        "/v1/decide",
        content=(raw := json.dumps(signal_body(quantity="0.001")).encode()),
        headers=signed_headers(raw),
    ).json()["permit_id"]
    target = permit if permit_id is None else permit_id
    orders = count_rows(container, "order_audit")
    position = container.execution.positions.position("BTCUSDT")
    raw = json.dumps(payload).encode()
    response = client.post(f"/v1/decide/{target}/report", content=raw, headers=signed_headers(raw))
    assert response.status_code < 500, response.text
    if response.status_code == 200:
        assert target == permit
        assert count_rows(container, "order_audit") == orders + 1
        filled = Decimal(response.json()["applied_quantity"])
        assert container.execution.positions.position("BTCUSDT") == position + filled
    else:
        _assert_refused_cleanly(response)
        assert count_rows(container, "order_audit") == orders
        assert container.execution.positions.position("BTCUSDT") == position
    # Leave no reservation behind for the next example.
    done = {"exchange_order_id": "x", "status": "CANCELLED", "filled_quantity": "0.001"}
    raw = json.dumps(done).encode()
    client.post(f"/v1/decide/{permit}/report", content=raw, headers=signed_headers(raw))
