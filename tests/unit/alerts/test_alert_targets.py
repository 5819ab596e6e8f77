"""Apprise targets over loopback, `tradeguard alerts test`, and URLs that never leak."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
import structlog
from structlog.testing import capture_logs
from typer.testing import CliRunner

from tests.alert_receiver import alert_receiver, closed_port_url
from tradeguard.alerts import AppriseTarget, build_alert_dispatcher, scheme_of, split_alert_urls
from tradeguard.cli.app import app
from tradeguard.clock import FakeClock
from tradeguard.codes import ErrorCode
from tradeguard.errors import ConfigurationError
from tradeguard.ports import Alert, AlertSeverity
from tradeguard.settings import Settings

SECRET = "s3cr3t-token-do-not-print"


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    # The CLI points structlog at CliRunner's stderr, which is closed after each invoke.
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


def an_alert() -> Alert:
    return Alert(
        event="kill_switch_engaged",
        code="KILL_SWITCH_ENGAGED",
        severity=AlertSeverity.CRITICAL,
        summary="kill switch engaged by alice: drill",
        correlation_id=str(uuid.uuid4()),
        details={"operator_id": "alice"},
    )


def test_scheme_and_split_show_only_what_is_safe() -> None:
    assert scheme_of("tgram://123:abc/456") == "tgram"
    assert scheme_of("JSON://host/path") == "json"
    assert scheme_of("not a url") == "invalid"
    assert split_alert_urls(" json://a/b , ,tgram://x ") == ["json://a/b", "tgram://x"]
    assert split_alert_urls(None) == []


def test_an_invalid_url_is_refused_by_position_and_scheme_without_its_text() -> None:
    with pytest.raises(ConfigurationError) as caught:
        AppriseTarget(f"nosuchscheme://{SECRET}@host/{SECRET}", 2, 1.0)
    assert caught.value.code == ErrorCode.ALERT_URL_INVALID
    assert "#2" in caught.value.message and "nosuchscheme" in caught.value.message
    assert SECRET not in caught.value.message


def test_a_json_target_posts_title_and_body_to_a_loopback_webhook() -> None:
    with alert_receiver() as receiver:
        target = AppriseTarget(receiver.url, 1, 2.0)
        assert target.label == "json#1"
        assert target.send("title here", "code: KILL_SWITCH_ENGAGED", AlertSeverity.CRITICAL)
        body = receiver.wait_for(lambda b: True, timeout=5)
    assert body is not None
    assert body["title"] == "title here"
    assert "code: KILL_SWITCH_ENGAGED" in body["message"]
    assert body["_path"] == "/hooks/tradeguard"


def test_a_dead_target_answers_false_and_never_raises() -> None:
    target = AppriseTarget(closed_port_url(), 1, 1.0)
    assert target.send("t", "b", AlertSeverity.INFO) is False


def test_urls_never_appear_in_logs_settings_or_failures() -> None:
    secret_url = f"json://alice:{SECRET}@{closed_port_url().removeprefix('json://')}{SECRET}"
    settings = Settings(database_url="memory://", alert_urls=secret_url, alert_retry_attempts=2)
    assert SECRET not in repr(settings) and SECRET not in str(settings.model_dump())
    with capture_logs() as logs:
        sink = build_alert_dispatcher(settings, FakeClock())
        sink.publish(an_alert())
        sink.start()
        sink.close(timeout=10)
    assert sink.counts == {"failed": 1}
    assert any(line["event"] == "alert_failed" for line in logs)
    assert SECRET not in json.dumps(logs, default=str)
    assert [target.label for target in sink.targets] == ["json#1"]


def test_apprise_raising_inside_a_target_is_a_failed_delivery_not_an_exception(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = Settings(database_url="memory://", alert_urls=closed_port_url())
    sink = build_alert_dispatcher(settings, FakeClock())
    (target,) = sink.targets

    def explode(**_kwargs: object) -> bool:
        raise RuntimeError("apprise bug")

    monkeypatch.setattr(target._plugin, "notify", explode)  # type: ignore[attr-defined]
    monkeypatch.setattr(sink, "_sleep", lambda _s: None)
    sink.publish(an_alert())
    sink.start()
    sink.close(timeout=10)
    assert sink.counts == {"failed": 1}


def _cli(monkeypatch: pytest.MonkeyPatch, urls: str | None) -> tuple[int, str, str]:
    for key in list(__import__("os").environ):
        if key.startswith("TRADEGUARD_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("TRADEGUARD_DATABASE_URL", "memory://")
    monkeypatch.setenv("TRADEGUARD_ALERT_RETRY_ATTEMPTS", "1")
    if urls is not None:
        monkeypatch.setenv("TRADEGUARD_ALERT_URLS", urls)
    result = CliRunner().invoke(app, ["alerts", "test"])
    return result.exit_code, result.stdout, result.stderr


def test_alerts_test_exits_0_when_every_target_received_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with alert_receiver(f"/hook/{SECRET}") as first, alert_receiver() as second:
        code, out, err = _cli(monkeypatch, f"{first.url},{second.url}")
        assert code == 0, err
        for receiver in (first, second):
            body = receiver.wait_for(lambda b: "ALERT_TEST" in b.get("message", ""), 5)
            assert body is not None
    answer = json.loads(out)
    assert answer["delivered"] == 2 and answer["failed"] == 0
    assert answer["targets"] == [
        {"target": "json#1", "delivered": True},
        {"target": "json#2", "delivered": True},
    ]
    assert SECRET not in out + err


def test_alerts_test_exits_1_when_one_target_did_not_receive_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with alert_receiver() as receiver:
        code, out, _err = _cli(monkeypatch, f"{receiver.url},{closed_port_url()}")
    assert code == 1
    answer = json.loads(out)
    assert answer["code"] == ErrorCode.ALERT_DELIVERY_FAILED
    assert answer["targets"][1] == {"target": "json#2", "delivered": False}


@pytest.mark.parametrize("urls", [None, "", f"nosuchscheme://{SECRET}"])
def test_alerts_test_exits_2_without_targets_or_with_an_invalid_url(
    monkeypatch: pytest.MonkeyPatch, urls: str | None
) -> None:
    code, out, err = _cli(monkeypatch, urls)
    assert code == 2
    error = json.loads(err.strip().splitlines()[-1])
    assert error["error"] in (ErrorCode.NOT_CONFIGURED, ErrorCode.ALERT_URL_INVALID)
    assert SECRET not in out + err
