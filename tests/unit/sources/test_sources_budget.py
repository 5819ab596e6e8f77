"""BudgetGuard: SPEC §3's rules in order, on real report files."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from tradeguard.codes import ErrorCode, PolicyReasonCode
from tradeguard.errors import SourceUnavailableError
from tradeguard.policy import BudgetSignal
from tradeguard.sources import BudgetEvaluation, BudgetGuard

from .fakes import fake_clock, valid_report, write_report


def guard_for(path: Path, **kwargs: object) -> BudgetGuard:
    return BudgetGuard(str(path), fake_clock(), 86400, 1.0, **kwargs)  # type: ignore[arg-type]


def test_budget_valid_report_within_limits_allows_with_decimal_fields(tmp_path: Path) -> None:
    guard = guard_for(write_report(tmp_path / "b.json", valid_report()))
    evaluation = guard.refresh()
    assert evaluation.signal is BudgetSignal.ALLOW
    assert evaluation.code is None
    assert evaluation.report is not None
    assert evaluation.report.month_to_date_spend == Decimal("1200.50")
    assert isinstance(evaluation.report.today_spend, Decimal)
    assert evaluation.to_dict()["today_spend"] == "40.25"


def test_budget_not_configured_allows_but_says_not_configured() -> None:
    guard = BudgetGuard(None, fake_clock(), 86400, 1.0)
    evaluation = guard.current()
    assert evaluation.signal is BudgetSignal.ALLOW
    assert evaluation.code == ErrorCode.NOT_CONFIGURED
    assert evaluation.configured is False


def test_budget_missing_file_is_unavailable_hard_stop_not_unconfigured(tmp_path: Path) -> None:
    guard = guard_for(tmp_path / "absent.json")
    with capture_logs() as logs:
        evaluation = guard.current()
    assert evaluation.signal is BudgetSignal.HARD_STOP
    assert evaluation.code == ErrorCode.BUDGET_REPORT_UNAVAILABLE
    assert evaluation.configured is True
    assert any(line["event"] == "budget_report_unavailable" for line in logs)


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ("not json at all", "not valid JSON"),
        ('{"generated_at": "2026-03-01T11:00:00Z", "curr', "not valid JSON"),
        ("[1, 2, 3]", "JSON object"),
        (b"\xff\xfe garbage", "not valid JSON"),
    ],
)
def test_budget_unparseable_report_is_corrupt_hard_stop(
    tmp_path: Path, content: str | bytes, why: str
) -> None:
    guard = guard_for(write_report(tmp_path / "b.json", content))
    evaluation = guard.refresh()
    assert evaluation.signal is BudgetSignal.HARD_STOP
    assert evaluation.code == ErrorCode.BUDGET_DATA_CORRUPT
    assert why in evaluation.detail


@pytest.mark.parametrize(
    ("overrides", "why"),
    [
        ({"monthly_budget": "3000"}, "must be a number"),
        ({"today_spend": True}, "must be a number"),
        ({"today_spend": None}, "must be a number"),
        ({"recommended_daily_spend": Decimal("-1")}, "negative"),
        ({"generated_at": "2026-03-01T11:00:00"}, "no timezone"),
        ({"generated_at": "2026-03-01T13:00:00+02:00"}, "not UTC"),
        ({"generated_at": 1740826800}, "ISO-8601 string"),
        ({"generated_at": "yesterday"}, "not ISO-8601"),
        ({"risk_level": "FINE"}, "risk_level"),
        ({"currency": ""}, "currency"),
    ],
)
def test_budget_wrong_field_is_corrupt_hard_stop(
    tmp_path: Path, overrides: dict[str, object], why: str
) -> None:
    guard = guard_for(write_report(tmp_path / "b.json", valid_report(**overrides)))
    evaluation = guard.refresh()
    assert (evaluation.signal, evaluation.code) == (
        BudgetSignal.HARD_STOP,
        ErrorCode.BUDGET_DATA_CORRUPT,
    )
    assert why in evaluation.detail


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_budget_non_finite_number_is_corrupt(tmp_path: Path, constant: str) -> None:
    text = write_report(tmp_path / "b.json", valid_report()).read_text()
    text = text.replace('"today_spend": 40.25', f'"today_spend": {constant}')
    guard = guard_for(write_report(tmp_path / "b.json", text))
    assert guard.refresh().code == ErrorCode.BUDGET_DATA_CORRUPT


def test_budget_missing_field_and_duplicate_key_are_corrupt(tmp_path: Path) -> None:
    report = valid_report()
    del report["risk_level"]
    assert guard_for(write_report(tmp_path / "a.json", report)).refresh().code == (
        ErrorCode.BUDGET_DATA_CORRUPT
    )
    text = write_report(tmp_path / "b.json", valid_report()).read_text()
    duplicated = text.replace('"currency": "USD"', '"currency": "USD", "currency": "EUR"')
    evaluation = guard_for(write_report(tmp_path / "b.json", duplicated)).refresh()
    assert evaluation.code == ErrorCode.BUDGET_DATA_CORRUPT
    assert "duplicate" in evaluation.detail


def test_budget_corruption_is_logged_and_recorded_once_per_content(tmp_path: Path) -> None:
    recorded: list[BudgetEvaluation] = []
    path = write_report(tmp_path / "b.json", "garbage")
    guard = guard_for(path, on_corrupt=recorded.append)
    with capture_logs() as logs:
        guard.refresh()
        guard.refresh()
        write_report(path, "other garbage")
        guard.refresh()
    assert len(recorded) == 2
    corrupt_lines = [line for line in logs if line["event"] == "budget_data_corrupt"]
    assert len(corrupt_lines) == 2
    assert all(line["code"] == ErrorCode.BUDGET_DATA_CORRUPT for line in corrupt_lines)


def test_budget_failing_corrupt_recorder_still_hard_stops(tmp_path: Path) -> None:
    def broken(_: BudgetEvaluation) -> None:
        raise RuntimeError("audit down")

    guard = guard_for(write_report(tmp_path / "b.json", "garbage"), on_corrupt=broken)
    with capture_logs() as logs:
        evaluation = guard.refresh()
    assert evaluation.signal is BudgetSignal.HARD_STOP
    assert any(line["event"] == "budget_corrupt_record_failed" for line in logs)


@pytest.mark.parametrize(
    ("generated_at", "expected"),
    [
        ("2026-02-28T12:00:00Z", BudgetSignal.ALLOW),  # exactly max age: still fresh
        ("2026-02-28T11:59:59Z", BudgetSignal.STALE_DATA),
        ("2026-03-01T12:00:01Z", BudgetSignal.STALE_DATA),  # in the future
        ("2026-03-01T12:00:00+00:00", BudgetSignal.ALLOW),
    ],
)
def test_budget_age_rule(tmp_path: Path, generated_at: str, expected: BudgetSignal) -> None:
    path = write_report(tmp_path / "b.json", valid_report(generated_at=generated_at))
    evaluation = guard_for(path).refresh()
    assert evaluation.signal is expected
    if expected is BudgetSignal.STALE_DATA:
        assert evaluation.code == PolicyReasonCode.HALT_BUDGET_STALE_DATA


def test_budget_report_becomes_stale_as_time_passes_without_rereading(tmp_path: Path) -> None:
    clock = fake_clock()
    guard = BudgetGuard(
        str(write_report(tmp_path / "b.json", valid_report())),
        clock,
        3600 + 60,
        1.0,
        refresh_interval_s=1e6,
    )
    assert guard.refresh().signal is BudgetSignal.ALLOW
    clock.advance(120)
    assert guard.current().signal is BudgetSignal.STALE_DATA


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"risk_level": "CRITICAL"}, BudgetSignal.HARD_STOP),
        ({"risk_level": "OVER_BUDGET"}, BudgetSignal.HARD_STOP),
        ({"risk_level": "WARNING"}, BudgetSignal.ALLOW),
        ({"month_to_date_spend": Decimal("3000")}, BudgetSignal.HARD_STOP),
        ({"month_to_date_spend": Decimal("2999.99")}, BudgetSignal.ALLOW),
        ({"today_spend": Decimal("100.01")}, BudgetSignal.RDS_EXCEEDED),
        ({"today_spend": Decimal("100")}, BudgetSignal.ALLOW),
        # Order: stale wins over hard stop, hard stop over RDS.
        (
            {"generated_at": "2026-01-01T00:00:00Z", "risk_level": "CRITICAL"},
            BudgetSignal.STALE_DATA,
        ),
        ({"risk_level": "CRITICAL", "today_spend": Decimal("500")}, BudgetSignal.HARD_STOP),
    ],
)
def test_budget_spend_rules_in_order(
    tmp_path: Path, overrides: dict[str, object], expected: BudgetSignal
) -> None:
    path = write_report(tmp_path / "b.json", valid_report(**overrides))
    assert guard_for(path).refresh().signal is expected


def test_budget_snapshot_not_refreshed_for_three_intervals_is_a_source_failure(
    tmp_path: Path,
) -> None:
    clock = fake_clock()
    path = write_report(tmp_path / "b.json", valid_report())
    guard = BudgetGuard(str(path), clock, 86400, 1.0, refresh_interval_s=5)
    assert guard.current().signal is BudgetSignal.ALLOW  # first read happens inline
    clock.advance(14)
    assert guard.current().signal is BudgetSignal.ALLOW
    clock.advance(2)
    with pytest.raises(SourceUnavailableError) as caught:
        guard.current()
    assert caught.value.code == ErrorCode.BUDGET_REPORT_UNAVAILABLE
    guard.refresh()
    assert guard.current().signal is BudgetSignal.ALLOW


def test_budget_recovers_when_a_valid_report_replaces_a_corrupt_one(tmp_path: Path) -> None:
    path = write_report(tmp_path / "b.json", "{truncated")
    guard = guard_for(path)
    assert guard.refresh().code == ErrorCode.BUDGET_DATA_CORRUPT
    write_report(path, valid_report())
    with capture_logs() as logs:
        assert guard.refresh().signal is BudgetSignal.ALLOW
    assert any(line["event"] == "budget_report_recovered" for line in logs)
