"""format_utc: for any aware datetime, the canonical text is the strftime text of its UTC time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradeguard.errors import InvalidInputError
from tradeguard.policy import format_utc

OFFSETS = st.integers(min_value=-23 * 60, max_value=23 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)


@settings(max_examples=300, deadline=None)
@given(
    moment=st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
    ),
    zone=st.one_of(st.just(UTC), OFFSETS),
)
def test_format_utc_equals_the_strftime_text(moment: datetime, zone: timezone) -> None:
    local = moment.astimezone(zone)
    expected = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert format_utc(local) == expected
    assert format_utc(moment) == expected


def test_format_utc_refuses_a_naive_datetime() -> None:
    with pytest.raises(InvalidInputError):
        format_utc(datetime(2026, 1, 1))  # naive on purpose


@pytest.mark.parametrize(
    "moment",
    [
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))),  # before year 1 in UTC
        datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-2))),  # after year 9999
    ],
)
def test_format_utc_refuses_a_moment_outside_the_range_of_utc(moment: datetime) -> None:
    with pytest.raises(InvalidInputError):
        format_utc(moment)
