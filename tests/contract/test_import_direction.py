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


def _module_of(imported: str) -> str | None:
    # ``from .pkg import name`` names ``pkg.name``: the module is the longest known prefix.
    while imported and imported not in MODULES:
        imported = imported.rpartition(".")[0]
    return imported or None


def import_graph() -> dict[str, set[str]]:
    """Every module's imports of our own modules, lazy and TYPE_CHECKING ones included."""
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        targets = {_module_of(i) for i in imports_of(path) if within(i, "tradeguard")}
        graph[name] = {t for t in targets if t is not None and t != name}
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Return the strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = [stack.pop()]
            while component[-1] != node:
                component.append(stack.pop())
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_no_module_imports_itself_through_others():
    assert import_cycles(import_graph()) == []


def test_the_cycle_finder_sees_a_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert import_cycles(graph) == [["a", "b", "c"]]
