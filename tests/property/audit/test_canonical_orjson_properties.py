"""For any input, the orjson-backed canonical JSON is the old stdlib encoder's, byte for byte.

The reference is the encoder as it was (``tests/canonical_reference.py``): every value either
gives the same text from both, or is refused by both with ``InvalidInputError``; the same for
``seq_template``; and every audit record the factories build keeps its row hash.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import math
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum, IntEnum, StrEnum
from typing import Any
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import canonical_reference as reference
from tests.audit_factories import decision, operator_action, order, signal
from tradeguard.audit import canonical
from tradeguard.audit.canonical import GENESIS_HASH, canonical_json, seq_template
from tradeguard.audit.chain import link, prepare
from tradeguard.audit.records import TABLE_OF, AuditRecord
from tradeguard.codes import ErrorCode
from tradeguard.errors import InvalidInputError

EXAMPLES = settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Characters where two JSON encoders tend to differ: every control character (short escapes
# and \u00XX), quote, backslash, slash, DEL, C1 controls, the JavaScript line separators, BOM,
# noncharacters, and astral characters (which sort differently in UTF-16 than by code point).
SPECIAL = (
    "".join(chr(c) for c in range(0x20))
    + ' "\\/\x7f\x80\x85\x9f\xa0\xad\u2028\u2029\ud7ff\ue000\ufeff\ufffd\ufffe\uffff'
    + "\U00010000\U0001f600\U0010ffff"
)
characters = st.one_of(
    st.sampled_from(SPECIAL),
    st.characters(max_codepoint=0x7F),
    st.characters(exclude_categories=("Cs",)),
)
texts = st.text(characters, max_size=10)
# A lone surrogate cannot be written as UTF-8: both encoders must refuse it.
surrogate_texts = st.builds(
    lambda before, lone, after: before + lone + after,
    texts,
    st.characters(categories=["Cs"]),
    texts,
)


class Tag(str):
    pass


class Count(int):
    pass


class Ratio(float):
    pass


class Pair(tuple):  # type: ignore[type-arg]
    pass


class Colour(StrEnum):
    RED = "red"
    NON_ASCII = "grün\x01"


class Level(IntEnum):
    LOW = 1
    HUGE = 2**70


class Mixed(Enum):
    FLOAT = 1.5
    TEXT = "x"
    LIST = (1, "y")
    NAN = math.nan


class MixinOne(str, Enum):  # noqa: UP042 - the str and the value differ on purpose
    ONE = 1  # the str is "1", the value the int 1


Point = collections.namedtuple("Point", "x y")


@dataclasses.dataclass
class Holder:
    x: int


BOUNDARY_INTS = [
    0,
    -1,
    2**31,
    2**53 + 1,
    2**63 - 1,
    2**63,
    2**64 - 1,
    2**64,
    -(2**63),
    -(2**63) - 1,
    10**30,
    -(10**30),
]
ints = st.integers() | st.sampled_from(BOUNDARY_INTS)
SPECIAL_FLOATS = [
    0.0,
    -0.0,
    0.1,
    1.0,
    1e15,
    1e16,
    1e17,
    1e21,
    1e22,
    1e-4,
    1e-05,
    1e-7,
    5e-324,
    2.2250738585072014e-308,
    1.7976931348623157e308,
    123456789.0,
    math.nan,
    math.inf,
    -math.inf,
]
floats = st.floats() | st.sampled_from(SPECIAL_FLOATS)
decimals = st.decimals(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [Decimal("0.010"), Decimal("-0"), Decimal("1E+3"), Decimal("sNaN"), Decimal("-Infinity")]
)
offsets = st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23))
# Years 2-9998: an aware datetime whose UTC form leaves datetime's range raises OverflowError
# in the old encoder too (reported, not part of the byte-identity contract).
datetimes = st.datetimes(
    min_value=datetime(2, 1, 1),
    max_value=datetime(9998, 12, 31),
    timezones=st.none() | st.just(UTC) | st.builds(timezone, offsets),
)
hashables = st.none() | st.booleans() | ints | floats | texts
sets = st.sets(hashables, max_size=4) | st.frozensets(ints | texts, max_size=4)

exotic = st.one_of(
    st.builds(Tag, texts),
    st.builds(Count, ints),
    st.builds(Ratio, floats),
    st.sampled_from(list(Colour) + list(Level) + list(Mixed) + list(MixinOne)),
    st.builds(Point, ints, texts),
    st.builds(Pair, st.lists(ints, max_size=3)),
    st.uuids(),
    st.dates(),
    st.builds(Holder, ints),
    st.binary(max_size=4),
    st.builds(lambda pairs: collections.OrderedDict(pairs), st.lists(st.tuples(texts, ints))),
)
leaves = st.one_of(
    st.none(),
    st.booleans(),
    ints,
    texts,
    texts,
    surrogate_texts,
    floats,
    decimals,
    datetimes,
    sets,
    exotic,
)
keys = st.one_of(
    texts,
    texts,
    texts,
    surrogate_texts,
    ints,
    st.booleans(),
    st.none(),
    floats,
    st.builds(Tag, texts),
    st.sampled_from(list(Colour) + list(Level)),
    st.tuples(ints),
)
values = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(keys, inner, max_size=5),
    ),
    max_leaves=20,
)

# What the audit records hold: only the types the fast path takes (str keys, no surrogates).
plain_values = st.recursive(
    st.none() | st.booleans() | ints | texts,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(texts, inner, max_size=5),
    ),
    max_leaves=25,
)
plain_rows = st.dictionaries(texts.filter(lambda k: k != "seq"), plain_values, max_size=8)


def _outcome(encode: Any, value: object) -> tuple[str, object]:
    try:
        return "text", encode(value)
    except InvalidInputError as exc:
        return "refused", exc.code


def _no_stdlib(value: object) -> str:
    raise AssertionError(f"took the stdlib path for {value!r}")


@EXAMPLES
@given(values)
def test_canonical_json_for_any_value_equals_the_old_encoder_or_both_refuse(value: Any) -> None:
    assert _outcome(canonical_json, value) == _outcome(reference.canonical_json, value)


@EXAMPLES
@given(st.dictionaries(keys, values, max_size=6))
def test_canonical_json_for_any_dict_equals_the_old_encoder_or_both_refuse(value: Any) -> None:
    assert _outcome(canonical_json, value) == _outcome(reference.canonical_json, value)


@EXAMPLES
@given(plain_values)
def test_plain_values_take_the_orjson_path_and_equal_json_dumps(value: Any) -> None:
    expected = reference.plain_json_dumps(value)
    fits = all(-(2**63) <= n < 2**64 for n in _ints_in(value))
    if fits:
        # Nothing refused by orjson: the text must come from it, not from the fallback.
        with mock.patch.object(canonical, "_stdlib_canonical_json", _no_stdlib):
            assert canonical_json(value) == expected
    assert canonical_json(value) == expected == reference.canonical_json(value)


def _ints_in(value: object) -> list[int]:
    if type(value) is int:
        return [value]
    if type(value) is dict:
        value = list(value.values())
    if type(value) in (list, tuple):
        return [n for item in value for n in _ints_in(item)]  # type: ignore[attr-defined]
    return []


def _template_outcome(row: Any) -> tuple[str, object]:
    try:
        return "split", seq_template(row)
    except InvalidInputError as exc:
        return "refused", exc.code


def _reference_template_outcome(row: Any) -> tuple[str, object]:
    try:
        return "split", reference.seq_template(row)
    except InvalidInputError as exc:
        return "refused", exc.code


MARKER = "\x00tradeguard-seq\x00"
rows_with_markers = st.dictionaries(
    texts | st.sampled_from(["seq", "seq\x00", "sep", "seqz", "", MARKER]),
    values | st.just(MARKER) | st.just({"seq": MARKER}),
    max_size=6,
)


@EXAMPLES
@given(rows_with_markers | plain_rows, st.integers(min_value=1, max_value=2**63 - 1))
def test_seq_template_for_any_row_equals_the_old_split_and_splices_seq(
    row: dict[str, Any], seq: int
) -> None:
    found = _template_outcome(row)
    assert found == _reference_template_outcome(row)
    if found[0] == "split":
        head, tail = seq_template(row)
        assert head + str(seq) + tail == canonical_json({**row, "seq": seq})
        assert head + str(seq) + tail == reference.canonical_json({**row, "seq": seq})


record_texts = st.text(characters, min_size=1, max_size=10).filter(lambda t: t.strip() != "")
contents = st.dictionaries(texts, plain_values | values, max_size=5)


@st.composite
def factory_records(draw: st.DrawFn) -> AuditRecord:
    i = draw(st.integers(min_value=0, max_value=10**6))
    kind = draw(st.sampled_from(["decision", "signal", "order", "operator"]))
    if kind == "decision":
        confidence = draw(st.none() | st.sampled_from(["0", "42.5", "99.99", "100"]))
        record: AuditRecord = decision(i, halt=draw(st.booleans()), confidence=confidence)
        return dataclasses.replace(record, context_snapshot=draw(contents))
    if kind == "signal":
        record = signal(draw(record_texts), i, outcome=draw(record_texts))
        return dataclasses.replace(record, payload=draw(contents))
    if kind == "order":
        record = order(i)
        return dataclasses.replace(
            record,
            symbol=draw(record_texts),
            price=draw(st.none() | st.decimals(allow_nan=False, allow_infinity=False)),
            details=draw(contents),
        )
    record = operator_action(draw(st.sampled_from(list(ErrorCode))), i)
    return dataclasses.replace(record, reason=draw(record_texts), details=draw(contents))


def _reference_hashes(records: list[AuditRecord]) -> list[tuple[str, int, str, str]] | None:
    # The chain computed by hand from the old encoder, per table as the stores keep it.
    heads: dict[str, tuple[int, str]] = {}
    out = []
    for record in records:
        table = TABLE_OF[type(record)].value
        try:
            head, tail = reference.seq_template(record.to_row())
        except InvalidInputError:
            return None
        seq, prev = heads.get(table, (0, GENESIS_HASH))
        seq += 1
        digest = hashlib.sha256((prev + f"{head}{seq}{tail}").encode("utf-8")).hexdigest()
        heads[table] = (seq, digest)
        out.append((table, seq, prev, digest))
    return out


def _hashes(records: list[AuditRecord]) -> list[tuple[str, int, str, str]] | None:
    try:
        prepared = [prepare(record) for record in records]
    except InvalidInputError:
        return None
    return [(row.table.value, row.seq, row.prev_hash, row.row_hash) for row in link(prepared, {})]


@EXAMPLES
@given(st.lists(factory_records(), min_size=1, max_size=6))
def test_row_hashes_of_any_factory_records_are_unchanged(records: list[AuditRecord]) -> None:
    assert _hashes(records) == _reference_hashes(records)


@settings(max_examples=500, deadline=None)
@given(
    st.integers(min_value=0, max_value=10**6),
    st.booleans(),
    st.sampled_from([ErrorCode.KILL_SWITCH_ENGAGED, ErrorCode.LATCH_RESET]),
)
def test_the_rows_the_factories_build_take_the_orjson_path(
    i: int, halt: bool, action: ErrorCode
) -> None:
    records = [decision(i, halt=halt), signal("sig", i), order(i), operator_action(action, i)]
    expected = [reference.seq_template(r.to_row()) for r in records]
    with mock.patch.object(canonical, "_stdlib_canonical_json", _no_stdlib):
        assert [seq_template(r.to_row()) for r in records] == expected
