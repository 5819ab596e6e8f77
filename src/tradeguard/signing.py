"""How a sender signs a body for the webhook and the decide API (see ``api/auth.py``).

Kept apart from the service so a bot's client can sign without loading the web application.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

SIGNATURE_HEADER: Final = "X-TradeGuard-Signature"
TIMESTAMP_HEADER: Final = "X-TradeGuard-Timestamp"
SIGNATURE_PREFIX: Final = "sha256="
PASSPHRASE_FIELD: Final = "passphrase"


def sign_body(secret: str, body: bytes) -> str:
    """Return the ``X-TradeGuard-Signature`` value for ``body``."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


__all__ = [
    "PASSPHRASE_FIELD",
    "SIGNATURE_HEADER",
    "SIGNATURE_PREFIX",
    "TIMESTAMP_HEADER",
    "sign_body",
]
