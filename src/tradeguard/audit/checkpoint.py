"""Checkpoints: the head of every chain, appended to a JSON-lines file, optionally signed.

Each line is ``{"created_at", "heads": [{"table", "seq", "row_hash"}], "signature"?,
"public_key"?}``. The signature is Ed25519 over the canonical JSON of ``{"created_at",
"heads"}`` (hex); ``public_key`` (raw, hex) only names the key, it is never trusted: verification
uses the configured key. A later ``verify`` with the file catches rows removed from the end and
chains rewritten from an earlier point (AUD-005) and altered checkpoint lines (AUD-007).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_private_key,
)

from ..codes import ErrorCode
from ..errors import AuditTamperError, ConfigurationError
from ..policy import format_utc
from ..ports import ChainBreak, ChainHead
from .canonical import canonical_json
from .records import AuditTable


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """One line of a checkpoint file."""

    created_at: str
    heads: tuple[ChainHead, ...]
    signature: str | None = None
    public_key: str | None = None

    def body(self) -> str:
        """Return the canonical JSON that is signed."""
        return canonical_json(
            {
                "created_at": self.created_at,
                "heads": [
                    {"table": h.table.value, "seq": h.seq, "row_hash": h.row_hash}
                    for h in self.heads
                ],
            }
        )

    def to_line(self) -> str:
        """Return the JSON line written to the file."""
        data: dict[str, Any] = json.loads(self.body())
        if self.signature is not None:
            data["signature"] = self.signature
            data["public_key"] = self.public_key
        return canonical_json(data)


def load_key(path: Path) -> Ed25519PrivateKey:
    """Load an Ed25519 private key (PEM, unencrypted)."""
    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigurationError(
            ErrorCode.CONFIG_INVALID, f"cannot read the checkpoint key {path}: {exc}"
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigurationError(ErrorCode.CONFIG_INVALID, f"{path} is not an Ed25519 key")
    return key


def _public_hex(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def make_checkpoint(
    heads: Sequence[ChainHead], now: datetime, key: Ed25519PrivateKey | None = None
) -> Checkpoint:
    """Build (and sign when ``key`` is given) a checkpoint of ``heads``."""
    unsigned = Checkpoint(format_utc(now), tuple(heads))
    if key is None:
        return unsigned
    signature = key.sign(unsigned.body().encode("utf-8")).hex()
    return Checkpoint(unsigned.created_at, unsigned.heads, signature, _public_hex(key))


def append_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    """Append ``checkpoint`` as one line to ``path`` and fsync it."""
    import os

    with path.open("a", encoding="utf-8") as handle:
        handle.write(checkpoint.to_line() + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def _parse_line(line: str, number: int) -> Checkpoint:
    try:
        data = json.loads(line)
        heads = tuple(
            ChainHead(AuditTable(h["table"]), int(h["seq"]), str(h["row_hash"]))
            for h in data["heads"]
        )
        return Checkpoint(
            str(data["created_at"]), heads, data.get("signature"), data.get("public_key")
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise AuditTamperError(
            ErrorCode.AUD_008, f"checkpoint line {number} cannot be read: {exc}"
        ) from exc


def read_checkpoints(path: Path) -> list[Checkpoint]:
    """Read every line of a checkpoint file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AuditTamperError(
            ErrorCode.AUD_008, f"cannot read checkpoint file {path}: {exc}"
        ) from exc
    return [_parse_line(line, n) for n, line in enumerate(text.splitlines(), 1) if line.strip()]


def signature_breaks(
    checkpoints: Sequence[Checkpoint], key: Ed25519PrivateKey | None
) -> list[ChainBreak]:
    """Return an AUD-007 break for every line whose signature does not verify with ``key``.

    Without a key, signatures cannot be checked and nothing is reported; with a key, an
    unsigned line is reported too (someone may have replaced a signed one).
    """
    if key is None:
        return []
    public = key.public_key()
    breaks: list[ChainBreak] = []
    for number, checkpoint in enumerate(checkpoints, 1):
        table = checkpoint.heads[0].table if checkpoint.heads else AuditTable.POLICY_DECISION
        try:
            if checkpoint.signature is None:
                raise InvalidSignature("unsigned")
            public.verify(bytes.fromhex(checkpoint.signature), checkpoint.body().encode("utf-8"))
        except (InvalidSignature, ValueError):
            breaks.append(
                ChainBreak(
                    table,
                    0,
                    ErrorCode.AUD_007.value,
                    f"checkpoint line {number} ({checkpoint.created_at}) is not signed by the "
                    "configured key",
                )
            )
    return breaks


def expected_heads(checkpoints: Sequence[Checkpoint]) -> list[ChainHead]:
    """Return every head named by any checkpoint line."""
    return [head for checkpoint in checkpoints for head in checkpoint.heads]


__all__ = [
    "Checkpoint",
    "append_checkpoint",
    "expected_heads",
    "load_key",
    "make_checkpoint",
    "read_checkpoints",
    "signature_breaks",
]
