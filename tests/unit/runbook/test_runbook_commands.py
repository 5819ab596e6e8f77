"""Command lines are found in Markdown and proven against a command tree, strictly or loosely."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from pydantic.fields import FieldInfo

from tradeguard.runbook import (
    RunbookError,
    commands_in_shell_line,
    extract_blocks,
    find_commands,
    validate_argv,
    validate_markdown,
)
from tradeguard.runbook.tables import _default_text, cell


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"


def build_root():
    demo = typer.Typer()
    latch = typer.Typer()

    @demo.command("kill")
    def kill(
        state: Annotated[str, typer.Argument()],
        operator: Annotated[str, typer.Option("--operator")],
        reason: Annotated[str, typer.Option("--reason")],
    ) -> None:
        """Kill switch."""

    @demo.command("status")
    def status(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
        """Status."""

    @demo.command("send")
    def send(side: Annotated[Side, typer.Option("--side")] = Side.BUY) -> None:
        """Send."""

    @latch.command("reset")
    def reset(operator: Annotated[str, typer.Option("--operator")]) -> None:
        """Reset."""

    @latch.command("show")
    def show() -> None:
        """Show."""

    demo.add_typer(latch, name="latch")
    return typer.main.get_command(demo)


ROOT = build_root()


def test_a_complete_command_validates_strictly():
    validate_argv(ROOT, ["kill", "on", "--operator", "$OPERATOR", "--reason", "drill"], strict=True)
    validate_argv(ROOT, ["latch", "reset", "--operator=alice"], strict=True)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["launch"], "no command 'launch'"),
        (["latch", "rewind"], "no command 'rewind'"),
        (["latch"], "command group"),
        (["status", "--yaml"], "no option '--yaml'"),
        (["kill", "on", "--operator"], "needs a value"),
        (["kill", "on", "off", "--operator", "a", "--reason", "b"], "unexpected argument"),
        (["kill", "on", "--operator", "a"], "missing required option --reason"),
        (["kill", "--operator", "a", "--reason", "b"], "missing argument"),
        (["send", "--side", "HOLD"], "not one of"),
    ],
)
def test_a_wrong_command_is_refused_naming_the_problem(argv, message):
    with pytest.raises(RunbookError, match=message):
        validate_argv(ROOT, argv, strict=True)


def test_an_inline_reference_may_leave_out_required_options_but_not_invent_any():
    validate_argv(ROOT, ["kill", "off"], strict=False)
    validate_argv(ROOT, ["latch", "reset", "--operator", "ID"], strict=False)
    with pytest.raises(RunbookError):
        validate_argv(ROOT, ["kill", "off", "--now"], strict=False)


def test_inline_alternatives_are_each_checked():
    validate_argv(ROOT, ["send", "--side", "BUY|SELL"], strict=False)
    validate_argv(ROOT, ["latch", "reset|show"], strict=False)
    with pytest.raises(RunbookError, match="rewind"):
        validate_argv(ROOT, ["latch", "reset|rewind"], strict=False)


def test_placeholders_are_not_taken_for_choice_values():
    validate_argv(ROOT, ["send", "--side", "SIDE"], strict=False)
    validate_argv(ROOT, ["send", "--side", "$SIDE"], strict=True)
    validate_argv(ROOT, ["send", "--side", "<side>"], strict=True)


def test_shell_lines_are_split_at_pipes_and_lists_and_lose_assignments_and_redirects():
    line = "TRADEGUARD_X=1 tradeguard status --json | jq . && tradeguard kill on > out.txt"
    assert commands_in_shell_line(line) == [("status", "--json"), ("kill", "on")]
    assert commands_in_shell_line("curl -fsS http://x/v1/status") == []


def test_blocks_are_parsed_with_runnable_marking_continuations_and_comments():
    markdown = (
        "text\n\n```bash runnable exit=2 needs=exchange\n# a comment\n"
        "tradeguard kill on \\\n  --operator a --reason b\n\n```\n\n```python\nx = 1\n```\n"
    )
    first, second = extract_blocks(markdown)
    assert (first.runnable, first.expected_exit, first.needs) == (True, 2, frozenset({"exchange"}))
    assert first.lines == ("tradeguard kill on --operator a --reason b",)
    assert first.line_number == 3
    assert (second.language, second.runnable) == ("python", False)


@pytest.mark.parametrize(
    ("info", "message"),
    [("bash runnable", "needs exit=N"), ("bash runnable exit=0 fast", "unknown block attribute")],
)
def test_a_badly_marked_block_is_refused(info, message):
    with pytest.raises(RunbookError, match=message):
        extract_blocks(f"```{info}\ntradeguard status\n```\n")


def test_an_unclosed_block_is_refused():
    with pytest.raises(RunbookError, match="never closed"):
        extract_blocks("```bash\ntradeguard status\n")


def test_inline_spans_outside_blocks_are_found_with_escaped_pipes():
    markdown = "| a | `tradeguard kill on\\|off` |\n\n```text\n`tradeguard nothing`\n```\n"
    found = find_commands(markdown)
    assert [(c.argv, c.strict) for c in found] == [(("kill", "on|off"), False)]
    validate_markdown(ROOT, markdown)


def test_a_secret_default_is_never_shown():
    field = FieldInfo(annotation=SecretStr | None, default=SecretStr("hunter2"))
    assert _default_text(field) == "(hidden)"


def test_table_cells_escape_pipes_and_fold_newlines():
    assert cell("a|b\n c") == "a\\|b c"


COMMAND_NAMES = {"kill", "status", "send", "latch"}


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz-_", min_size=1, max_size=12))
def test_any_name_the_cli_does_not_have_is_refused(name):
    if name in COMMAND_NAMES or name.startswith("-"):
        return
    with pytest.raises(RunbookError):
        validate_argv(ROOT, [name], strict=False)


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12))
def test_any_option_the_command_does_not_have_is_refused(name):
    option = "--" + name
    if option == "--json" or option == "--help":
        return
    with pytest.raises(RunbookError):
        validate_argv(ROOT, ["status", option], strict=True)
