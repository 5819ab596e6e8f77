"""For any timestamp form, every record type either keeps the UTC instant or names the field."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.audit_factories import decision, operator_action, order, signal
from tradeguard.errors import InvalidInputError
from tradeguard.policy import PolicyContext, format_utc

FACTORIES = st.sampled_from([decision, signal, order, operator_action])
ZONES = st.builds(
    lambda minutes: timezone(timedelta(minutes=minutes)), st.integers(-14 * 60, 14 * 60)
)
MOMENTS = st.datetimes(
    min_value=datetime(1000, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
)
ANY_FORM = st.one_of(
    MOMENTS,
    st.builds(lambda moment, zone: moment.astimezone(zone), MOMENTS, ZONES),
    MOMENTS.map(format_utc),
    MOMENTS.map(lambda moment: moment.replace(tzinfo=None)),
    st.text(max_size=40),
    st.integers(),
    st.floats(allow_nan=True),
    st.none(),
    st.binary(max_size=10),
)
CORRELATION = "0190a5b6-0000-7000-8000-000000000000"


def _context_accepts(value: object) -> bool:
    try:
        PolicyContext(False, "ALLOW", "GREEN", "HEALTHY", CORRELATION, value)  # type: ignore[arg-type]
    except InvalidInputError:
        return False
    return True


@settings(max_examples=300, deadline=None)
@given(factory=FACTORIES, value=ANY_FORM)
def test_any_timestamp_form_is_kept_as_its_utc_instant_or_refused_naming_the_field(
    factory: Any, value: object
) -> None:
    try:
        record = dataclasses.replace(factory(), timestamp_utc=value)
    except InvalidInputError as exc:  # never AttributeError or TypeError
        assert exc.field == "timestamp_utc"
        # A text the context takes is never refused by a record.
        assert not (isinstance(value, str) and _context_accepts(value))
        return
    assert record.timestamp_utc.tzinfo is UTC
    if isinstance(value, datetime):
        assert record.timestamp_utc == value
    else:
        assert isinstance(value, str) and _context_accepts(value)
        assert format_utc(record.timestamp_utc) == format_utc(
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        )
