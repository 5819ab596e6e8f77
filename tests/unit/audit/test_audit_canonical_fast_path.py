"""The orjson path of canonical JSON: the inputs where it must step aside for the stdlib."""

from __future__ import annotations

from typing import Any

import pytest

from tests import canonical_reference as reference
from tradeguard.audit.canonical import canonical_json
from tradeguard.errors import InvalidInputError


def _nested_lists(depth: int) -> list[Any]:
    value: list[Any] = ["leaf"]
    for _ in range(depth):
        value = [value]
    return value


def _nested_dicts(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"k": "leaf"}
    for _ in range(depth):
        value = {"k": value, "é": 1}
    return value


@pytest.mark.parametrize("depth", [199, 200, 201, 254, 255, 256, 300, 900])
def test_deep_nesting_is_written_as_the_stdlib_writes_it(depth: int) -> None:
    for value in (_nested_lists(depth), _nested_dicts(depth)):
        assert canonical_json(value) == reference.canonical_json(value)


def test_a_value_that_contains_itself_is_refused() -> None:
    cyclic: list[Any] = ["a"]
    cyclic.append(cyclic)
    looped: dict[str, Any] = {"a": 1}
    looped["b"] = [looped]
    for value in (cyclic, looped):
        with pytest.raises(InvalidInputError):
            canonical_json(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"x": 1e-05}, '{"x":1e-05}'),
        ({"x": 1e16}, '{"x":1e+16}'),
        ({"x": -0.0}, '{"x":-0.0}'),
        ({"x": 2**64}, '{"x":18446744073709551616}'),
        ({10: "a", 9: "b"}, '{"9":"b","10":"a"}'),
        ({"\U00010000": 1, "\ue000": 2}, '{"\ue000":2,"\U00010000":1}'),
        ({"c": "\x1f\x7f\u2028\b\t"}, '{"c":"\\u001f\x7f\u2028\\b\\t"}'),
    ],
)
def test_values_orjson_would_write_differently_keep_the_stdlib_text(
    value: object, expected: str
) -> None:
    assert canonical_json(value) == expected == reference.canonical_json(value)


@pytest.mark.parametrize("bad", [float("inf"), {"k": [float("nan")]}, {("t",): 1}, {"a": "\udfff"}])
def test_values_without_a_canonical_form_are_still_refused(bad: object) -> None:
    with pytest.raises(InvalidInputError):
        canonical_json({"x": bad})
