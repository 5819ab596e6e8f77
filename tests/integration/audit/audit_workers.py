"""Functions run in child processes by the concurrency and crash tests (spawn start method)."""

from __future__ import annotations

import os
import sys

from tests.audit_factories import decision, operator_action
from tradeguard import open_audit_store


def append_many(url: str, worker: int, count: int) -> list[int]:
    """Append ``count`` decisions (some in small batches) and return the seqs received."""
    store = open_audit_store(url)
    seqs: list[int] = []
    try:
        for i in range(count):
            if i % 5 == 0:
                seqs.extend(store.record_many([decision(i), decision(i + 1)]))
            else:
                seqs.append(store.record_decision(decision(worker * 100_000 + i)))
            if i % 25 == 0:
                store.record_operator_action(operator_action(i=i))
    finally:
        store.close()
    return seqs


def append_forever(url: str, out_path: str) -> None:
    """Append until killed; write each seq to ``out_path`` only after its append returned."""
    store = open_audit_store(url)
    with open(out_path, "a", encoding="utf-8") as out:
        i = 0
        while True:
            seq = store.record_decision(decision(i))
            out.write(f"{seq}\n")
            out.flush()
            os.fsync(out.fileno())
            i += 1


if __name__ == "__main__":
    append_forever(sys.argv[1], sys.argv[2])
