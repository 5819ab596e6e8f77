"""The tradeguard exception hierarchy, grouped by what the caller should do.

```
TradeGuardError                    code, message, hint
├── ConfigurationError             fix the configuration           exit 2
│   └── LiveModeRefusedError       a LIVE precondition is missing  exit 2
├── InvalidInputError (ValueError) fix the input (field named)     exit 2 / HTTP 422
├── DependencyUnavailableError     retry later                     exit 3 / HTTP 503
│   ├── AuditUnavailableError      the audit store cannot record
│   ├── ExchangeUnavailableError   the exchange did not answer
│   │   └── ExchangeAuthError      the exchange refused the credentials (fix the keys)
│   └── SourceUnavailableError     a policy source did not answer
├── ExchangeRejectedError          the exchange refused an order   (recorded, not retried)
├── PermitError                    an order without a valid permit (a bug: stop)
└── IntegrityViolationError        stop and investigate            exit 4
    └── AuditTamperError           the audit trail was altered
```

Foreign exceptions (httpx, sqlite3, psycopg, ccxt) are translated into these at the adapter
boundary with ``raise ... from exc``; none escapes its adapter. Errors become exit codes and
HTTP statuses only in the CLI and the API.
"""

from __future__ import annotations

from .codes import ErrorCode, PolicyReasonCode


class TradeGuardError(Exception):
    """Base of every tradeguard error: carries a stable code and a hint for the operator."""

    exit_code: int = 1

    def __init__(
        self, code: ErrorCode | PolicyReasonCode | str, message: str, *, hint: str | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = str(code)
        self.message = message
        self.hint = hint


class ConfigurationError(TradeGuardError):
    """The configuration is invalid; fix it and restart."""

    exit_code = 2


class LiveModeRefusedError(ConfigurationError):
    """LIVE mode was asked for without a safeguard it requires."""


class InvalidInputError(TradeGuardError, ValueError):
    """The caller's input is invalid; ``field`` names what is wrong.

    It is also a ``ValueError``, so ``except ValueError`` catches it as Python users expect.
    """

    exit_code = 2

    def __init__(
        self,
        code: ErrorCode | str,
        message: str,
        *,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(code, message, hint=hint)
        self.field = field


class DependencyUnavailableError(TradeGuardError):
    """Something tradeguard depends on did not answer; retry later."""

    exit_code = 3


class AuditUnavailableError(DependencyUnavailableError):
    """The audit store cannot record; the gate fails closed."""


class ExchangeUnavailableError(DependencyUnavailableError):
    """The exchange did not answer (network error, timeout, 5xx, down)."""


class ExchangeAuthError(ExchangeUnavailableError):
    """The exchange refused the API key or signature (``EXCHANGE_AUTH_FAILED``).

    Keys revoked, rotated or wrong: retrying does not help, an operator must fix them. It is an
    ``ExchangeUnavailableError`` so that every caller that fails closed on an unavailable
    exchange fails closed on it too; the service latches HALT on it (see
    ``tradeguard.sources.account``). The paper exchange never raises it.
    """


class SourceUnavailableError(DependencyUnavailableError):
    """A policy source did not answer."""


class ExchangeRejectedError(TradeGuardError):
    """The exchange answered and refused the request."""


class PermitError(TradeGuardError):
    """The executor was handed an order without a valid permit."""


class IntegrityViolationError(TradeGuardError):
    """Stored data is not what was written; stop and investigate."""

    exit_code = 4


class AuditTamperError(IntegrityViolationError):
    """The audit trail was altered (append-only violation or broken chain)."""


__all__ = [
    "AuditTamperError",
    "AuditUnavailableError",
    "ConfigurationError",
    "DependencyUnavailableError",
    "ExchangeAuthError",
    "ExchangeRejectedError",
    "ExchangeUnavailableError",
    "IntegrityViolationError",
    "InvalidInputError",
    "LiveModeRefusedError",
    "PermitError",
    "SourceUnavailableError",
    "TradeGuardError",
]
