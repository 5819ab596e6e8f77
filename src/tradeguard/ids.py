"""Identifiers: correlation ids that sort by creation time (UUID version 7, RFC 9562).

Every audit table indexes ``correlation_id``. Random (version 4) ids land on a random index
page each, so a commit of a few rows dirties as many pages as it has rows; ids that start with
their creation time land on the last page, which a commit writes once. They are still 128-bit
UUIDs with 74 random bits, as unique as version 4 for any practical purpose.

The time part is read from the system clock directly: it only orders the ids, nothing decides
on it (decisions and records take their time from the injected clock). The random part comes
from ``random.getrandbits`` (seeded from the OS, and re-seeded in a forked child): an id must
be unique, not secret, and ``os.urandom`` is a system call that gives up the GIL on the hot
path, so the thread that asked waits to get it back while others run.
"""

from __future__ import annotations

import random
import time
import uuid
from typing import Final

_RAND_B_MASK: Final = (1 << 62) - 1
_VERSION_AND_VARIANT: Final = (0x7 << 76) | (0b10 << 62)


def new_correlation_id() -> str:
    """Return a new UUID version 7 string (48-bit Unix milliseconds, then 74 random bits)."""
    millis = time.time_ns() // 1_000_000
    rand = random.getrandbits(74)
    value = (
        ((millis & 0xFFFF_FFFF_FFFF) << 80)
        | _VERSION_AND_VARIANT
        | ((rand >> 62) << 64)
        | (rand & _RAND_B_MASK)
    )
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def new_order_id() -> str:
    """Return a new random UUID version 4 string (for in-process paper orders)."""
    return str(uuid.UUID(int=random.getrandbits(128), version=4))


__all__ = ["new_correlation_id", "new_order_id"]
