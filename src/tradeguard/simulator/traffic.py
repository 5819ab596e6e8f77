"""What runs beside the pipeline during a scenario: signal traffic, the outside observer, and
the fault controls of the loopback servers (used over HTTP, as an operator's tool would)."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx

from ..errors import TradeGuardError
from ..logging import get_logger
from ..policy import parse_utc
from .results import ExchangeOrder, Observation, ScenarioAbortedError, SystemState

_log = get_logger("tradeguard.simulator.traffic")

ORDER_QUANTITY = Decimal("0.001")


@dataclass(frozen=True, slots=True)
class SentSignal:
    """One signal the producer sent and what the gate answered."""

    signal_id: str
    intent: str
    monotonic: float
    decision: str
    outcome: str
    correlation_id: str | None
    refusal_code: str | None = None
    error: str | None = None

    @property
    def accepted(self) -> bool:
        """True when the gate let the order go to the exchange and it was filled."""
        return self.outcome in ("EXECUTED", "PARTIALLY_FILLED", "RESTING")


class SignalProducer:
    """Send OPEN and CLOSE signals through the gate every 20–50 ms until stopped.

    The producer is long-only: OPEN buys ``quantity``; CLOSE sells what the position book
    holds (a CLOSE is skipped in favour of an OPEN while the book is flat). So at the exchange
    every BUY is new risk and every SELL reduces it.

    Args:
        submit: The gate's ``submit``.
        position: Returns the book's net position of ``symbol``.
        scenario_id: Prefix of every signal_id.
        symbol: The traded symbol.
        interval: (min, max) seconds between signals.
    """

    def __init__(
        self,
        submit: Callable[[dict[str, Any]], Any],
        position: Callable[[], Decimal],
        scenario_id: str,
        symbol: str,
        interval: tuple[float, float] = (0.02, 0.05),
    ) -> None:
        self._submit = submit
        self._position = position
        self._scenario_id = scenario_id
        self._symbol = symbol
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scenario-producer", daemon=True)
        self._lock = threading.Lock()
        self._sent: list[SentSignal] = []
        self._count = 0
        self._random = random.Random(scenario_id)

    def start(self) -> None:
        """Start sending."""
        self._thread.start()

    def stop(self) -> None:
        """Stop sending and wait for the signal in flight."""
        self._stop.set()
        self._thread.join(timeout=10)

    def sent(self) -> list[SentSignal]:
        """Return every signal sent so far."""
        with self._lock:
            return list(self._sent)

    def _next(self) -> dict[str, Any]:
        self._count += 1
        held = self._position()
        opening = self._count % 2 == 1 or held <= 0
        return {
            "signal_id": f"{self._scenario_id}-{self._count}",
            "symbol": self._symbol,
            "side": "BUY" if opening else "SELL",
            "intent": "OPEN" if opening else "CLOSE",
            "quantity": str(ORDER_QUANTITY if opening else held),
            "source": "failure-scenario-simulator",
            "strategy": "scenario-traffic",
        }

    def send_one(self) -> SentSignal:
        """Send one signal now and record the answer."""
        signal = self._next()
        started = time.monotonic()
        try:
            result = self._submit(signal)
            sent = SentSignal(
                signal["signal_id"],
                signal["intent"],
                started,
                str(result.decision),
                str(result.outcome),
                result.correlation_id,
                result.refusal_code,
            )
        except TradeGuardError as exc:  # the gate failed closed; recorded as such
            sent = SentSignal(
                signal["signal_id"], signal["intent"], started, "ERROR", "ERROR", None, exc.code
            )
        with self._lock:
            self._sent.append(sent)
        return sent

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.send_one()
            except Exception as exc:  # keep the traffic flowing; the error is reported
                _log.error("scenario_producer_error", error=repr(exc))
            self._stop.wait(self._random.uniform(*self._interval))


class StatusObserver:
    """Poll the status (as ``GET /v1/status`` computes it) every ``interval`` seconds.

    Args:
        status: The operator service's ``status``.
        interval: Seconds between readings.
    """

    def __init__(self, status: Callable[[], dict[str, Any]], interval: float = 0.015) -> None:
        self._status = status
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scenario-observer", daemon=True)
        self._lock = threading.Lock()
        self._readings: list[Observation] = []
        self.errors = 0

    def start(self) -> None:
        """Start polling."""
        self._thread.start()

    def stop(self) -> None:
        """Stop polling."""
        self._stop.set()
        self._thread.join(timeout=10)

    def readings(self) -> list[Observation]:
        """Return every reading so far, oldest first."""
        with self._lock:
            return list(self._readings)

    def latest(self) -> Observation | None:
        """Return the newest reading."""
        with self._lock:
            return self._readings[-1] if self._readings else None

    def read_once(self) -> Observation:
        """Take one reading now."""
        started = datetime.now(UTC)
        status = self._status()
        finished = datetime.now(UTC)
        checks = tuple(
            (str(item.get("name")), str(item.get("code"))) for item in status["health_checks"]
        )
        reading = Observation(
            started=started,
            finished=finished,
            monotonic=time.monotonic(),
            state=SystemState(status["state"]),
            reason_code=str(status.get("reason_code", "")),
            check_codes=checks,
            is_latched=bool(status.get("is_latched")),
        )
        with self._lock:
            self._readings.append(reading)
        return reading

    def wait_for(
        self, predicate: Callable[[Observation], bool], timeout: float, since: float = 0.0
    ) -> Observation | None:
        """Wait until a reading taken after ``since`` (monotonic) matches; None on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                found = next(
                    (r for r in self._readings if r.monotonic >= since and predicate(r)), None
                )
            if found is not None:
                return found
            time.sleep(0.005)
        return None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.read_once()
            except Exception as exc:  # counted and reported; never taken for a state
                self.errors += 1
                _log.error("scenario_observer_error", error=repr(exc))
            self._stop.wait(self._interval)


class LoopbackControl:
    """The control surfaces of the exchange simulator (``/_sim/``) and the SSE server."""

    def __init__(self, exchange_url: str, feed_base_url: str, timeout: float = 2.0) -> None:
        self._exchange = exchange_url.rstrip("/")
        self._feed = feed_base_url.rstrip("/")
        self._client = httpx.Client(timeout=timeout)

    def close(self) -> None:
        """Release the HTTP client."""
        self._client.close()

    def _post(self, url: str, body: dict[str, Any], what: str) -> Any:
        try:
            response = self._client.post(url, json=body)
        except httpx.HTTPError as exc:
            raise ScenarioAbortedError(f"cannot {what}: {exc!r}") from exc
        if response.status_code != 200:
            raise ScenarioAbortedError(
                f"cannot {what}: HTTP {response.status_code} {response.text[:200]}"
            )
        return response.json()

    def set_faults(self, faults: dict[str, Any]) -> None:
        """Replace the exchange simulator's faults (FSS-001 when it does not accept them)."""
        self._post(f"{self._exchange}/_sim/faults", faults, f"set exchange faults {faults}")

    def clear_faults(self) -> None:
        """Clear every exchange fault."""
        self.set_faults({})

    def refuse_feed(self, count: int, mode: str = "status") -> None:
        """Make the SSE server refuse the next ``count`` connection attempts."""
        self._post(f"{self._feed}/_sse/refuse", {"count": count, "mode": mode}, "refuse feed")

    def drop_feed(self) -> None:
        """Close every open SSE stream now."""
        self._post(f"{self._feed}/_sse/drop", {}, "drop the feed's streams")

    def feed_stats(self) -> dict[str, Any]:
        """Return the SSE server's counters."""
        try:
            response = self._client.get(f"{self._feed}/_sse/stats")
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise ScenarioAbortedError(f"cannot read the feed stats: {exc!r}") from exc
        data: dict[str, Any] = response.json()
        return data

    def accepted_orders(self) -> list[ExchangeOrder]:
        """Return every order the exchange simulator accepted (``GET /_sim/orders``)."""
        try:
            response = self._client.get(f"{self._exchange}/_sim/orders")
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise ScenarioAbortedError(f"cannot read the exchange's orders: {exc!r}") from exc
        return [
            ExchangeOrder(
                order_id=str(item["order_id"]),
                client_order_id=str(item["client_order_id"]),
                symbol=str(item["symbol"]),
                side=str(item["side"]),
                quantity=Decimal(str(item["quantity"])),
                arrived_at=parse_utc(str(item["arrived_at"]), field_name="arrived_at"),
                intent=item.get("intent"),
            )
            for item in response.json()
        ]


__all__ = [
    "ORDER_QUANTITY",
    "LoopbackControl",
    "SentSignal",
    "SignalProducer",
    "StatusObserver",
]
