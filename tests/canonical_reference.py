"""The audit trail's canonical JSON encoder as it was before orjson: the reference to compare with.

A verbatim copy of ``tradeguard.audit.canonical`` (``json.dumps`` through the C encoder) as of the
commit that introduced the orjson path. The tests assert that the module writes exactly these
bytes, and refuses exactly what this refuses, for every input; do not "fix" this copy.
"""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Final

from tradeguard.codes import ErrorCode
from tradeguard.errors import InvalidInputError
from tradeguard.policy import format_utc

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


def canonical_json(value: object) -> str:
    """The old ``canonical_json``."""
    try:
        text = _dumps(value)
        if not text.isascii():
            text.encode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidInputError(
            ErrorCode.INPUT_INVALID_VALUE, f"record cannot be written as canonical JSON: {exc}"
        ) from exc
    return text


def plain_json_dumps(value: object) -> str:
    """``json.dumps`` exactly as the format documents it (no conversions)."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


_MARKER_VALUE: Final = "\x00tradeguard-seq\x00"
_MARKER_TEXT: Final = '"\\u0000tradeguard-seq\\u0000"'


def seq_template(row: Mapping[str, Any]) -> tuple[str, str]:
    """The old ``seq_template``."""
    if SEQ_KEY in row:
        raise InvalidInputError(ErrorCode.INPUT_INVALID_VALUE, "a record may not carry 'seq'")
    text = canonical_json({**row, SEQ_KEY: _MARKER_VALUE})
    head, found, tail = text.partition(_MARKER_TEXT)
    if found and _MARKER_TEXT not in tail and _MARKER_TEXT not in head:
        return head, tail
    before = canonical_json({k: v for k, v in row.items() if k < SEQ_KEY})[:-1]
    after = canonical_json({k: v for k, v in row.items() if k > SEQ_KEY})[1:]
    head = before + ('"seq":' if before == "{" else ',"seq":')
    tail = after if after == "}" else "," + after
    return head, tail
