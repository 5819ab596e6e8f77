"""Authentication: signed webhooks, the passphrase mode, and the operator bearer token.

Webhook signing (SPEC §7), as implemented and documented for senders:

- ``X-TradeGuard-Signature: sha256=<hex>`` is the HMAC-SHA256 of the **raw request body**
  (exactly the bytes sent) keyed with ``TRADEGUARD_WEBHOOK_SECRET``.
- ``X-TradeGuard-Timestamp`` is the send time in Unix seconds (an integer or decimal); it must
  be within 300 s of the service's clock.
- Because the header timestamp is not itself signed, a body that carries a ``timestamp`` field
  (which *is* signed) must also be within 300 s; ``tradeguard signal send`` always includes
  one. A captured body therefore cannot be replayed after five minutes, and within them the
  ``signal_id`` idempotency rule answers a replay with the first result and never executes it
  twice.
- Senders that cannot sign (TradingView) put a ``passphrase`` field in the JSON body instead;
  it is compared in constant time and removed before the signal is validated, recorded or
  logged.

Every comparison uses ``hmac.compare_digest``. Failures are 401 ``AUTH_INVALID`` and say what
is wrong without echoing secrets.
"""

from __future__ import annotations

import hmac
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import SecretStr

from ..codes import ErrorCode
from ..signing import (
    PASSPHRASE_FIELD,
    SIGNATURE_HEADER,
    SIGNATURE_PREFIX,
    TIMESTAMP_HEADER,
    sign_body,
)
from .errors import ApiError

TIMESTAMP_TOLERANCE_SECONDS = 300


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, ErrorCode.AUTH_INVALID, message)


def check_timestamp_header(value: str | None, now: datetime) -> None:
    """Refuse a missing, unparseable or out-of-window ``X-TradeGuard-Timestamp``."""
    if value is None:
        raise _unauthorized(f"{TIMESTAMP_HEADER} header is required with a signature")
    try:
        sent = float(value.strip())
    except ValueError as exc:
        raise _unauthorized(f"{TIMESTAMP_HEADER} must be Unix seconds") from exc
    if not math.isfinite(sent) or abs(now.timestamp() - sent) > TIMESTAMP_TOLERANCE_SECONDS:
        raise _unauthorized(f"{TIMESTAMP_HEADER} is more than 300 s off the service clock")


def check_signature(secret: SecretStr | None, body: bytes, header: str) -> None:
    """Refuse a signature that is malformed or does not match the body."""
    if secret is None:
        raise _unauthorized("signed webhooks are not configured (TRADEGUARD_WEBHOOK_SECRET)")
    expected = sign_body(secret.get_secret_value(), body)
    if not header.startswith(SIGNATURE_PREFIX) or not hmac.compare_digest(
        header.strip().encode("utf-8", "replace"), expected.encode("ascii")
    ):
        raise _unauthorized("signature does not match the body")


def check_body_timestamp(payload: Mapping[str, Any], now: datetime) -> None:
    """Refuse a signed body whose own ``timestamp`` is more than 300 s off."""
    value = payload.get("timestamp")
    if not isinstance(value, str):
        return  # absent or mistyped: the signal's validation names it
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return
    if moment.utcoffset() is None:
        return
    if abs((now - moment).total_seconds()) > TIMESTAMP_TOLERANCE_SECONDS:
        raise _unauthorized("the body's timestamp is more than 300 s off the service clock")


def take_passphrase(secret: SecretStr | None, payload: dict[str, Any]) -> None:
    """Check and remove the ``passphrase`` field (constant-time compare)."""
    given = payload.pop(PASSPHRASE_FIELD, None)
    if secret is None:
        raise _unauthorized(
            "unsigned webhooks need TRADEGUARD_WEBHOOK_PASSPHRASE; or sign the body "
            f"({SIGNATURE_HEADER})"
        )
    if not isinstance(given, str) or not hmac.compare_digest(
        given.encode("utf-8", "replace"), secret.get_secret_value().encode("utf-8")
    ):
        raise _unauthorized("missing or wrong passphrase")


def check_bearer(configured: SecretStr | None, authorization: str | None) -> None:
    """Refuse an operator request without the configured bearer token.

    Without a configured token the operator API is disabled (403 ``OPERATOR_API_DISABLED``).
    """
    if configured is None:
        raise ApiError(
            403,
            ErrorCode.OPERATOR_API_DISABLED,
            "operator endpoints are disabled: TRADEGUARD_OPERATOR_TOKEN is not set",
        )
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        token.strip().encode("utf-8", "replace"),
        configured.get_secret_value().encode("utf-8"),
    ):
        raise ApiError(
            401,
            ErrorCode.AUTH_INVALID,
            "missing or wrong operator token (Authorization: Bearer <token>)",
            headers={"WWW-Authenticate": "Bearer"},
        )


__all__ = [
    "PASSPHRASE_FIELD",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "TIMESTAMP_TOLERANCE_SECONDS",
    "check_bearer",
    "check_body_timestamp",
    "check_signature",
    "check_timestamp_header",
    "sign_body",
    "take_passphrase",
]
