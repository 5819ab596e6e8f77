"""The gate's durable writes fail closed: any store failure becomes ``AUD-006``, logged once.

A signal's rows are written before anything leaves the process; when that write fails, nothing
is sent and the caller gets an :class:`AuditUnavailableError`. A write refused because another
submission recorded the same ``signal_id`` first is no failure: the signal is answered as a
repeat (:func:`decided_elsewhere`).
"""

from __future__ import annotations

from ..audit.records import AuditRecord
from ..codes import ErrorCode
from ..errors import AuditUnavailableError, TradeGuardError
from ..logging import get_logger
from ..ports import AuditStore

_log = get_logger("tradeguard.gate")


def record_or_fail(audit: AuditStore, records: list[AuditRecord]) -> list[int]:
    """Write ``records`` durably and return their seqs.

    Raises:
        AuditUnavailableError: the store failed (AUD-006); logged by :func:`write_failed`.
    """
    try:
        return audit.record_many(records)
    except Exception as exc:
        raise write_failed(records, exc) from exc


def write_failed(records: list[AuditRecord], exc: Exception) -> AuditUnavailableError:
    """Log a failed write of ``records`` and return the error to raise (AUD-006)."""
    # Any store failure: fail closed, nothing is sent. Logged once, here.
    message = exc.message if isinstance(exc, AuditUnavailableError) else str(exc)
    _log.error(
        "audit_unavailable",
        code=ErrorCode.AUD_006.value,
        correlation_id=records[0].correlation_id,
        error=message,
    )
    if isinstance(exc, AuditUnavailableError):
        return exc
    return AuditUnavailableError(ErrorCode.AUD_006, f"cannot record: {exc}")


def decided_elsewhere(exc: BaseException) -> bool:
    """Return True when the store's one-first-row-per-signal_id index refused a write."""
    return isinstance(exc, TradeGuardError) and exc.code == ErrorCode.SIGNAL_DUPLICATE


__all__ = ["decided_elsewhere", "record_or_fail", "write_failed"]
