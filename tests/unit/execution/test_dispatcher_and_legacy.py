"""Dispatcher handlers, idempotency, and the policy-disabled fallback."""

from __future__ import annotations

from decimal import Decimal

import pytest
from structlog.testing import capture_logs

from tradeguard.audit.records import AuditTable
from tradeguard.errors import LiveModeRefusedError
from tradeguard.execution import SignalOutcome
from tradeguard.settings import Settings, check_live_preconditions
from tradeguard.signals import InvalidSignalError, Signal, SignalReplayedError

from .factories import signal, wire


def test_an_old_signature_handler_receives_every_signal_accepted_or_not():
    w = wire()
    seen: list[Signal] = []

    def legacy_handler(sig):  # the signature existing bots already have
        seen.append(sig)

    w.dispatcher.register_handler(legacy_handler)
    accepted = w.dispatcher.dispatch(signal(signal_id="a"))
    w.builder.kill = True
    refused = w.dispatcher.dispatch(signal(signal_id="b"))
    assert accepted.outcome is SignalOutcome.EXECUTED
    assert refused.outcome is SignalOutcome.REFUSED
    assert [s.signal_id for s in seen] == ["a", "b"]


def test_a_raising_handler_is_isolated_logged_and_changes_nothing():
    w = wire()
    after: list[str] = []

    @w.dispatcher.register_handler
    def broken(sig):
        raise ValueError("handler bug")

    w.dispatcher.register_handler(lambda sig: after.append(sig.signal_id))
    with capture_logs() as logs:
        result = w.dispatcher.dispatch(signal(signal_id="x"))
    assert result.outcome is SignalOutcome.EXECUTED
    assert after == ["x"]
    failed = [e for e in logs if e["event"] == "handler_failed"]
    assert failed and failed[0]["code"] == "HANDLER_FAILED"


def test_handlers_are_told_even_when_the_gate_raises():
    w = wire()
    seen = []
    w.dispatcher.register_handler(seen.append)
    w.dispatcher.dispatch(signal(signal_id="dup", quantity="1"))
    with pytest.raises(SignalReplayedError):
        w.dispatcher.dispatch(signal(signal_id="dup", quantity="2"))
    assert len(seen) == 2


def test_invalid_signal_is_refused_naming_the_fields_and_never_trades():
    w = wire()
    with pytest.raises(InvalidSignalError) as caught:
        w.dispatcher.dispatch(
            {"signal_id": "", "symbol": "BTCUSDT", "side": "HOLD", "quantity": 1.5}
        )
    assert caught.value.code == "SIGNAL_INVALID"
    assert set(caught.value.fields) == {"signal_id", "side", "quantity"}
    assert w.rows(AuditTable.SIGNAL) == []


def test_same_signal_id_twice_gives_the_first_result_and_one_order():
    w = wire()
    first = w.gate.submit(signal(signal_id="once", quantity="2"))
    again = w.gate.submit(signal(signal_id="once", quantity="2.0"))
    assert again.duplicate and not first.duplicate
    assert again.correlation_id == first.correlation_id
    assert again.outcome is first.outcome is SignalOutcome.EXECUTED
    assert again.order.exchange_order_id == first.order.exchange_order_id
    assert "SIGNAL_DUPLICATE" in again.codes
    assert w.positions.position("BTCUSDT") == Decimal(2)
    submitted = [r for r in w.rows(AuditTable.ORDER) if r["event"] == "SUBMITTED"]
    assert len(submitted) == 1


def test_a_refused_signal_repeated_stays_refused_even_after_the_gate_opens():
    w = wire()
    w.builder.kill = True
    first = w.gate.submit(signal(signal_id="r1"))
    w.builder.kill = False
    again = w.gate.submit(signal(signal_id="r1"))
    assert first.outcome is again.outcome is SignalOutcome.REFUSED
    assert again.decision == "HALT" and again.reason_code == "HALT_KILL_SWITCH"
    assert w.positions.position("BTCUSDT") == 0


def test_same_signal_id_with_other_content_is_refused_as_replayed():
    w = wire()
    w.gate.submit(signal(signal_id="re", quantity="1"))
    with pytest.raises(SignalReplayedError) as caught:
        w.gate.submit(signal(signal_id="re", quantity="5"))
    assert caught.value.code == "SIGNAL_REPLAYED"
    assert w.positions.position("BTCUSDT") == Decimal(1)
    outcomes = [r["outcome"] for r in w.rows(AuditTable.SIGNAL)]
    assert outcomes == ["ACCEPTED", "REFUSED"]


def test_concurrent_repeats_of_one_signal_id_execute_once():
    from concurrent.futures import ThreadPoolExecutor

    w = wire()
    body = signal(signal_id="race")
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: w.gate.submit(body), range(16)))
    assert sum(not r.duplicate for r in results) == 1
    assert w.positions.position("BTCUSDT") == Decimal(1)


# --- policy layer disabled ---------------------------------------------------------------


def test_policy_disabled_warns_at_start_and_on_every_signal():
    with capture_logs() as logs:
        w = wire(policy_enabled=False)
        w.gate.submit(signal())
        w.gate.submit(signal())
    warnings = [e for e in logs if e["event"] == "policy_layer_disabled"]
    assert len(warnings) == 3
    assert all(
        e["code"] == "POLICY_LAYER_DISABLED" and e["log_level"] == "warning" for e in warnings
    )


def test_policy_disabled_trades_on_legacy_confidence_and_records_the_bypass():
    w = wire(policy_enabled=False, legacy_min_confidence=Decimal(70))
    w.builder.health = "RED"  # ignored by the legacy rule
    high = w.gate.submit(signal(ai_confidence="70"))
    low = w.gate.submit(signal(ai_confidence="69.9"))
    none = w.gate.submit(signal(ai_confidence=None))
    assert high.outcome is SignalOutcome.EXECUTED and high.decision == "BYPASSED"
    assert low.refusal_code == none.refusal_code == "LEGACY_CONFIDENCE_TOO_LOW"
    rows = w.rows(AuditTable.SIGNAL)
    assert all(r["policy_bypassed"] is True for r in rows)
    assert w.rows(AuditTable.POLICY_DECISION) == []  # no policy evaluation happened


def test_policy_disabled_still_honours_the_kill_switch():
    w = wire(policy_enabled=False)
    w.builder.kill = True
    result = w.gate.submit(signal(ai_confidence="100"))
    assert result.decision == "HALT" and result.reason_code == "HALT_KILL_SWITCH"
    assert result.outcome is SignalOutcome.REFUSED
    assert w.positions.position("BTCUSDT") == 0


def test_live_refuses_to_start_with_the_policy_disabled():
    base = {
        "execution_mode": "LIVE",
        "exchange": "valr",
        "operator_token": "t" * 32,
        "exchange_api_key": "k",
        "exchange_api_secret": "s",
        "policy_enabled": False,
    }
    with pytest.raises(LiveModeRefusedError) as caught:
        check_live_preconditions(Settings(**base))
    assert caught.value.code == "LIVE_MODE_REFUSED"
    check_live_preconditions(Settings(**base, allow_policy_bypass_in_live=True))
    check_live_preconditions(Settings(**{**base, "policy_enabled": True}))


@pytest.mark.parametrize("missing", ["operator_token", "exchange_api_key", "exchange_api_secret"])
def test_live_refuses_to_start_without_a_token_or_exchange_credentials(missing):
    base = {
        "execution_mode": "LIVE",
        "exchange": "valr",
        "operator_token": "t" * 32,
        "exchange_api_key": "k",
        "exchange_api_secret": "s",
    }
    del base[missing]
    with pytest.raises(LiveModeRefusedError):
        check_live_preconditions(Settings(**base))
