"""Policy supremacy is structural: only the executor places or cancels orders.

Walks every module of ``src/tradeguard`` with ``ast`` and fails when any module other than
``execution/executor.py`` calls ``.place_order(`` or ``.cancel_order(`` — except the exchange
adapters themselves (``tradeguard/exchange/``: the adapters, the DRY_RUN wrapper and the
simulator, which implement or forward the port) and the bot-side integrations
(``tradeguard/integrations/``: they wrap the bot's own exchange object, which places orders
only after the decide API permitted them, and never touch tradeguard's exchange port).
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "tradeguard"
ORDER_METHODS = {"place_order", "cancel_order"}
EXECUTOR = SRC / "execution" / "executor.py"
ADAPTERS = SRC / "exchange"
BOT_SIDE = SRC / "integrations"


def order_calls(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in ORDER_METHODS:
                found.append((node.lineno, func.attr))
        # getattr(exchange, "place_order") would be a way around the attribute check.
        if isinstance(node, ast.Constant) and node.value in ORDER_METHODS:
            found.append((node.lineno, f"string {node.value!r}"))
    return found


def allowed(path: Path) -> bool:
    return path == EXECUTOR or ADAPTERS in path.parents or BOT_SIDE in path.parents


def test_no_module_but_the_executor_calls_an_exchange_order_method():
    offenders = {
        str(path.relative_to(SRC)): calls
        for path in sorted(SRC.rglob("*.py"))
        if not allowed(path) and (calls := order_calls(path))
    }
    assert offenders == {}


def test_the_executor_really_is_where_orders_are_placed():
    calls = {name for _, name in order_calls(EXECUTOR)}
    assert calls == ORDER_METHODS


def test_the_walker_catches_a_direct_call(tmp_path):
    rogue = tmp_path / "rogue.py"
    rogue.write_text("def f(ex, r):\n    return ex.place_order(r)\n", encoding="utf-8")
    assert order_calls(rogue) == [(2, "place_order")]


def test_the_walker_catches_getattr_by_name(tmp_path):
    rogue = tmp_path / "rogue.py"
    rogue.write_text("def f(ex):\n    return getattr(ex, 'cancel_order')\n", encoding="utf-8")
    assert order_calls(rogue) == [(2, "string 'cancel_order'")]
