"""Shared fixtures: a fresh PostgreSQL schema per test, or a loud skip (a failure in CI)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


def _postgres_base_url() -> str:
    return os.environ.get("TRADEGUARD_TEST_DATABASE_URL", DEFAULT_PG_URL)


def _unavailable(reason: str) -> None:
    message = f"PostgreSQL unavailable ({reason}); set TRADEGUARD_TEST_DATABASE_URL"
    if os.environ.get("TRADEGUARD_REQUIRE_POSTGRES") == "1":
        pytest.fail("TRADEGUARD_REQUIRE_POSTGRES=1 but " + message)
    pytest.skip("SKIPPED LOUDLY: " + message)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """Yield a URL whose connections use a fresh, empty schema; dropped afterwards."""
    try:
        import psycopg
    except ImportError:
        _unavailable("psycopg is not installed")
        raise
    base = _postgres_base_url()
    schema = f"tg_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(base, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
    except psycopg.OperationalError as exc:
        _unavailable(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    separator = "&" if "?" in base else "?"
    yield f"{base}{separator}options={quote(f'-csearch_path={schema}')}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
