"""Two instances, one account on PostgreSQL: resting orders and decide permits are shared.

Two ``tradeguard run`` instances trade LIVE on one database against one exchange simulator.

- LIMIT orders far below the market rest on the exchange. A burst of them sent to both
  instances leaves exactly ``TRADEGUARD_MAX_OPEN_ORDERS`` on the simulator (its own order
  list, ``/_sim/orders``): each resting order counts for both. When one instance dies its
  resting orders stay on the exchange, so they keep counting for the other one after the dead
  one's lease; once one of them is cancelled on the exchange, the survivor's account read
  frees its place and one more LIMIT order rests.
- A decide permit minted through one instance is reported through the other (200), which frees
  its reservation for both and writes its ``order_audit`` row once; reporting it again through
  the first answers 409 ``PERMIT_ALREADY_REPORTED``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from pydantic import SecretStr

from tests.e2e.test_shared_caps_e2e import SECRET, SYMBOL, Service, _env, _free_port, send
from tradeguard.api.auth import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign_body
from tradeguard.clock import SystemClock
from tradeguard.exchange.simulator import ExchangeSimulator
from tradeguard.exchange.valr import ValrExchange

QUANTITY = Decimal("0.01")
MAX_OPEN = 3
LEASE_SECONDS = 2.0


@pytest.fixture
def simulator() -> Iterator[ExchangeSimulator]:
    with ExchangeSimulator() as sim:
        yield sim


def _start(
    database_url: str, sim: ExchangeSimulator, tmp_path: Path, cap: Decimal, count: int = 2
) -> list[Service]:
    services = []
    for index in range(count):
        env = _env(database_url, sim, cap, _free_port())
        env["TRADEGUARD_SHARED_LEASE_SECONDS"] = str(LEASE_SECONDS)
        env["TRADEGUARD_ACCOUNT_CHECK_INTERVAL_SECONDS"] = "0.5"
        services.append(Service(env, tmp_path / f"s{index}.log"))
    return services


def _limit_price(sim: ExchangeSimulator) -> Decimal:
    return (sim.state.market.last_price(SYMBOL) / 2).quantize(Decimal(1))


def _limits(sim: ExchangeSimulator) -> list[dict[str, Any]]:
    orders = httpx.get(f"{sim.base_url}/_sim/orders", timeout=5).json()
    return [o for o in orders if o["order_type"] == "LIMIT" and o["side"] == "BUY"]


def _send_limit(base: str, price: Decimal) -> dict[str, Any]:
    answer = send(base, order_type="LIMIT", price=str(price), quantity=str(QUANTITY))
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_resting_limit_orders_count_for_every_instance_until_the_exchange_drops_them(
    postgres_url: str, simulator: ExchangeSimulator, tmp_path: Path
) -> None:
    price = _limit_price(simulator)
    cap = (QUANTITY * simulator.state.market.last_price(SYMBOL) * 100).quantize(Decimal("0.01"))
    first, second = _start(postgres_url, simulator, tmp_path, cap)
    try:
        for service in (first, second):
            service.wait_allowing()
        bases = [first.base, second.base]
        # A concurrent burst to both: each instance alone would rest three of its own.
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(
                pool.map(lambda i: _send_limit(bases[i % 2], price - i), range(3 * MAX_OPEN))
            )
        outcomes = [a["outcome"] for a in answers]
        assert outcomes.count("RESTING") == MAX_OPEN, answers
        refused = {a.get("refusal_code") for a in answers if a["outcome"] == "REFUSED"}
        assert refused == {"RISK_OPEN_ORDERS"}, answers
        assert len(_limits(simulator)) == MAX_OPEN
        # The first instance dies; its resting orders stay on the exchange and keep counting
        # after its lease (and the survivor's account reads) have come and gone.
        first.stop()
        time.sleep(LEASE_SECONDS * 2)  # the dead instance's lease is over: no event to poll
        assert _send_limit(second.base, price - 10)["refusal_code"] == "RISK_OPEN_ORDERS"
        assert len(_limits(simulator)) == MAX_OPEN
        # One resting order is cancelled on the exchange itself: the survivor's next account
        # read frees its place, and one more LIMIT order rests (and then no more).
        exchange = ValrExchange(
            simulator.base_url,
            SecretStr(simulator.api_key),
            SecretStr(simulator.api_secret),
            SystemClock(),
        )
        resting = exchange.open_orders(SYMBOL)
        assert len(resting) == MAX_OPEN
        exchange.cancel_order(SYMBOL, resting[0].order_id)
        deadline = time.monotonic() + 60
        while _send_limit(second.base, price - 20)["outcome"] != "RESTING":
            assert time.monotonic() < deadline, second.log.read_text()[-4000:]
            time.sleep(0.5)
        assert len(exchange.open_orders(SYMBOL)) == MAX_OPEN
        assert _send_limit(second.base, price - 30)["refusal_code"] == "RISK_OPEN_ORDERS"
        assert len(_limits(simulator)) == MAX_OPEN + 1
    finally:
        if first.process.poll() is None:
            first.stop()
        second.stop()


def _post(base: str, path: str, body: dict[str, Any]) -> httpx.Response:
    raw = json.dumps(body).encode()
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign_body(SECRET, raw),
        TIMESTAMP_HEADER: str(int(time.time())),
    }
    return httpx.post(f"{base}{path}", content=raw, headers=headers, timeout=30)


def _decide(base: str, quantity: Decimal) -> httpx.Response:
    body = {
        "signal_id": f"decide-{time.time_ns()}",
        "symbol": SYMBOL,
        "side": "BUY",
        "intent": "OPEN",
        "quantity": str(quantity),
    }
    return _post(base, "/v1/decide", body)


def _order_rows(database_url: str, permit_id: str) -> list[str]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT event FROM order_audit WHERE correlation_id = %s ORDER BY seq", (permit_id,)
        ).fetchall()
    return [row[0] for row in rows]


def test_a_permit_minted_through_one_instance_is_reported_through_the_other(
    postgres_url: str, simulator: ExchangeSimulator, tmp_path: Path
) -> None:
    # The exposure cap holds 1.5 permits: a second one waits for the first to be freed.
    cap = (QUANTITY * simulator.state.market.last_price(SYMBOL) * Decimal("1.5")).quantize(
        Decimal("0.01")
    )
    first, second = _start(postgres_url, simulator, tmp_path, cap)
    try:
        for service in (first, second):
            service.wait_allowing()
        minted = _decide(first.base, QUANTITY).json()
        assert minted["permit_id"], minted
        permit_id = minted["permit_id"]
        held = _decide(second.base, QUANTITY).json()
        assert held["permit_id"] is None and held["refusal_code"] == "RISK_EXPOSURE", held
        report = {"exchange_order_id": "bot-1", "status": "CANCELLED", "filled_quantity": "0"}
        answer = _post(second.base, f"/v1/decide/{permit_id}/report", report)
        assert answer.status_code == 200, answer.text
        assert answer.json()["open"] is False
        # The reservation is freed for both instances: a new permit passes through the first.
        again = _decide(first.base, QUANTITY).json()
        assert again["permit_id"], again
        repeated = _post(first.base, f"/v1/decide/{permit_id}/report", report)
        assert repeated.status_code == 409
        assert repeated.json()["code"] == "PERMIT_ALREADY_REPORTED"
        unknown = _post(first.base, "/v1/decide/no-such-permit/report", report)
        assert unknown.status_code == 404
        assert _order_rows(postgres_url, permit_id) == ["CANCELLED"]
    finally:
        first.stop()
        second.stop()
