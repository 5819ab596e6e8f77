"""find_signals: the first signal_audit row of every id asked for, in one query, on every store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.audit_factories import repeat_of, signal
from tradeguard import open_audit_store
from tradeguard.errors import InvalidInputError


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "memory":
        url = "memory://"
    elif request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'audit.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    opened = open_audit_store(url)
    try:
        yield opened
    finally:
        opened.close()


def test_find_signals_answers_the_first_row_of_each_known_id(store: Any) -> None:
    ids = [f"sig-{i}" for i in range(700)]  # more than one IN (...) chunk on SQLite
    store.record_many([signal(signal_id, i) for i, signal_id in enumerate(ids)])
    repeat = repeat_of("sig-3", 9999)
    store.record_many([repeat])  # a later row of the same id: not the first
    found = store.find_signals([*ids[:650], "sig-3", "never-seen", "sig-699"])
    assert set(found) == {*ids[:650], "sig-699"}
    for signal_id in ("sig-0", "sig-3", "sig-649", "sig-699"):
        assert found[signal_id] == store.find_signal(signal_id)
    assert found["sig-3"]["correlation_id"] != repeat.correlation_id
    assert store.find_signals([]) == {}
    assert store.find_signals(["never-seen"]) == {}


def test_a_second_first_row_of_a_signal_id_is_refused_and_nothing_of_its_write_lands(
    store: Any,
) -> None:
    store.record_many([signal("sig-a", 1)])
    with pytest.raises(InvalidInputError) as refused:
        store.record_many([signal("sig-b", 2), signal("sig-a", 3)])
    assert refused.value.code == "SIGNAL_DUPLICATE"
    assert store.find_signals(["sig-a", "sig-b"]).keys() == {"sig-a"}  # sig-b not written
    with pytest.raises(InvalidInputError):
        store.record_many([signal("sig-c", 4), signal("sig-c", 5)])  # twice in one write
    # Repeats are recorded as repeats, as often as they come.
    store.record_many([repeat_of("sig-a", 6), repeat_of("sig-a", 7, "SIGNAL_REPLAYED")])
    assert store.find_signal("sig-a")["seq"] == 1
    assert store.verify().ok
