"""The decide API and the ccxt guard against `tradeguard run`, as the README starts it."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import ccxt.async_support as accxt
import httpx
import pytest

from tests.e2e.test_service_e2e import SECRET, TRADEGUARD, _cli, _env, _free_port
from tests.integration.exchange.test_ccxt_guard import binance, sim_orders
from tradeguard import open_audit_store
from tradeguard.audit.records import AuditTable
from tradeguard.exchange.simulator import ExchangeSimulator
from tradeguard.integrations.ccxt import TradeGuardRefused, guard
from tradeguard.integrations.client import DecideClient, DecideRequestError
from tradeguard.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign_body

CAP = "1000"
QUANTITY = "0.0045"  # about 225 at ~50,000: the cap admits 4 (900), never 5 (1,125)
SHORT_TTL = "2"


@contextmanager
def _service(tmp_path: Path, ttl: str) -> Iterator[tuple[str, dict[str, str], Path]]:
    port = _free_port()
    env = _env(tmp_path, port)
    env.update(
        {
            "TRADEGUARD_MAX_GROSS_EXPOSURE": CAP,
            "TRADEGUARD_PERMIT_TTL_SECONDS": ttl,
            "TRADEGUARD_SOURCE_TIMEOUT_MS": "5000",  # a busy machine must not cause a HALT
        }
    )
    log = (tmp_path / "service.log").open("w")
    process = subprocess.Popen([TRADEGUARD, "run"], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(lambda: _healthy(base), 30, lambda: (tmp_path / "service.log").read_text())
        yield base, env, tmp_path
    finally:
        process.terminate()
        process.wait(10)
        log.close()


@pytest.fixture
def decide_service(tmp_path: Path) -> Iterator[tuple[str, dict[str, str], Path]]:
    # Permits outlive any test step, however busy the machine: nothing expires by accident.
    with _service(tmp_path, "60") as running:
        yield running


@pytest.fixture
def short_ttl_service(tmp_path: Path) -> Iterator[tuple[str, dict[str, str], Path]]:
    with _service(tmp_path, SHORT_TTL) as running:
        yield running


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False


def _wait_for(check: Callable[[], bool], seconds: float, why: Callable[[], str]) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    pytest.fail(why())


def _post(base: str, path: str, body: dict[str, Any]) -> httpx.Response:
    raw = json.dumps(body).encode()
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign_body(SECRET, raw),
        TIMESTAMP_HEADER: str(int(time.time())),
    }
    return httpx.post(base + path, content=raw, headers=headers, timeout=10)


def _signal(**fields: Any) -> dict[str, Any]:
    return {
        "signal_id": f"e2e-{time.time_ns()}-{id(fields)}",
        "symbol": "BTCUSDT",
        "side": "BUY",
        "quantity": QUANTITY,
        **fields,
    }


def _order_rows(tmp_path: Path) -> list[dict[str, Any]]:
    store = open_audit_store(f"sqlite:///{tmp_path / 'tradeguard.db'}")
    try:
        return list(store.rows(AuditTable.ORDER))
    finally:
        store.close()


def test_caps_hold_across_decide_and_signal_traffic_together(decide_service):
    base, _, _ = decide_service

    def one(index: int) -> tuple[str, bool]:
        if index % 2:
            answer = _post(base, "/v1/decide", _signal()).json()
            return "decide", answer["permitted"] is True
        answer = _post(base, "/v1/signals", _signal()).json()
        return "signal", answer["outcome"] == "EXECUTED"

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(16)))
    admitted = [kind for kind, ok in results if ok]
    # Decide reservations and signal fills share one cap: exactly four fit, whatever the mix.
    assert len(admitted) == 4, results
    refused = _post(base, "/v1/decide", _signal()).json()
    assert refused["refusal_code"] == "RISK_EXPOSURE"


def test_permit_expiry_frees_the_reservation_and_is_recorded(short_ttl_service):
    base, _, tmp_path = short_ttl_service
    permits = [_post(base, "/v1/decide", _signal()).json() for _ in range(4)]
    assert all(p["permitted"] for p in permits)
    assert _post(base, "/v1/decide", _signal()).json()["refusal_code"] == "RISK_EXPOSURE"
    issued = {p["permit_id"] for p in permits}

    def expired() -> set[str]:
        rows = _order_rows(tmp_path)
        return {r["correlation_id"] for r in rows if r["code"] == "PERMIT_EXPIRED"}

    # Nobody reports and nobody asks: the background sweep expires them and records it.
    _wait_for(lambda: issued <= expired(), 20, lambda: f"not expired: {issued - expired()}")
    assert _post(base, "/v1/decide", _signal()).json()["permitted"] is True
    late = _post(
        base,
        f"/v1/decide/{permits[0]['permit_id']}/report",
        {"exchange_order_id": "1", "status": "FILLED", "filled_quantity": QUANTITY},
    )
    assert (late.status_code, late.json()["code"]) == (409, "PERMIT_EXPIRED")


def test_bad_reports_are_refused_with_their_code_and_change_nothing(decide_service):
    base, _, tmp_path = decide_service
    with DecideClient(base, secret=SECRET, timeout=5) as client:
        answer = client.decide(_signal())
        assert answer.permitted and answer.permit_id is not None
        before = len(_order_rows(tmp_path))
        for permit_id, fields, code in [
            ("no-such-permit", {"filled_quantity": "0"}, "PERMIT_UNKNOWN"),
            (answer.permit_id, {"filled_quantity": "1"}, "PERMIT_REPORT_INVALID"),
        ]:
            with pytest.raises(DecideRequestError) as refused:
                client.report(permit_id, exchange_order_id="7", status="FILLED", **fields)
            assert refused.value.code == code
        assert len(_order_rows(tmp_path)) == before
        done = client.report(
            answer.permit_id, exchange_order_id="7", status="FILLED", filled_quantity=QUANTITY
        )
        assert done.open is False
        with pytest.raises(DecideRequestError) as again:
            client.report(
                answer.permit_id, exchange_order_id="7", status="FILLED", filled_quantity=QUANTITY
            )
        assert (again.value.status, again.value.code) == (409, "PERMIT_ALREADY_REPORTED")
        assert len(_order_rows(tmp_path)) == before + 1


def test_the_cli_decides_and_its_exit_code_says_whether_permitted(decide_service):
    base, env, _ = decide_service
    args = ("decide", "--symbol", "BTCUSDT", "--side", "BUY", "--quantity", "0.001")
    allowed = _cli(env, *args, "--url", f"{base}/v1/decide")
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    answer = json.loads(allowed.stdout)
    assert answer["permitted"] is True and answer["permit_id"]
    assert _cli(env, "kill", "on", "--operator", "e2e", "--reason", "drill").returncode == 0
    _wait_for(
        lambda: _cli(env, *args, "--url", f"{base}/v1/decide").returncode == 1,
        10,
        lambda: "the kill switch never reached the decide API",
    )
    unreachable = _cli(env, *args, "--url", f"http://127.0.0.1:{_free_port()}/v1/decide")
    assert unreachable.returncode == 3, unreachable.stderr


def test_the_ccxt_guard_over_http_sync_and_async(decide_service):
    base, env, _ = decide_service
    with ExchangeSimulator() as simulator:
        guarded = guard(binance(simulator), url=base, secret=SECRET, timeout=5)
        order = guarded.create_market_buy_order("BTC/USDT", 0.001)
        assert order["status"] == "closed"

        async def async_order() -> Any:
            exchange = guard(binance(simulator, accxt), url=base, secret=SECRET, timeout=5)
            try:
                return await exchange.create_market_buy_order("BTC/USDT", 0.001)
            finally:
                await exchange.close()

        assert asyncio.run(async_order())["status"] == "closed"
        assert len(sim_orders(simulator)) == 2

        assert _cli(env, "kill", "on", "--operator", "e2e", "--reason", "drill").returncode == 0
        _wait_for(
            lambda: _post(base, "/v1/decide", _signal()).json()["decision"] == "HALT",
            10,
            lambda: "the kill switch never reached the decide API",
        )
        with pytest.raises(TradeGuardRefused) as refused:
            guarded.create_market_buy_order("BTC/USDT", 0.001)
        assert refused.value.code == "HALT_KILL_SWITCH"

        async def async_refused() -> TradeGuardRefused:
            exchange = guard(binance(simulator, accxt), url=base, secret=SECRET, timeout=5)
            try:
                with pytest.raises(TradeGuardRefused) as caught:
                    await exchange.create_market_buy_order("BTC/USDT", 0.001)
                return caught.value
            finally:
                await exchange.close()

        assert asyncio.run(async_refused()).code == "HALT_KILL_SWITCH"
        assert len(sim_orders(simulator)) == 2
