"""Every public record type takes the timestamp forms a PolicyContext takes, or names the field.

``InvalidInputError`` is also a ``ValueError``, so a Python caller's ``except ValueError`` works.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from tests.audit_factories import decision, operator_action, order, signal
from tradeguard.errors import InvalidInputError, TradeGuardError

FACTORIES = [decision, signal, order, operator_action]
IDS = ["PolicyDecisionRecord", "SignalRecord", "OrderEventRecord", "OperatorActionRecord"]


def _with_timestamp(factory: Any, value: object) -> Any:
    record = factory()
    return dataclasses.replace(record, timestamp_utc=value)


def test_invalid_input_error_is_a_value_error_and_a_tradeguard_error() -> None:
    error = InvalidInputError("INPUT_INVALID_VALUE", "bad", field="x")
    assert isinstance(error, ValueError) and isinstance(error, TradeGuardError)
    with pytest.raises(ValueError, match="bad"):
        raise error


@pytest.mark.parametrize("factory", FACTORIES, ids=IDS)
def test_a_z_text_is_accepted_and_kept_as_a_utc_datetime(factory: Any) -> None:
    record = _with_timestamp(factory, "2026-03-01T12:00:00.123456Z")
    assert record.timestamp_utc == datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    assert record.to_row()["timestamp_utc"] == "2026-03-01T12:00:00.123456Z"


@pytest.mark.parametrize("factory", FACTORIES, ids=IDS)
def test_an_aware_datetime_in_another_zone_is_stored_as_utc(factory: Any) -> None:
    plus_two = timezone(timedelta(hours=2))
    record = _with_timestamp(factory, datetime(2026, 3, 1, 14, 0, tzinfo=plus_two))
    assert record.timestamp_utc.tzinfo is UTC
    assert record.to_row()["timestamp_utc"] == "2026-03-01T12:00:00.000000Z"


@pytest.mark.parametrize("factory", FACTORIES, ids=IDS)
@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 3, 1, 12, 0),  # naive
        "2026-03-01T12:00:00",  # no zone
        "2026-03-01T12:00:00+02:00",  # PolicyContext takes only Z
        "yesterday",
        "2026-02-30T12:00:00Z",
        1_700_000_000,
        None,
        b"2026-03-01T12:00:00Z",
    ],
)
def test_any_other_form_raises_invalid_input_naming_the_field(factory: Any, value: object) -> None:
    with pytest.raises(InvalidInputError) as caught:
        _with_timestamp(factory, value)
    assert caught.value.field == "timestamp_utc"
    assert caught.value.code == "INPUT_INVALID_VALUE"
