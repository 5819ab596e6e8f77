"""The freqtrade mixin's configuration and the pure rules it answers by.

The configuration comes from the bot's config (a ``tradeguard`` section) or the environment;
the rules turn freqtrade's floats into decimal text, its pairs into tradeguard symbols, and a
decide answer into a yes only when it carries a permit for the intent (SPEC §2).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from ..codes import ErrorCode
from ..errors import ConfigurationError
from ..policy import Decision, OrderIntent, intent_permitted

URL_ENV: Final = "TRADEGUARD_URL"
SECRET_ENV: Final = "TRADEGUARD_WEBHOOK_SECRET"
PASSPHRASE_ENV: Final = "TRADEGUARD_WEBHOOK_PASSPHRASE"
TIMEOUT_ENV: Final = "TRADEGUARD_DECIDE_TIMEOUT_SECONDS"
CONFIG_SECTION: Final = "tradeguard"
MAX_TIMEOUT_SECONDS: Final = 30.0


@dataclass(frozen=True, slots=True)
class FreqtradeGuardConfig:
    """Where and how the mixin asks tradeguard.

    Attributes:
        url: The service's base URL, e.g. ``http://127.0.0.1:8080``.
        secret: The webhook secret bodies are signed with (or None).
        passphrase: The webhook passphrase, for a service without a secret (or None).
        timeout_seconds: How long to wait for a decision before refusing.
    """

    url: str
    secret: str | None
    passphrase: str | None
    timeout_seconds: float

    @classmethod
    def resolve(
        cls, config: Mapping[str, Any] | None, environ: Mapping[str, str], default_timeout: float
    ) -> FreqtradeGuardConfig:
        """Read the ``tradeguard`` config section, falling back to the environment.

        Raises:
            ConfigurationError: no URL, neither secret nor passphrase, or a bad timeout.
        """
        section = (config or {}).get(CONFIG_SECTION) or {}
        if not isinstance(section, Mapping):
            raise _misconfigured(f"the {CONFIG_SECTION!r} config section must be an object")
        url = _text(section.get("url")) or _text(environ.get(URL_ENV))
        secret = _text(section.get("secret")) or _text(environ.get(SECRET_ENV))
        passphrase = _text(section.get("passphrase")) or _text(environ.get(PASSPHRASE_ENV))
        if url is None:
            raise _misconfigured(f"no tradeguard URL ({CONFIG_SECTION}.url or {URL_ENV})")
        if secret is None and passphrase is None:
            raise _misconfigured(f"no webhook secret ({CONFIG_SECTION}.secret or {SECRET_ENV})")
        raw = section.get("timeout", environ.get(TIMEOUT_ENV, default_timeout))
        try:
            timeout = float(raw)
        except (TypeError, ValueError) as exc:
            raise _misconfigured(f"timeout must be a number of seconds, got {raw!r}") from exc
        if not 0 < timeout <= MAX_TIMEOUT_SECONDS:
            raise _misconfigured(f"timeout must be within (0, {MAX_TIMEOUT_SECONDS:g}] seconds")
        return cls(url=url, secret=secret, passphrase=passphrase, timeout_seconds=timeout)


def _text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _misconfigured(message: str) -> ConfigurationError:
    return ConfigurationError(
        ErrorCode.CONFIG_INVALID, message, hint="see the freqtrade section of docs/integrations.md"
    )


def decimal_text(value: object) -> str | None:
    """Return a positive finite number freqtrade passed (a float) as decimal text, or None."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return format(number, "f") if number.is_finite() and number > 0 else None


def pair_symbol(pair: str) -> str:
    """Turn a freqtrade pair (``BTC/USDT``, ``BTC/USDT:USDT``) into ``BTCUSDT``."""
    return pair.split(":", 1)[0].replace("/", "").upper()


def answer_permits(intent: OrderIntent, answer: Any) -> bool:
    """True only for an answer that carries a permit and whose decision lets ``intent`` pass."""
    permit_id = getattr(answer, "permit_id", None)
    if getattr(answer, "permitted", False) is not True or not isinstance(permit_id, str):
        return False
    try:
        decision = Decision(str(getattr(answer, "decision", "")))
    except ValueError:
        return False
    return bool(permit_id) and intent_permitted(decision, intent)


__all__ = [
    "CONFIG_SECTION",
    "MAX_TIMEOUT_SECONDS",
    "PASSPHRASE_ENV",
    "SECRET_ENV",
    "TIMEOUT_ENV",
    "URL_ENV",
    "FreqtradeGuardConfig",
    "answer_permits",
    "decimal_text",
    "pair_symbol",
]
