"""The tamper-evident, append-only audit trail (SPEC §4) and the durable control state.

``open_audit_store(url)`` opens and migrates ``memory://``, ``sqlite:///PATH`` or
``postgresql://…``. Adapters are imported lazily: ``tradeguard.ports`` imports
``tradeguard.audit.records``, so this package must not import the ports at load time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .records import AuditTable, OrderEvent, OrderEventRecord, SignalRecord

if TYPE_CHECKING:
    from ..ports import AuditStore


def open_audit_store(url: str) -> AuditStore:
    """Open (and migrate) the audit store at ``url``.

    Args:
        url: ``memory://``, ``sqlite:///PATH`` or ``postgresql://…`` (``postgres://`` too).

    Raises:
        ConfigurationError: The URL scheme is not supported (CONFIG_INVALID).
        AuditUnavailableError: The database cannot be opened or migrated (AUD-006).
    """
    from ..codes import ErrorCode
    from ..errors import ConfigurationError

    if url.startswith("memory://"):
        from .memory import MemoryAuditStore

        return MemoryAuditStore()
    if url.startswith("sqlite:///"):
        from .sqlite import SqliteAuditStore

        return SqliteAuditStore(url)
    if url.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresAuditStore

        return PostgresAuditStore(url)
    raise ConfigurationError(
        ErrorCode.CONFIG_INVALID,
        "database URL must start with sqlite:///, postgresql:// or memory://",
        hint="Set TRADEGUARD_DATABASE_URL to sqlite:///PATH or postgresql://USER@HOST/DB.",
    )


__all__ = ["AuditTable", "OrderEvent", "OrderEventRecord", "SignalRecord", "open_audit_store"]
