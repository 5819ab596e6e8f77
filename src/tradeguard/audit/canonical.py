"""Canonical JSON and the row hash of the audit chain (SPEC §4, ``docs/audit-format.md``).

Canonical JSON: keys sorted by Unicode code point, no spaces (``,`` and ``:``), UTF-8 without
escaping non-ASCII, Decimals as strings, timestamps ISO-8601 UTC with microseconds and ``Z``,
no NaN or infinity. ``row_hash = sha256(prev_hash + canonical_json)`` over the UTF-8 bytes,
lowercase hex; the first row of a chain has ``prev_hash`` = 64 zeros.

Two encoders write the same bytes. A value made only of ``dict``, ``list``, ``tuple``, ``str``,
``int``, ``bool`` and ``None`` (exact types: every ``to_row()`` of the audit records) is written
by orjson, several times faster. Everything else, and anything orjson refuses (integers beyond
64 bits, keys that are not ``str``, lone surrogates, deep nesting), goes through the standard
library's encoder, which defines the format: orjson formats floats differently (``1e-05``),
writes NaN as ``null`` and enums and UUIDs natively, so none of them may reach it.
"""

from __future__ import annotations

import hashlib
import json
import json.encoder
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Final

import orjson

from ..codes import ErrorCode
from ..errors import InvalidInputError
from ..policy import format_utc

GENESIS_HASH: Final = "0" * 64
SEQ_KEY: Final = "seq"


def _default(value: object) -> object:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"non-finite decimal {value}")
        return str(value)
    if isinstance(value, datetime):
        return format_utc(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, frozenset | set):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _stdlib_dumps(value: object) -> str:
    return json.dumps(
        value,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=_default,
    )


def _make_encoder() -> Callable[[object], str]:
    # The C encoder ``json.dumps`` builds on every call, built once: the same function with
    # the same arguments, so the bytes are identical. ``markers=None`` because a shared
    # markers dict would be unsafe across threads (a cycle then ends in RecursionError).
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython always has the C accelerator
        return _stdlib_dumps
    encode = make(
        None, _default, json.encoder.encode_basestring, None, ":", ",", True, False, False
    )

    def dumps(value: object) -> str:
        return "".join(encode(value, 0))

    return dumps


_dumps: Final = _make_encoder()


# Types orjson writes exactly as ``json.dumps`` does (exact types: subclasses such as enums,
# ``OrderedDict`` or named tuples take the standard library's path).
_LEAF_TYPES: Final = frozenset({str, int, bool, type(None)})
# Below orjson's own limit (255) and far below Python's recursion limit.
_MAX_DEPTH: Final = 200
# Belt and braces: should a type the check lets through ever be native to orjson, it is
# refused (and so falls back) instead of written in orjson's own way.
_ORJSON_OPTIONS: Final = (
    orjson.OPT_SORT_KEYS
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def _plain(value: object, depth: int = 0) -> bool:
    # True when ``value`` holds nothing but the types orjson writes like ``json.dumps``; a type
    # check per value, about as cheap as orjson's own pass and far cheaper than the stdlib's.
    # Keys are left to orjson: without OPT_NON_STR_KEYS it refuses any key not exactly a str.
    items: Iterable[object]
    if type(value) is dict:
        items = value.values()
    elif type(value) is list or type(value) is tuple:
        items = value
    else:
        return type(value) in _LEAF_TYPES
    if depth > _MAX_DEPTH:
        return False
    for item in items:
        if type(item) in _LEAF_TYPES:
            continue
        if not _plain(item, depth + 1):
            return False
    return True


def _stdlib_canonical_json(value: object) -> str:
    # The reference encoder: the format is defined by these bytes.
    try:
        text = _dumps(value)
        if not text.isascii():  # O(1) in CPython; only other text can hold a lone surrogate
            text.encode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:  # UnicodeEncodeError: ValueError
        raise InvalidInputError(
            ErrorCode.INPUT_INVALID_VALUE, f"record cannot be written as canonical JSON: {exc}"
        ) from exc
    return text


def canonical_json(value: object) -> str:
    """Return the canonical JSON text of ``value``; raise ``InvalidInputError`` if impossible.

    The text is byte for byte ``json.dumps(value, sort_keys=True, separators=(",", ":"),
    ensure_ascii=False, allow_nan=False)`` (with Decimals, timestamps and enums converted).
    """
    try:
        plain = _plain(value)
    except RecursionError:  # called with the stack nearly full: let the stdlib decide
        plain = False
    if plain:
        try:
            return orjson.dumps(value, option=_ORJSON_OPTIONS).decode("utf-8")
        except orjson.JSONEncodeError:
            pass  # ints beyond 64 bits, keys that are not str, lone surrogates: the stdlib decides
    return _stdlib_canonical_json(value)


def row_hash(prev_hash: str, canonical: str) -> str:
    """Return ``sha256(prev_hash + canonical)`` of the UTF-8 bytes as lowercase hex."""
    return hashlib.sha256((prev_hash + canonical).encode("utf-8")).hexdigest()


_MARKER_VALUE: Final = "\x00tradeguard-seq\x00"
_MARKER_TEXT: Final = '"\\u0000tradeguard-seq\\u0000"'


def seq_template(row: Mapping[str, Any]) -> tuple[str, str]:
    """Split the canonical JSON of ``row`` plus ``seq`` around the seq value.

    ``head + str(seq) + tail == canonical_json({**row, "seq": seq})``: the expensive part is
    done by the appending thread, the writer only splices in the number it assigns.
    """
    if SEQ_KEY in row:
        raise InvalidInputError(ErrorCode.INPUT_INVALID_VALUE, "a record may not carry 'seq'")
    text = canonical_json({**row, SEQ_KEY: _MARKER_VALUE})
    head, found, tail = text.partition(_MARKER_TEXT)
    if found and _MARKER_TEXT not in tail and _MARKER_TEXT not in head:
        return head, tail
    # The marker also occurs in the data itself: split the slow, unambiguous way.
    before = canonical_json({k: v for k, v in row.items() if k < SEQ_KEY})[:-1]
    after = canonical_json({k: v for k, v in row.items() if k > SEQ_KEY})[1:]
    head = before + ('"seq":' if before == "{" else ',"seq":')
    tail = after if after == "}" else "," + after
    return head, tail


__all__ = ["GENESIS_HASH", "canonical_json", "row_hash", "seq_template"]
