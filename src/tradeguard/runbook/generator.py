"""Build the LIVE trading runbook from ``template.md`` and the running code, then prove it.

``generate_runbook()`` fills the template's ``{{ name }}`` placeholders with tables generated
from the settings model, ``codes.py``, the CLI's exit codes and its click tree; marks every
runnable block with its expected exit code; and refuses (``RunbookError``) when any command,
option or ``TRADEGUARD_*`` variable it names does not exist.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from ..settings import ENV_PREFIX, META_VARIABLES, Settings
from . import tables
from .commands import CommandNode, RunbookError, extract_blocks, validate_markdown

TEMPLATE_PATH = Path(__file__).with_name("template.md")
_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
_VARIABLE = re.compile(re.escape(ENV_PREFIX) + r"[A-Z0-9_]*[A-Z0-9]")


def _default(name: str) -> str:
    value = Settings.model_fields[name].default
    return f"{value:g}" if isinstance(value, float) else str(value)


def _placeholders(root: CommandNode) -> dict[str, Callable[[], str]]:
    return {
        "environment_table": tables.environment_table,
        "meta_table": tables.meta_table,
        "live_refusals": tables.live_refusals,
        "exit_code_table": tables.exit_code_table,
        "reason_code_table": tables.reason_code_table,
        "error_code_table": tables.error_code_table,
        "command_reference": lambda: tables.command_reference(root),
        "max_clock_drift_ms": lambda: _default("max_clock_drift_ms"),
        "sync_interval_seconds": lambda: _default("sync_interval_seconds"),
        "latch_reset_window_seconds": lambda: _default("latch_reset_window_seconds"),
        "budget_max_age_hours": lambda: (
            f"{Settings.model_fields['budget_max_age_seconds'].default / 3600:g}"
        ),
        "database_default": lambda: _default("database_url"),
    }


def fill(template: str, root: CommandNode) -> str:
    """Replace every ``{{ name }}`` of ``template``; an unknown name is an error."""
    values = _placeholders(root)

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise RunbookError(f"template placeholder {{{{ {name} }}}} is unknown")
        return values[name]()

    return _PLACEHOLDER.sub(replace, template)


def annotate_runnable(markdown: str) -> str:
    """Put a visible line with the expected exit code before every runnable block."""
    blocks = {b.line_number: b for b in extract_blocks(markdown) if b.runnable}
    out: list[str] = []
    for number, line in enumerate(markdown.splitlines(), start=1):
        block = blocks.get(number)
        if block is not None:
            needs = " with the exchange simulator" if "exchange" in block.needs else ""
            out.append(
                f"*Each command below exits {block.expected_exit}; the test suite runs this "
                f"block in a DRY_RUN sandbox{needs}.*"
            )
            out.append("")
        out.append(line)
    return "\n".join(out) + "\n"


def check_variables(markdown: str) -> None:
    """Refuse a ``TRADEGUARD_*`` name that is neither a setting nor a known meta variable."""
    known = {tables.env_name(n) for n in Settings.model_fields} | set(META_VARIABLES)
    unknown = sorted(set(_VARIABLE.findall(markdown)) - known)
    if unknown:
        raise RunbookError(f"the runbook names unknown variables {unknown}")


def generate_runbook(root: CommandNode, template: str | None = None) -> str:
    """Return the runbook Markdown, proven against ``root``, the CLI's click tree.

    The caller passes the tree in (``tradeguard.cli.app.root_command()``, or the running
    command's root), so the runbook does not import the CLI that imports it.
    """
    command_root = root
    text = template if template is not None else TEMPLATE_PATH.read_text(encoding="utf-8")
    markdown = annotate_runnable(fill(text, command_root))
    validate_markdown(command_root, markdown)
    check_variables(markdown)
    return markdown
