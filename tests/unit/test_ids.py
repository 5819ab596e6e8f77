"""Correlation ids: UUID version 7, ordered by creation time, unique."""

from __future__ import annotations

import time
import uuid

from tradeguard.ids import new_correlation_id


def test_correlation_ids_are_version_7_uuids() -> None:
    value = uuid.UUID(new_correlation_id())
    assert value.version == 7
    assert value.variant == uuid.RFC_4122


def test_correlation_ids_start_with_their_creation_millisecond() -> None:
    before = time.time_ns() // 1_000_000
    value = uuid.UUID(new_correlation_id())
    after = time.time_ns() // 1_000_000
    assert before <= value.int >> 80 <= after


def test_later_ids_sort_after_earlier_ones_and_none_repeat() -> None:
    first = [new_correlation_id() for _ in range(2000)]
    time.sleep(0.002)
    second = [new_correlation_id() for _ in range(2000)]
    assert max(first) < min(second)
    assert len(set(first + second)) == 4000
