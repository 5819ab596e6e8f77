"""For any sequence of records the chain verifies, and any one-byte change is detected."""

from __future__ import annotations

import json
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.audit_factories import BASE, new_id, operator_action, order, signal
from tradeguard.audit.canonical import canonical_json
from tradeguard.audit.chain import canonical_seq_matches, link, prepare, verify_chain
from tradeguard.audit.records import TABLE_OF, AuditRecord
from tradeguard.codes import PolicyReasonCode
from tradeguard.policy import Decision, GateName, PolicyDecisionRecord

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def decisions(draw: st.DrawFn) -> PolicyDecisionRecord:
    halt = draw(st.booleans())
    gate = draw(st.sampled_from(list(GateName)))
    return PolicyDecisionRecord(
        correlation_id=new_id(),
        timestamp_utc=BASE,
        policy_decision=Decision.HALT if halt else Decision.ALLOW,
        reason_code=PolicyReasonCode.HALT_LATCHED
        if halt
        else PolicyReasonCode.ALLOW_ALL_GATES_PASSED,
        blocking_gate=gate if halt else None,
        precedence_rank=1 if halt else None,
        context_snapshot=draw(st.dictionaries(st.text(max_size=8), json_values, max_size=4)),
        ai_confidence=draw(st.none() | st.decimals(0, 100, places=2)),
    )


records = st.lists(
    st.one_of(
        decisions(),
        st.builds(signal, st.text(min_size=1, max_size=10)),
        st.builds(order, st.integers(0, 1000)),
        st.builds(operator_action, i=st.integers(0, 1000)),
    ),
    min_size=1,
    max_size=12,
)


def _stored(items: list[AuditRecord]) -> dict:
    heads: dict = {}
    chains: dict = {}
    for row in link([prepare(r) for r in items], heads):
        chains.setdefault(row.table, []).append(
            [row.seq, row.prev_hash, row.row_hash, row.canonical_json]
        )
    return chains


def _verify(table: object, chain: list[list]) -> object:
    links = [(s, p, h, c, canonical_seq_matches(c, s)) for s, p, h, c in chain]
    return verify_chain(table, links).first_break  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None)
@given(records)
def test_any_sequence_of_records_forms_chains_that_verify(items: list[AuditRecord]) -> None:
    chains = _stored(items)
    assert sum(len(c) for c in chains.values()) == len(items)
    assert set(chains) == {TABLE_OF[type(r)] for r in items}
    for table, chain in chains.items():
        assert _verify(table, chain) is None


@settings(max_examples=200, deadline=None)
@given(records, st.data())
def test_any_single_byte_change_of_a_stored_canonical_json_is_detected(
    items: list[AuditRecord], data: st.DataObject
) -> None:
    chains = _stored(items)
    table = data.draw(st.sampled_from(sorted(chains)))
    chain = chains[table]
    index = data.draw(st.integers(0, len(chain) - 1))
    raw = bytearray(chain[index][3].encode("utf-8"))
    position = data.draw(st.integers(0, len(raw) - 1))
    raw[position] = (raw[position] + data.draw(st.integers(1, 255))) % 256
    chain[index][3] = raw.decode("utf-8", errors="surrogateescape")
    found = _verify(table, chain)
    assert found is not None and found.seq == chain[index][0]  # type: ignore[attr-defined]


@settings(max_examples=100, deadline=None)
@given(st.decimals(0, 100, places=3))
def test_confidence_is_stored_as_the_decimal_string(confidence: Decimal) -> None:
    record = PolicyDecisionRecord(
        new_id(),
        BASE,
        Decision.ALLOW,
        PolicyReasonCode.ALLOW_ALL_GATES_PASSED,
        None,
        None,
        {},
        ai_confidence=confidence,
    )
    head, tail = prepare(record).head, prepare(record).tail
    assert f'"ai_confidence":"{confidence}"' in head + "1" + tail


# Every character class the canonical form must handle: ASCII, control characters (escaped as
# \u00XX), quotes and backslashes, non-ASCII BMP characters, astral characters, U+2028/9.
any_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)) | st.sampled_from('"\\\x00\x1f\u2028'),
    max_size=16,
)
wide_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | any_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(any_text, inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(any_text, wide_json, max_size=6))
def test_the_cached_encoder_writes_exactly_the_documented_stdlib_canonical_form(row: dict) -> None:
    documented = json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical_json(row) == documented


@settings(max_examples=100, deadline=None)
@given(records)
def test_the_canonical_json_of_any_record_is_the_documented_stdlib_form(
    items: list[AuditRecord],
) -> None:
    for record in items:
        row = record.to_row()
        documented = json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert canonical_json(row) == documented
