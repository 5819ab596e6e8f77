"""Run the benchmarks: ``python -m bench [NAME ...]`` (all when none are named)."""

from __future__ import annotations

import importlib
import json
import sys

BENCHMARKS = (
    "policy",
    "audit",
    "canonical",
    "sources",
    "dispatch",
    "service",
    "alerts",
    "workers",
    "detection",
)


def main(argv: list[str]) -> int:
    """Run the named benchmarks and print where each result was written."""
    names = argv or list(BENCHMARKS)
    for name in names:
        module = importlib.import_module(f"bench.bench_{name}")
        result = module.run()
        path = module.write(result)
        print(f"{name}: {path}")
        print(json.dumps(result.get("summary", {}), indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
