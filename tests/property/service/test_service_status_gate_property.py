"""For any sequence of exchange events, status never shows ALLOW while the gate refuses new risk.

A real container (composition root, memory store, paper exchange behind the monitored wrapper)
whose exchange is scripted call by call: answered, failed, refused, answered late (past the
probe timeout), probes of each kind, and time passing. After every event the status is read
and then an OPEN signal goes through the gate; both must agree with each other and with the
model of SPEC §3 plus the detection rules: a failed or late call makes the exchange
unreachable at once, only a timely probe makes it reachable again, and silence longer than
``exchange_timeout_seconds`` is unreachable too.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tradeguard.background import prime_sources
from tradeguard.bootstrap import Container, build_container
from tradeguard.clock import FakeClock
from tradeguard.codes import ErrorCode
from tradeguard.errors import ExchangeRejectedError, ExchangeUnavailableError
from tradeguard.exchange import MonitoredExchange

from ...service_support import make_settings

SILENCE_S = 5.0
CALL_TIMEOUT_S = 1.0
METHODS = ("ticker", "balances", "server_time", "open_orders")

EVENTS = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(["ok", "fail", "refuse", "late"]), st.sampled_from(METHODS)),
        st.tuples(st.sampled_from(["probe_ok", "probe_fail", "probe_late"]), st.just("")),
        st.tuples(st.just("advance"), st.sampled_from(["1", "4", "6"])),
    ),
    min_size=1,
    max_size=10,
)


class ScriptedExchange:
    """Delegates to the paper exchange, behaving as ``mode`` says for the next call."""

    def __init__(self, inner: Any, clock: FakeClock) -> None:
        self._inner = inner
        self._clock = clock
        self.name = inner.name
        self.in_process = True
        self.mode = "ok"

    def __getattr__(self, method: str) -> Any:
        target = getattr(self._inner, method)
        if not callable(target):
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            mode, self.mode = self.mode, "ok"
            if mode == "fail":
                raise ExchangeUnavailableError(ErrorCode.EXCHANGE_UNREACHABLE, "reset")
            if mode == "refuse":
                raise ExchangeRejectedError(ErrorCode.EXCHANGE_ORDER_REJECTED, "refused")
            if mode == "late":
                self._clock.advance(CALL_TIMEOUT_S * 1.5)
            return target(*args, **kwargs)

        return call


@dataclass
class Model:
    """What the exchange_reachable check must say."""

    now: float
    last_success: float
    down: bool = False

    def green(self) -> bool:
        return not self.down and self.now - self.last_success <= SILENCE_S


def _container() -> tuple[Container, FakeClock, ScriptedExchange]:
    clock = FakeClock()
    settings_ = make_settings(
        exchange_timeout_seconds=SILENCE_S,
        max_market_data_age_seconds=10**6,
        sync_interval_seconds=10**6,
        # The account is read once (prime_sources); this model is about reachability only.
        account_check_interval_seconds=10**6,
        max_open_orders=10**4,
        # Sources answer from a worker thread; on a loaded machine the default 250 ms can pass
        # before one is scheduled, which is a HALT (context incomplete) this model is not about.
        source_timeout_ms=5000,
    )
    container = build_container(settings_, clock)
    prime_sources(container)
    monitored: MonitoredExchange = container.exchange
    scripted = ScriptedExchange(monitored.inner, clock)
    monitored.inner = scripted  # type: ignore[assignment]
    assert monitored.reachability is not None
    monitored.reachability.call_timeout_s = CALL_TIMEOUT_S
    return container, clock, scripted


def _apply(container: Container, clock: FakeClock, scripted: ScriptedExchange, event: Any) -> None:
    kind, arg = event
    exchange = container.exchange
    if kind == "advance":
        clock.advance(float(arg))
        container.builder.invalidate()  # time moved by hand: a real clock needs no help
        return
    assert exchange.reachability is not None
    was_reachable = exchange.reachability.reachable
    scripted.mode = kind.removeprefix("probe_")
    call = exchange.probe if kind.startswith("probe") else getattr(exchange, arg)
    with contextlib.suppress(ExchangeUnavailableError, ExchangeRejectedError):
        call() if arg in ("", "balances", "server_time") else call("BTCUSDT")
    if kind in ("ok", "refuse") or (kind == "probe_ok" and was_reachable):
        # An answer may end a silence: a time rule, not a reachability change (in the service
        # the probe answers every 0.2 s, so the silence never lasts). A reachability change
        # must reach the gate by itself: no help here after fail, late and recovering probes.
        container.builder.invalidate()


def _advance_model(model: Model, event: Any, now: float) -> None:
    kind, _arg = event
    model.now = now
    if kind in ("ok", "refuse", "late", "probe_ok", "probe_late"):
        model.last_success = now
    if kind in ("fail", "late", "probe_fail", "probe_late"):
        model.down = True
    if kind == "probe_ok":
        model.down = False


def _open(index: int) -> dict[str, Any]:
    return {
        "signal_id": f"prop-{index}",
        "symbol": "BTCUSDT",
        "side": "BUY",
        "intent": "OPEN",
        "quantity": str(Decimal("0.001")),
    }


@settings(max_examples=100, deadline=None)
@given(events=EVENTS)
def test_status_never_shows_allow_while_the_gate_refuses_new_risk(events: list[Any]) -> None:
    container, clock, scripted = _container()
    try:
        model = Model(clock.monotonic(), clock.monotonic())
        assert container.operator.status()["state"] == "ALLOW"
        for index, event in enumerate(events):
            _apply(container, clock, scripted, event)
            _advance_model(model, event, clock.monotonic())
            status = container.operator.status()
            result = container.gate.submit(_open(index))
            if result.outcome.value == "EXECUTED":
                model.last_success = clock.monotonic()  # the order was an answered call
            assert not (status["state"] == "ALLOW" and result.decision != "ALLOW"), (
                event,
                status["health_checks"],
                result,
            )
            expected = "ALLOW" if model.green() else "NEUTRAL"
            assert (status["state"], result.decision) == (expected, expected), (event, model)
            checks = {c["name"]: c for c in status["health_checks"]}
            assert (checks["exchange_reachable"]["code"] == "EXCHANGE_UNREACHABLE") is (
                not model.green()
            )
    finally:
        container.close()
