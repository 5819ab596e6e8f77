"""Alert targets through apprise: one URL syntax for Telegram, Slack, e-mail, JSON webhooks...

``TRADEGUARD_ALERT_URLS`` holds comma-separated apprise URLs. They carry tokens, so they are
parsed here and then named only by scheme and position (``tgram#2``): no log line, status
object, CLI answer or error message ever contains one. Each target's connect and read timeouts
are set to ``alert_timeout_seconds``, so a target that accepts a connection and never answers
holds its worker for at most that long per attempt.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import SecretStr

from ..codes import ErrorCode
from ..errors import ConfigurationError
from ..ports import AlertSeverity

# apprise's notify types by name; apprise itself is imported only when a target is configured
# (it costs about half a second, which every CLI command would otherwise pay).
_NOTIFY_TYPES = {
    AlertSeverity.INFO: "INFO",
    AlertSeverity.WARNING: "WARNING",
    AlertSeverity.CRITICAL: "FAILURE",
}


def scheme_of(url: str) -> str:
    """Return the scheme of ``url`` (lower case), or ``invalid`` when it has none."""
    scheme, separator, _rest = url.partition("://")
    if not separator or not scheme.isascii() or not scheme.replace("+", "").isalnum():
        return "invalid"
    return scheme.lower()


def split_alert_urls(value: SecretStr | str | None) -> list[str]:
    """Return the non-empty entries of a comma-separated URL list."""
    if value is None:
        return []
    text = value.get_secret_value() if isinstance(value, SecretStr) else value
    return [entry.strip() for entry in text.split(",") if entry.strip()]


class AppriseTarget:
    """One apprise URL as an ``AlertTarget``.

    Raises:
        ConfigurationError: ``ALERT_URL_INVALID`` when apprise cannot build a notifier from
            the URL (the message names its position and scheme only).
    """

    def __init__(self, url: str, position: int, timeout_seconds: float) -> None:
        import apprise

        self.scheme = scheme_of(url)
        self.label = f"{self.scheme}#{position}"
        self._types: dict[AlertSeverity, Any] = {
            severity: getattr(apprise.NotifyType, name) for severity, name in _NOTIFY_TYPES.items()
        }
        plugin = apprise.Apprise.instantiate(url)
        if plugin is None:
            raise ConfigurationError(
                ErrorCode.ALERT_URL_INVALID,
                f"alert URL #{position} (scheme {self.scheme}) is not a URL apprise can notify",
                hint="fix that entry of TRADEGUARD_ALERT_URLS (see apprise's URL syntax)",
            )
        plugin.socket_connect_timeout = timeout_seconds
        plugin.socket_read_timeout = timeout_seconds
        self._plugin = plugin

    def send(self, title: str, body: str, severity: AlertSeverity) -> bool:
        """Notify once; True when the target accepted the alert."""
        return bool(self._plugin.notify(body=body, title=title, notify_type=self._types[severity]))


def apprise_targets(urls: Sequence[str], timeout_seconds: float) -> list[AppriseTarget]:
    """Build one target per URL (positions from 1); the first invalid URL raises."""
    return [AppriseTarget(url, position, timeout_seconds) for position, url in enumerate(urls, 1)]


__all__ = ["AppriseTarget", "apprise_targets", "scheme_of", "split_alert_urls"]
