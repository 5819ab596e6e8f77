"""Schemathesis against the service's own OpenAPI document: no 5xx, every 4xx with a code."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.service_support import TOKEN, count_rows, make_settings
from tradeguard.api import create_app
from tradeguard.background import prime_sources
from tradeguard.bootstrap import Container, build_container

# Schemathesis loads the schema at import time, so the container is built here and closed by
# the module fixture below.
_CONTAINER: Container = build_container(make_settings())
prime_sources(_CONTAINER)
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(_CONTAINER))


@pytest.fixture(scope="module", autouse=True)
def _close_container() -> Iterator[None]:
    yield
    _CONTAINER.close()


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_operation_answers_5xx_and_every_error_has_a_code(case: Any) -> None:
    container = _CONTAINER
    orders_before = count_rows(container, "order_audit")
    headers = {"Authorization": f"Bearer {TOKEN}"} if case.path.startswith("/v1/") else {}
    response = case.call(headers=headers)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body.get("code"), str) and body["code"], response.text
    if case.path == "/v1/signals":
        assert count_rows(container, "order_audit") == orders_before
