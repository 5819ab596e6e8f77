"""The Signal model: strict parsing, normalised content hash, field-naming errors."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradeguard.signals import InvalidSignalError, parse_signal

BASE = {"signal_id": "s-1", "symbol": "BTCUSDT", "side": "BUY", "quantity": "1.5"}


def test_defaults_are_open_market_without_confidence():
    s = parse_signal(BASE)
    assert (s.intent.value, s.order_type.value, s.ai_confidence, s.price) == (
        "OPEN",
        "MARKET",
        None,
        None,
    )
    assert s.quantity == Decimal("1.5")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"quantity": 1.5}, "quantity"),
        ({"quantity": "0"}, "quantity"),
        ({"quantity": "-1"}, "quantity"),
        ({"quantity": "Infinity"}, "quantity"),
        ({"quantity": "abc"}, "quantity"),
        ({"side": "buy"}, "side"),
        ({"intent": "YOLO"}, "intent"),
        ({"signal_id": ""}, "signal_id"),
        ({"signal_id": "x" * 129}, "signal_id"),
        ({"ai_confidence": "100.01"}, "ai_confidence"),
        ({"ai_confidence": True}, "ai_confidence"),
        ({"timestamp": "2026-01-01T00:00:00"}, "timestamp"),
        ({"order_type": "LIMIT"}, "price"),
        ({"price": "10"}, "price"),
        ({"leverage": "100"}, "leverage"),
    ],
)
def test_invalid_fields_are_named(change, field):
    with pytest.raises(InvalidSignalError) as caught:
        parse_signal({**BASE, **change})
    assert caught.value.code == "SIGNAL_INVALID"
    assert field in caught.value.fields


def test_confidence_accepts_numbers_and_strings():
    assert parse_signal({**BASE, "ai_confidence": 99.5}).ai_confidence == Decimal("99.5")
    assert parse_signal({**BASE, "ai_confidence": "100"}).ai_confidence == Decimal(100)
    assert parse_signal({**BASE, "ai_confidence": 0}).ai_confidence == Decimal(0)


def test_limit_order_carries_its_price():
    s = parse_signal({**BASE, "order_type": "LIMIT", "price": "49999.5"})
    assert s.price == Decimal("49999.5")


def test_content_hash_ignores_decimal_spelling_but_not_content():
    a = parse_signal({**BASE, "quantity": "1.50"})
    b = parse_signal({**BASE, "quantity": "1.5"})
    c = parse_signal({**BASE, "quantity": "1.6"})
    assert a.content_hash() == b.content_hash() != c.content_hash()


def test_timestamp_is_normalised_to_utc():
    a = parse_signal({**BASE, "timestamp": "2026-01-01T02:00:00+02:00"})
    b = parse_signal({**BASE, "timestamp": "2026-01-01T00:00:00Z"})
    assert a.content_hash() == b.content_hash()


@settings(max_examples=100)
@given(
    st.dictionaries(
        st.text(max_size=12),
        st.one_of(st.none(), st.text(max_size=8), st.integers(), st.floats()),
        max_size=6,
    )
)
def test_any_garbage_is_refused_with_signal_invalid_never_another_error(garbage):
    try:
        parse_signal(garbage)
    except InvalidSignalError as exc:
        assert exc.code == "SIGNAL_INVALID"
