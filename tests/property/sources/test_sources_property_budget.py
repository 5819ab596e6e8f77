"""BudgetGuard fuzzed with near-valid and garbage reports written to real files: never ALLOW
unless the report is valid and within every limit (checked by an independent oracle)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.sources.fakes import NOW, dumps, fake_clock, valid_report
from tradeguard.codes import ErrorCode
from tradeguard.policy import BudgetSignal
from tradeguard.sources import BudgetGuard

MAX_AGE = timedelta(hours=24)
MONEY = ("monthly_budget", "month_to_date_spend", "recommended_daily_spend", "today_spend")

money = st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False, allow_infinity=False)
stamps = st.datetimes(min_value=datetime(2026, 2, 26), max_value=datetime(2026, 3, 2)).map(
    lambda d: d.strftime("%Y-%m-%dT%H:%M:%S") + "Z"
)
levels = st.sampled_from(["OK", "WARNING", "CRITICAL", "OVER_BUDGET"])
garbage_values = st.one_of(
    st.none(),
    st.booleans(),
    st.text(max_size=10),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.decimals(max_value=Decimal("-0.01"), allow_nan=False, allow_infinity=False, places=2),
)


@st.composite
def valid_reports(draw: st.DrawFn) -> dict[str, Any]:
    return valid_report(
        generated_at=draw(stamps),
        risk_level=draw(levels),
        **{name: draw(money) for name in MONEY},
    )


@st.composite
def near_valid_texts(draw: st.DrawFn) -> bytes:
    report = draw(valid_reports())
    mutation = draw(
        st.sampled_from(
            ["none", "drop", "garbage", "constant", "stamp", "truncate", "extra", "bytes"]
        )
    )
    field = draw(st.sampled_from(sorted(report)))
    if mutation == "drop":
        del report[field]
    elif mutation == "garbage":
        report[field] = draw(garbage_values)
    elif mutation == "stamp":
        report["generated_at"] = draw(
            st.sampled_from(
                [
                    "2026-03-01T11:00:00",
                    "2026-03-01T13:00:00+02:00",
                    "2026-03-01",
                    "not a date",
                    "2026-13-01T00:00:00Z",
                ]
            )
        )
    elif mutation == "extra":
        report["comment"] = draw(garbage_values)
    text = dumps(report)
    if mutation == "constant":
        text = text.replace(f'"{draw(st.sampled_from(MONEY))}": ', '"x": NaN, "y": ', 1)
        text = text.replace('"x": NaN', f'"{draw(st.sampled_from(MONEY))}": NaN', 1)
    if mutation == "truncate":
        text = text[: draw(st.integers(min_value=0, max_value=max(0, len(text) - 1)))]
    raw = text.encode("utf-8")
    if mutation == "bytes":
        raw = draw(st.binary(max_size=64))
    return raw


def oracle_allows(raw: bytes) -> bool:
    """An independent, strict reading of SPEC §3: True only for a valid, in-limit report."""
    try:
        data = json.loads(raw.decode("utf-8"), parse_float=Decimal, parse_int=Decimal)
    except Exception:
        return False
    if not isinstance(data, dict):
        return False
    try:
        stamp = datetime.fromisoformat(data["generated_at"])
        values = {name: data[name] for name in MONEY}
        currency, level = data["currency"], data["risk_level"]
    except Exception:
        return False
    if stamp.utcoffset() != timedelta(0) or not isinstance(currency, str) or not currency:
        return False
    if not all(isinstance(v, Decimal) and v.is_finite() and v >= 0 for v in values.values()):
        return False
    fresh = timedelta(0) <= NOW - stamp <= MAX_AGE
    return (
        fresh
        and level in ("OK", "WARNING")
        and values["month_to_date_spend"] < values["monthly_budget"]
        and values["today_spend"] <= values["recommended_daily_spend"]
    )


FUZZ = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(raw=st.one_of(near_valid_texts(), st.binary(max_size=200)))
def test_budget_fuzz_never_allows_unless_valid_and_within_limits(
    tmp_path: Path, raw: bytes
) -> None:
    path = tmp_path / "budget.json"
    path.write_bytes(raw)
    evaluation = BudgetGuard(str(path), fake_clock(), MAX_AGE.total_seconds(), 1.0).refresh()
    allowed = evaluation.signal is BudgetSignal.ALLOW
    assert allowed == oracle_allows(raw), (raw, evaluation)
    if evaluation.code == ErrorCode.BUDGET_DATA_CORRUPT:
        assert evaluation.signal is BudgetSignal.HARD_STOP


@FUZZ
@given(report=valid_reports())
def test_budget_valid_reports_get_the_signal_of_the_first_matching_rule(
    tmp_path: Path, report: dict[str, Any]
) -> None:
    path = tmp_path / "budget.json"
    path.write_text(dumps(report), encoding="utf-8")
    signal = BudgetGuard(str(path), fake_clock(), MAX_AGE.total_seconds(), 1.0).refresh().signal
    stamp = datetime.fromisoformat(report["generated_at"])
    if not timedelta(0) <= NOW - stamp <= MAX_AGE:
        expected = BudgetSignal.STALE_DATA
    elif report["risk_level"] in ("CRITICAL", "OVER_BUDGET") or (
        report["month_to_date_spend"] >= report["monthly_budget"]
    ):
        expected = BudgetSignal.HARD_STOP
    elif report["today_spend"] > report["recommended_daily_spend"]:
        expected = BudgetSignal.RDS_EXCEEDED
    else:
        expected = BudgetSignal.ALLOW
    assert signal is expected
