"""Canonical JSON and the row hash, exactly as docs/audit-format.md describes them."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tests.audit_factories import decision
from tradeguard.audit.canonical import GENESIS_HASH, canonical_json, row_hash, seq_template
from tradeguard.audit.chain import link, prepare, verify_chain
from tradeguard.audit.records import AuditTable
from tradeguard.errors import InvalidInputError


def test_canonical_json_sorts_keys_without_spaces_and_keeps_utf8() -> None:
    text = canonical_json({"b": 1, "a": {"z": "é", "y": [1, 2]}})
    assert text == '{"a":{"y":[1,2],"z":"é"},"b":1}'


def test_canonical_json_writes_decimals_as_strings_and_timestamps_with_z() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert canonical_json({"d": Decimal("1.50"), "t": moment}) == (
        '{"d":"1.50","t":"2026-01-02T03:04:05.000006Z"}'
    )


@pytest.mark.parametrize("bad", [float("nan"), Decimal("NaN"), object(), "\ud800"])
def test_canonical_json_refuses_values_without_a_canonical_form(bad: object) -> None:
    with pytest.raises(InvalidInputError):
        canonical_json({"x": bad})


def test_row_hash_is_sha256_of_prev_hash_and_canonical_json_utf8() -> None:
    body = '{"seq":1,"x":"é"}'
    expected = hashlib.sha256((GENESIS_HASH + body).encode("utf-8")).hexdigest()
    assert row_hash(GENESIS_HASH, body) == expected
    assert GENESIS_HASH == "0" * 64


@pytest.mark.parametrize(
    "row", [{}, {"a": 1}, {"z": 1}, {"a": "\x00tradeguard-seq\x00", "z": {"seq": 3}}]
)
def test_seq_template_splices_seq_exactly_where_canonical_json_puts_it(row: dict) -> None:
    head, tail = seq_template(row)
    assert head + "17" + tail == canonical_json({**row, "seq": 17})


def test_seq_template_refuses_a_record_that_carries_seq() -> None:
    with pytest.raises(InvalidInputError):
        seq_template({"seq": 1})


def test_linked_rows_bind_their_seq_and_chain_from_genesis() -> None:
    heads: dict = {}
    rows = link([prepare(decision(i)) for i in range(3)], heads)
    assert [r.seq for r in rows] == [1, 2, 3]
    assert rows[0].prev_hash == GENESIS_HASH
    assert rows[1].prev_hash == rows[0].row_hash
    assert json.loads(rows[2].canonical_json)["seq"] == 3
    links = [(r.seq, r.prev_hash, r.row_hash, r.canonical_json, True) for r in rows]
    result = verify_chain(AuditTable.POLICY_DECISION, links)
    assert result.first_break is None and result.rows_checked == 3


def test_verify_chain_names_the_first_changed_row() -> None:
    rows = link([prepare(decision(i)) for i in range(4)], {})
    links = [(r.seq, r.prev_hash, r.row_hash, r.canonical_json, True) for r in rows]
    seq, prev, digest, body, ok = links[2]
    links[2] = (seq, prev, digest, body.replace("ALLOW", "HALT_"), ok)
    result = verify_chain(AuditTable.POLICY_DECISION, links)
    assert result.first_break is not None
    assert (result.first_break.seq, result.first_break.code) == (3, "AUD-004")
