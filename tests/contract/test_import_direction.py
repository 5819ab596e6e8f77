"""Dependencies point one way (STYLE.md): walk every module's imports with ``ast``."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "tradeguard"
ENTRY_POINTS = ("tradeguard.cli", "tradeguard.api", "tradeguard.simulator", "tradeguard.runbook")
STDLIB = set(sys.stdlib_module_names) | {"__future__"}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
                if node.module is None:
                    found.update(f"{target}.{alias.name}" for alias in node.names)
                else:
                    found.add(target)
            else:
                found.add(node.module or "")
    return found


MODULES = {module_name(p): p for p in SRC.rglob("*.py")}


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


@pytest.mark.parametrize("module", sorted(m for m in MODULES if within(m, "tradeguard.policy")))
def test_policy_core_imports_only_stdlib_codes_and_errors(module):
    allowed = ("tradeguard.policy", "tradeguard.codes", "tradeguard.errors")
    for imported in imports_of(MODULES[module]):
        top = imported.split(".")[0]
        if top in STDLIB:
            continue
        assert any(within(imported, a) for a in allowed), f"{module} imports {imported}"


@pytest.mark.parametrize(
    "module",
    sorted(m for m in MODULES if within(m, "tradeguard.codes") or m == "tradeguard.errors"),
)
def test_codes_and_errors_import_nothing_of_ours_but_codes(module):
    for imported in imports_of(MODULES[module]):
        if imported.startswith("tradeguard"):
            assert imported == "tradeguard.codes", f"{module} imports {imported}"


@pytest.mark.parametrize(
    "module",
    sorted(
        m
        for m in MODULES
        if not any(within(m, e) for e in ENTRY_POINTS)
        and m not in ("tradeguard", "tradeguard.bootstrap")
    ),
)
def test_nothing_below_the_entry_points_imports_them_or_the_composition_root(module):
    for imported in imports_of(MODULES[module]):
        assert not any(within(imported, e) for e in ENTRY_POINTS), f"{module} -> {imported}"
        assert not within(imported, "tradeguard.bootstrap"), f"{module} -> {imported}"


def test_the_walker_sees_relative_imports():
    assert "tradeguard.codes" in imports_of(SRC / "policy" / "engine.py")


USE_CASES = ("tradeguard.gate", "tradeguard.operator", "tradeguard.execution", "tradeguard.signals")
ADAPTERS = (
    "tradeguard.exchange",
    "tradeguard.feeds",
    "tradeguard.sources",
    "tradeguard.audit",
    "tradeguard.alerts",
)


@pytest.mark.parametrize(
    "module", sorted(m for m in MODULES if any(within(m, u) for u in USE_CASES))
)
def test_use_cases_depend_on_ports_not_on_adapters(module):
    for imported in imports_of(MODULES[module]):
        if within(imported, "tradeguard.audit.records"):
            continue  # value types of the trail, shared like the ports
        assert not any(within(imported, a) for a in ADAPTERS), f"{module} -> {imported}"


@pytest.mark.parametrize(
    "module", sorted(m for m in MODULES if any(within(m, a) for a in ADAPTERS))
)
def test_adapters_do_not_import_use_cases(module):
    for imported in imports_of(MODULES[module]):
        assert not any(within(imported, u) for u in USE_CASES), f"{module} -> {imported}"
