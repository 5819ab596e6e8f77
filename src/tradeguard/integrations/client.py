"""A typed Python client of the decide API (``POST /v1/decide`` and its report route).

``DecideClient(url, secret=...)`` signs every body with the webhook secret (or sends the
passphrase for setups without one) and answers typed values. It never answers "permitted" by
default: a timeout, a connection failure, a 5xx or an answer it cannot read raises
``DecideUnavailableError`` (SERVICE_UNREACHABLE), and a refused request (4xx) raises
``DecideRequestError`` carrying the service's code. Callers fail closed: no answer, no order.

    with DecideClient("http://127.0.0.1:8080", secret=SECRET) as client:
        answer = client.decide({"signal_id": "s-1", "symbol": "BTCUSDT", "side": "BUY",
                                "quantity": "0.01"})
        if answer.permitted:
            ...  # place the order, then:
            client.report(answer.permit_id, exchange_order_id="42", status="FILLED",
                          filled_quantity="0.01", average_price="50000")
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from types import TracebackType
from typing import Any, Final
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from ..codes import ErrorCode
from ..errors import DependencyUnavailableError, TradeGuardError
from ..execution.decisions import DecideAnswer, OrderReport, ReportAnswer, parse_report
from ..policy import format_utc
from ..signals import Signal
from ..signing import PASSPHRASE_FIELD, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign_body

DEFAULT_TIMEOUT_SECONDS: Final = 2.0
DECIDE_PATH: Final = "/v1/decide"


class DecideUnavailableError(DependencyUnavailableError):
    """The decide API did not answer in time or answered garbage; do not place the order."""


class DecideRequestError(TradeGuardError):
    """The decide API refused the request (4xx); ``code`` and ``status`` say why."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code, message)
        self.status = status


def _secret(value: str | SecretStr | None) -> str | None:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def _plain(value: Any) -> Any:
    # JSON-ready: Decimals as strings (never floats), datetimes as UTC text.
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return format_utc(value)
    return value


def signal_body(signal: Signal | Mapping[str, Any]) -> dict[str, Any]:
    """Return the JSON body of ``signal`` (Decimals as strings, no null fields).

    No timestamp is added: the same signal sent again must hash the same, so a retry is
    answered with the first answer (a repeat with other content is refused, 409).
    """
    data = signal.to_payload() if isinstance(signal, Signal) else dict(signal)
    return {str(key): _plain(value) for key, value in data.items() if value is not None}


class DecideClient:
    """Ask the decide API before an order; report the order after it.

    Args:
        url: The service's base URL (``http://127.0.0.1:8080``); a URL ending in
            ``/v1/decide`` is accepted too.
        secret: The webhook secret (``TRADEGUARD_WEBHOOK_SECRET``): bodies are signed.
        passphrase: For a service with only ``TRADEGUARD_WEBHOOK_PASSPHRASE`` configured.
        timeout: Seconds to wait for an answer before failing closed.
        transport: An httpx transport (tests).
    """

    def __init__(
        self,
        url: str,
        *,
        secret: str | SecretStr | None = None,
        passphrase: str | SecretStr | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._secret = _secret(secret)
        self._passphrase = _secret(passphrase)
        if not self._secret and not self._passphrase:
            raise ValueError("give the webhook secret (or the passphrase) of the service")
        base = url.rstrip("/")
        self.base_url = base.removesuffix(DECIDE_PATH)
        self.timeout = timeout
        self._http = httpx.Client(timeout=timeout, transport=transport)

    def __enter__(self) -> DecideClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()

    def decide(self, signal: Signal | Mapping[str, Any]) -> DecideAnswer:
        """Return the decision for ``signal``; nothing is sent to an exchange.

        Raises:
            DecideUnavailableError: no usable answer in time (fail closed).
            DecideRequestError: the service refused the request (401, 409, 413, 422).
        """
        data = self._post(DECIDE_PATH, signal_body(signal))
        try:
            return DecideAnswer.from_dict(data)
        except ValueError as exc:
            raise _unusable(f"{DECIDE_PATH}: {exc}") from exc

    def report(
        self,
        permit_id: str,
        report: OrderReport | Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> ReportAnswer:
        """Report the order ``permit_id`` covered (a report, or its fields as keywords).

        Raises:
            InvalidInputError: the report is malformed (PERMIT_REPORT_INVALID; not sent).
            DecideUnavailableError: no usable answer in time.
            DecideRequestError: refused (PERMIT_UNKNOWN, PERMIT_EXPIRED, ...).
        """
        parsed = parse_report(report if report is not None else fields)
        path = f"{DECIDE_PATH}/{quote(permit_id, safe='')}/report"
        data = self._post(path, parsed.to_dict())
        try:
            return ReportAnswer.from_dict(data)
        except ValueError as exc:
            raise _unusable(f"{path}: {exc}") from exc

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        if self._secret:
            raw = json.dumps(body, separators=(",", ":")).encode("utf-8")
            headers[SIGNATURE_HEADER] = sign_body(self._secret, raw)
            headers[TIMESTAMP_HEADER] = str(int(time.time()))
        else:
            raw = json.dumps({**body, PASSPHRASE_FIELD: self._passphrase}).encode("utf-8")
        url = self.base_url + path
        try:
            response = self._http.post(url, content=raw, headers=headers)
        except httpx.HTTPError as exc:
            raise _unusable(f"{url}: {type(exc).__name__}") from exc
        try:
            data = response.json()
        except ValueError as exc:
            raise _unusable(f"{url}: HTTP {response.status_code}, not JSON") from exc
        if not isinstance(data, dict):
            raise _unusable(f"{url}: HTTP {response.status_code}, not a JSON object")
        status = response.status_code
        if status >= 500 or status < 200 or 300 <= status < 400:
            raise _unusable(f"{url}: HTTP {status} {data.get('code')}")
        if status >= 400:
            code = str(data.get("code") or ErrorCode.INPUT_INVALID_VALUE.value)
            raise DecideRequestError(status, code, str(data.get("message", "")))
        return data


def _unusable(detail: str) -> DecideUnavailableError:
    return DecideUnavailableError(
        ErrorCode.SERVICE_UNREACHABLE,
        f"no usable answer from the decide API ({detail}); refuse the order",
        hint="check that `tradeguard run` is up and the URL and secret are right",
    )


__all__ = [
    "DEFAULT_TIMEOUT_SECONDS",
    "DecideAnswer",
    "DecideClient",
    "DecideRequestError",
    "DecideUnavailableError",
    "OrderReport",
    "ReportAnswer",
    "signal_body",
]
