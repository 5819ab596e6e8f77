"""The generated LIVE trading runbook (SPEC §9): template, generated tables, command proofs."""

from __future__ import annotations

from .commands import (
    CommandBlock,
    CommandLine,
    RunbookError,
    commands_in_shell_line,
    extract_blocks,
    find_commands,
    validate_argv,
    validate_markdown,
)
from .generator import TEMPLATE_PATH, generate_runbook

__all__ = [
    "TEMPLATE_PATH",
    "CommandBlock",
    "CommandLine",
    "RunbookError",
    "commands_in_shell_line",
    "extract_blocks",
    "find_commands",
    "generate_runbook",
    "validate_argv",
    "validate_markdown",
]
