"""Small units of the service: SSE parsing, webhook auth rules, per-container metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr
from rich.console import Console

from tradeguard.api.auth import (
    check_bearer,
    check_body_timestamp,
    check_signature,
    check_timestamp_header,
    sign_body,
    take_passphrase,
)
from tradeguard.api.errors import ApiError
from tradeguard.cli.service import _exit_code, _local_run_settings
from tradeguard.cli.status_view import render_status
from tradeguard.feeds.lockdown import LOCKDOWN_ACTOR, is_lockdown
from tradeguard.feeds.sse import SSEParser
from tradeguard.metrics import ServiceMetrics
from tradeguard.ports import KillSwitchState
from tradeguard.settings import Settings

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def test_sse_parser_dispatches_multiline_data_with_id_and_retry() -> None:
    parser = SSEParser()
    lines = ["retry: 1500", "id: 7", "event: ticker", "data: a", "data: b", ""]
    events = [parser.feed(line) for line in lines]
    event = events[-1]
    assert event is not None and event.event == "ticker" and event.data == "a\nb"
    assert parser.last_event_id == "7" and parser.retry_ms == 1500


def test_sse_parser_comment_counts_as_live_but_dispatches_nothing() -> None:
    parser = SSEParser()
    assert parser.feed(": keep-alive") is None
    assert parser.saw_anything
    assert parser.feed("") is None


def test_sse_parser_ignores_invalid_retry_and_defaults_event_name() -> None:
    parser = SSEParser()
    parser.feed("retry: soon")
    parser.feed("data: x")
    event = parser.feed("")
    assert parser.retry_ms is None
    assert event is not None and event.event == "message"


def test_signature_of_the_raw_body_verifies_and_any_change_fails() -> None:
    secret = SecretStr("s3cret")
    body = b'{"signal_id":"a"}'
    check_signature(secret, body, sign_body("s3cret", body))
    with pytest.raises(ApiError) as info:
        check_signature(secret, body + b" ", sign_body("s3cret", body))
    assert info.value.status == 401 and info.value.code == "AUTH_INVALID"


@pytest.mark.parametrize("value", [None, "soon", "nan", str(NOW.timestamp() - 301)])
def test_timestamp_header_missing_garbage_or_stale_is_refused(value: str | None) -> None:
    with pytest.raises(ApiError):
        check_timestamp_header(value, NOW)


def test_timestamp_header_within_300_seconds_passes() -> None:
    check_timestamp_header(str(int(NOW.timestamp()) - 299), NOW)


def test_body_timestamp_outside_window_is_refused() -> None:
    stale = (NOW - timedelta(seconds=400)).isoformat()
    with pytest.raises(ApiError):
        check_body_timestamp({"timestamp": stale}, NOW)
    check_body_timestamp({"timestamp": NOW.isoformat()}, NOW)


def test_passphrase_is_removed_from_the_payload() -> None:
    payload = {"passphrase": "pp", "symbol": "BTCUSDT"}
    take_passphrase(SecretStr("pp"), payload)
    assert "passphrase" not in payload
    with pytest.raises(ApiError):
        take_passphrase(SecretStr("pp"), {"passphrase": "wrong"})


def test_bearer_disabled_without_token_and_refused_when_wrong() -> None:
    with pytest.raises(ApiError) as disabled:
        check_bearer(None, "Bearer x")
    assert disabled.value.status == 403
    with pytest.raises(ApiError) as wrong:
        check_bearer(SecretStr("t"), "Basic t")
    assert wrong.value.status == 401
    check_bearer(SecretStr("t"), "Bearer t")


def test_metrics_registries_are_per_container() -> None:
    first, second = ServiceMetrics(), ServiceMetrics()
    first.record_decision("ALLOW", "ALLOW_ALL_GATES_PASSED", "signal")
    assert b'origin="signal"' in first.render()
    assert b'origin="signal"' not in second.render()


def test_lockdown_is_derived_from_actor_and_code_of_an_active_kill_switch() -> None:
    locked = KillSwitchState(True, LOCKDOWN_ACTOR, "r", NOW, "SSE_RECONNECT_EXHAUSTED")
    assert is_lockdown(locked)
    assert not is_lockdown(KillSwitchState(True, "alice", "r", NOW, "KILL_SWITCH_ENGAGED"))
    assert not is_lockdown(KillSwitchState(False, LOCKDOWN_ACTOR, "r", NOW, "KILL_SWITCH_RELEASED"))


@pytest.mark.parametrize(
    ("status", "outcome", "code"),
    [(200, "EXECUTED", 0), (200, "REFUSED", 1), (401, None, 2), (422, None, 2), (503, None, 3)],
)
def test_signal_send_exit_codes(status: int, outcome: str | None, code: int) -> None:
    assert _exit_code(status, {"outcome": outcome}) == code


def test_local_dry_run_generates_token_and_secret_but_live_does_not() -> None:
    settings, generated = _local_run_settings(Settings(database_url="memory://"))
    assert set(generated) == {"operator_token", "webhook_secret"}
    assert settings.operator_token is not None
    live = Settings(database_url="memory://", execution_mode="LIVE", exchange="valr")
    assert _local_run_settings(live) == (live, {})


def test_status_view_renders_state_and_checks() -> None:
    console = Console(record=True, width=120)
    render_status(
        {
            "state": "L6_LOCKDOWN",
            "reason_code": "HALT_KILL_SWITCH",
            "is_latched": True,
            "kill_switch": {"active": True, "actor": LOCKDOWN_ACTOR, "code": "X", "reason": "r"},
            "health_checks": [{"name": "event_feed", "status": "YELLOW", "code": "FEED"}],
        },
        console,
    )
    text = console.export_text()
    assert "L6_LOCKDOWN" in text and "event_feed" in text and LOCKDOWN_ACTOR in text
