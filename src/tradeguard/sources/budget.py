"""BudgetGuard: the operating budget gate's source (SPEC §3).

The operator's cost tracker writes a JSON budget report to a file or serves it over HTTP(S).
:meth:`BudgetGuard.refresh` reads and parses it (in the background); :meth:`BudgetGuard.current`
applies the rules to the parsed report at the current time, which is cheap. Rules, in order:

1. unreadable configured report → HARD_STOP ``BUDGET_REPORT_UNAVAILABLE``; unparseable,
   truncated, missing field, wrong type, negative or non-finite number, timestamp without a
   zone or not UTC, duplicate key → HARD_STOP ``BUDGET_DATA_CORRUPT`` (logged, and passed to
   ``on_corrupt`` so the service records it in the audit trail);
2. ``generated_at`` older than ``max_age_seconds`` or in the future → STALE_DATA;
3. ``risk_level`` CRITICAL or OVER_BUDGET, or month-to-date spend at or above the monthly
   budget → HARD_STOP;
4. today's spend above the recommended daily spend → RDS_EXCEEDED;
5. else ALLOW.

Money fields must be JSON numbers; they are parsed straight into ``Decimal`` (never float).
No report configured (``source=None``) answers ALLOW with code ``NOT_CONFIGURED``.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import httpx

from ..codes import ErrorCode, PolicyReasonCode
from ..errors import SourceUnavailableError
from ..logging import get_logger
from ..policy import BudgetSignal, Clock

_log = get_logger(__name__)

MAX_REPORT_BYTES: Final = 1 << 20
MONEY_FIELDS: Final = (
    "monthly_budget",
    "month_to_date_spend",
    "recommended_daily_spend",
    "today_spend",
)
REQUIRED_FIELDS: Final = ("generated_at", "currency", *MONEY_FIELDS, "risk_level")


class BudgetRiskLevel(StrEnum):
    """The cost tracker's own view of the budget."""

    OK = "OK"
    WARNING = "WARNING"
    CRITICAL = "CRITICAL"
    OVER_BUDGET = "OVER_BUDGET"


@dataclass(frozen=True, slots=True)
class BudgetReport:
    """A parsed, valid budget report."""

    generated_at: datetime
    currency: str
    monthly_budget: Decimal
    month_to_date_spend: Decimal
    recommended_daily_spend: Decimal
    today_spend: Decimal
    risk_level: BudgetRiskLevel


@dataclass(frozen=True, slots=True)
class BudgetEvaluation:
    """The BudgetGuard's answer with the report it came from (None when there is none)."""

    signal: BudgetSignal
    code: str | None
    detail: str = ""
    configured: bool = True
    source: str | None = None
    report: BudgetReport | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the evaluation as JSON-ready data (money as strings) for ``status``."""
        report = self.report
        data: dict[str, Any] = {
            "budget_signal": self.signal.value,
            "code": self.code,
            "detail": self.detail,
            "configured": self.configured,
            "source": self.source,
        }
        if report is not None:
            data.update(
                generated_at=report.generated_at.isoformat(),
                currency=report.currency,
                risk_level=report.risk_level.value,
                **{name: str(getattr(report, name)) for name in MONEY_FIELDS},
            )
        return data


class BudgetReportCorruptError(ValueError):
    """The report's content is invalid; the message says how."""


class _UnavailableError(Exception):
    pass


def _reject_constant(name: str) -> Decimal:
    raise BudgetReportCorruptError(f"non-finite number {name}")


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise BudgetReportCorruptError(f"duplicate key {key!r}")
        data[key] = value
    return data


def _parse_generated_at(value: object) -> datetime:
    if not isinstance(value, str):
        raise BudgetReportCorruptError("generated_at must be an ISO-8601 string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise BudgetReportCorruptError(f"generated_at is not ISO-8601: {value!r}") from exc
    offset = moment.utcoffset()
    if offset is None:
        raise BudgetReportCorruptError(f"generated_at has no timezone: {value!r}")
    if offset != timedelta(0):
        raise BudgetReportCorruptError(f"generated_at is not UTC: {value!r}")
    return moment


def _parse_money(name: str, value: object) -> Decimal:
    if not isinstance(value, Decimal):
        raise BudgetReportCorruptError(f"{name} must be a number, got {type(value).__name__}")
    if not value.is_finite():
        raise BudgetReportCorruptError(f"{name} is not finite")
    if value < 0:
        raise BudgetReportCorruptError(f"{name} is negative: {value}")
    return value


def parse_report(raw: bytes) -> BudgetReport:
    """Parse and validate a budget report.

    Raises:
        BudgetReportCorruptError: Naming what is wrong with the content.
    """
    if len(raw) > MAX_REPORT_BYTES:
        raise BudgetReportCorruptError(f"report larger than {MAX_REPORT_BYTES} bytes")
    try:
        data = json.loads(
            raw.decode("utf-8"),
            parse_float=Decimal,
            parse_int=Decimal,
            parse_constant=_reject_constant,
            object_pairs_hook=_unique_object,
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        if isinstance(exc, BudgetReportCorruptError):
            raise
        raise BudgetReportCorruptError(f"not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise BudgetReportCorruptError("report must be a JSON object")
    missing = [name for name in REQUIRED_FIELDS if name not in data]
    if missing:
        raise BudgetReportCorruptError(f"missing field {missing[0]}")
    currency = data["currency"]
    if not isinstance(currency, str) or not currency.strip():
        raise BudgetReportCorruptError("currency must be a non-empty string")
    level = data["risk_level"]
    if not isinstance(level, str) or level not in BudgetRiskLevel.__members__:
        raise BudgetReportCorruptError(f"risk_level must be one of {list(BudgetRiskLevel)}")
    money = {name: _parse_money(name, data[name]) for name in MONEY_FIELDS}
    return BudgetReport(
        generated_at=_parse_generated_at(data["generated_at"]),
        currency=currency,
        risk_level=BudgetRiskLevel(level),
        **money,
    )


def evaluate_report(
    report: BudgetReport,
    now: datetime,
    max_age: timedelta,
    future_tolerance: timedelta = timedelta(0),
) -> tuple[BudgetSignal, str | None, str]:
    """Apply rules 2–5 to a valid report at ``now``; return (signal, code, detail)."""
    if report.generated_at > now + future_tolerance:
        return (
            BudgetSignal.STALE_DATA,
            PolicyReasonCode.HALT_BUDGET_STALE_DATA.value,
            f"generated_at {report.generated_at.isoformat()} is in the future",
        )
    if now - report.generated_at > max_age:
        return (
            BudgetSignal.STALE_DATA,
            PolicyReasonCode.HALT_BUDGET_STALE_DATA.value,
            f"generated_at {report.generated_at.isoformat()} is older than {max_age}",
        )
    hard_stop = PolicyReasonCode.HALT_BUDGET_HARD_STOP.value
    if report.risk_level in (BudgetRiskLevel.CRITICAL, BudgetRiskLevel.OVER_BUDGET):
        return BudgetSignal.HARD_STOP, hard_stop, f"risk_level {report.risk_level.value}"
    if report.month_to_date_spend >= report.monthly_budget:
        detail = f"month-to-date {report.month_to_date_spend} >= budget {report.monthly_budget}"
        return BudgetSignal.HARD_STOP, hard_stop, detail
    if report.today_spend > report.recommended_daily_spend:
        detail = f"today {report.today_spend} > RDS {report.recommended_daily_spend}"
        return (BudgetSignal.RDS_EXCEEDED, PolicyReasonCode.HALT_BUDGET_RDS_EXCEEDED.value, detail)
    return BudgetSignal.ALLOW, None, ""


@dataclass(frozen=True, slots=True)
class _Snapshot:
    read_at: float
    report: BudgetReport | None
    failure_code: str | None
    detail: str


class BudgetGuard:
    """Read the budget report and answer the budget signal.

    Args:
        source: A file path or an http(s) URL; None when no report is configured.
        clock: Wall time for the report's age; monotonic time for the snapshot's age.
        max_age_seconds: A report older than this is STALE_DATA.
        fetch_timeout_s: Timeout of one HTTP fetch.
        refresh_interval_s: How often the service calls :meth:`refresh`. A snapshot not
            refreshed for ``stale_after_intervals`` intervals is not trusted: :meth:`current`
            then raises ``SourceUnavailableError`` (the builder's TPP-003).
        on_corrupt: Called with the evaluation when a new corrupt report is read; its
            failure is logged and changes nothing.
        transport: An httpx transport (tests); the default one otherwise.
    """

    def __init__(
        self,
        source: str | None,
        clock: Clock,
        max_age_seconds: float = 86400,
        fetch_timeout_s: float = 5.0,
        *,
        refresh_interval_s: float = 5.0,
        stale_after_intervals: float = 3,
        future_tolerance_s: float = 0.0,
        on_corrupt: Callable[[BudgetEvaluation], object] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.source = source
        self.on_corrupt = on_corrupt
        self._clock = clock
        self._max_age = timedelta(seconds=max_age_seconds)
        self._future_tolerance = timedelta(seconds=future_tolerance_s)
        self._fetch_timeout_s = fetch_timeout_s
        self._trust_s = refresh_interval_s * stale_after_intervals
        self._transport = transport
        self._client: httpx.Client | None = None
        self._snapshot: _Snapshot | None = None
        self._last_corrupt: str | None = None
        self._lock = threading.Lock()

    @property
    def configured(self) -> bool:
        """True when a report source is configured."""
        return self.source is not None

    def refresh(self) -> BudgetEvaluation:
        """Read and parse the report now, keep it as the snapshot and return its evaluation."""
        if self.source is None:
            return self._not_configured()
        with self._lock:
            snapshot, fingerprint = self._read_snapshot(self.source)
            previous = self._snapshot
            self._snapshot = snapshot
            evaluation = self._evaluate(snapshot)
            self._announce(evaluation, previous, fingerprint)
        return evaluation

    def current(self) -> BudgetEvaluation:
        """Return the evaluation of the latest snapshot at the current time.

        Reads the report first when it was never read.

        Raises:
            SourceUnavailableError: When the snapshot has not been refreshed for too long.
        """
        if self.source is None:
            return self._not_configured()
        snapshot = self._snapshot
        if snapshot is None:
            return self.refresh()
        age = self._clock.monotonic() - snapshot.read_at
        if age > self._trust_s:
            raise SourceUnavailableError(
                ErrorCode.BUDGET_REPORT_UNAVAILABLE,
                f"budget snapshot not refreshed for {age:.1f} s",
            )
        return self._evaluate(snapshot)

    def close(self) -> None:
        """Release the HTTP client."""
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- reading -----------------------------------------------------------------------------

    def _read_snapshot(self, source: str) -> tuple[_Snapshot, str | None]:
        read_at = self._clock.monotonic()
        try:
            raw = self._read(source)
        except _UnavailableError as exc:
            code = ErrorCode.BUDGET_REPORT_UNAVAILABLE.value
            return _Snapshot(read_at, None, code, str(exc)), None
        try:
            report = parse_report(raw)
        except BudgetReportCorruptError as exc:
            code = ErrorCode.BUDGET_DATA_CORRUPT.value
            fingerprint = hashlib.sha256(raw).hexdigest()
            return _Snapshot(read_at, None, code, str(exc)), fingerprint
        return _Snapshot(read_at, report, None, ""), None

    def _read(self, source: str) -> bytes:
        if source.startswith(("http://", "https://")):
            return self._fetch(source)
        path = Path(source.removeprefix("file://"))
        try:
            with path.open("rb") as handle:
                return handle.read(MAX_REPORT_BYTES + 1)
        except OSError as exc:
            raise _UnavailableError(f"cannot read {path}: {exc.strerror or exc}") from exc

    def _fetch(self, url: str) -> bytes:
        if self._client is None:
            self._client = httpx.Client(
                transport=self._transport, timeout=self._fetch_timeout_s, follow_redirects=False
            )
        try:
            with self._client.stream("GET", url) as response:
                if response.status_code != 200:
                    raise _UnavailableError(f"GET {url} answered HTTP {response.status_code}")
                body = bytearray()
                for chunk in response.iter_bytes():
                    body.extend(chunk)
                    if len(body) > MAX_REPORT_BYTES:
                        break
                return bytes(body)
        except httpx.HTTPError as exc:
            raise _UnavailableError(f"GET {url} failed: {type(exc).__name__}: {exc}") from exc

    # -- evaluating ----------------------------------------------------------------------------

    def _evaluate(self, snapshot: _Snapshot) -> BudgetEvaluation:
        if snapshot.report is None:
            return BudgetEvaluation(
                BudgetSignal.HARD_STOP, snapshot.failure_code, snapshot.detail, source=self.source
            )
        signal, code, detail = evaluate_report(
            snapshot.report, self._clock.now(), self._max_age, self._future_tolerance
        )
        return BudgetEvaluation(signal, code, detail, source=self.source, report=snapshot.report)

    def _not_configured(self) -> BudgetEvaluation:
        return BudgetEvaluation(
            BudgetSignal.ALLOW,
            ErrorCode.NOT_CONFIGURED.value,
            "no budget report configured (TRADEGUARD_BUDGET_REPORT)",
            configured=False,
        )

    def _announce(
        self, evaluation: BudgetEvaluation, previous: _Snapshot | None, fingerprint: str | None
    ) -> None:
        if evaluation.code == ErrorCode.BUDGET_DATA_CORRUPT:
            if fingerprint != self._last_corrupt:
                self._last_corrupt = fingerprint
                _log.error(
                    "budget_data_corrupt",
                    code=evaluation.code,
                    detail=evaluation.detail,
                    source=self.source,
                )
                self._notify_corrupt(evaluation)
            return
        self._last_corrupt = None
        before = None if previous is None else previous.failure_code
        if evaluation.code == ErrorCode.BUDGET_REPORT_UNAVAILABLE and before != evaluation.code:
            _log.error(
                "budget_report_unavailable",
                code=evaluation.code,
                detail=evaluation.detail,
                source=self.source,
            )
        elif before is not None and evaluation.report is not None:
            _log.info("budget_report_recovered", previous_code=before, source=self.source)

    def _notify_corrupt(self, evaluation: BudgetEvaluation) -> None:
        if self.on_corrupt is None:
            return
        try:
            self.on_corrupt(evaluation)
        except Exception as exc:  # recording failed: logged; the signal stays HARD_STOP
            _log.error(
                "budget_corrupt_record_failed",
                code=ErrorCode.BUDGET_DATA_CORRUPT,
                error=repr(exc),
            )


__all__ = [
    "MAX_REPORT_BYTES",
    "BudgetEvaluation",
    "BudgetGuard",
    "BudgetReport",
    "BudgetReportCorruptError",
    "BudgetRiskLevel",
    "evaluate_report",
    "parse_report",
]
