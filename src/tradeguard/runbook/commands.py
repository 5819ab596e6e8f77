"""Find every ``tradeguard`` command in runbook Markdown and prove it against the CLI's click tree.

Two kinds of command appear in the runbook:

- lines of fenced ``bash`` blocks, checked strictly: the command path exists, every option
  exists and has its value, required options and arguments are present, no extra arguments;
- inline code spans (`` `tradeguard kill off` ``) in prose and tables, checked loosely: the path
  and every option named exist (required options may be left out of a reference). ``a|b``
  alternatives are checked one by one.

A fenced block whose info string is ``bash runnable exit=N [needs=exchange]`` is one the test
suite executes in a sandbox; every command line in it must exit with ``N``.
"""

from __future__ import annotations

import itertools
import re
import shlex
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from typer.core import TyperArgument, TyperOption

from ..codes import ErrorCode
from ..errors import TradeGuardError

PROGRAM = "tradeguard"
RUNNABLE = "runnable"
_FENCE = re.compile(r"^```(?P<info>.*)$")
_INLINE_CODE = re.compile(r"`([^`\n]+)`")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_CONTROL = frozenset({"|", "||", "&&", ";", "&"})
_REDIRECT = frozenset({">", ">>", "<", "<<"})
# Values an operator substitutes: shell variables and <angle> placeholders anywhere; in inline
# references (loose) also UPPER words such as ID or TEXT.
_PLACEHOLDER = re.compile(r"^(\$.*|<.*>)$")
_LOOSE_PLACEHOLDER = re.compile(r"^[A-Z][A-Z_]*$")


class CommandNode(Protocol):
    """A node of the CLI's command tree as ``typer.main.get_command`` builds it."""

    name: str | None
    help: str | None
    hidden: bool
    params: list[Any]


def subcommands(command: CommandNode) -> Mapping[str, CommandNode] | None:
    """The subcommands of a group by name, or None for a leaf command."""
    found = getattr(command, "commands", None)
    return found if isinstance(found, dict) else None


def choices(param: TyperOption | TyperArgument) -> list[str] | None:
    """The allowed values of an Enum-typed parameter, or None when any value goes."""
    annotation = param.type_descriptor.annotation
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return [str(member.value) for member in annotation]
    return None


class RunbookError(TradeGuardError):
    """The runbook names a command or option the CLI does not have, or cannot be built."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(
            ErrorCode.RUNBOOK_COMMAND_INVALID,
            message,
            hint=hint or "fix src/tradeguard/runbook/template.md or register the command",
        )


@dataclass(frozen=True, slots=True)
class CommandLine:
    """One ``tradeguard`` invocation found in the runbook."""

    text: str
    argv: tuple[str, ...]
    strict: bool
    line_number: int


@dataclass(frozen=True, slots=True)
class CommandBlock:
    """A fenced code block: its info string, logical lines and runnable marking."""

    language: str
    lines: tuple[str, ...]
    line_number: int
    runnable: bool
    expected_exit: int | None
    needs: frozenset[str]


def _parse_info(info: str, line_number: int) -> tuple[str, bool, int | None, frozenset[str]]:
    words = info.split()
    language = words[0] if words else ""
    runnable = RUNNABLE in words[1:]
    expected: int | None = None
    needs: set[str] = set()
    for word in words[1:]:
        key, _, value = word.partition("=")
        if key == "exit" and value.isdigit():
            expected = int(value)
        elif key == "needs" and value:
            needs.update(value.split(","))
        elif word != RUNNABLE:
            raise RunbookError(f"line {line_number}: unknown block attribute {word!r}")
    if runnable and expected is None:
        raise RunbookError(f"line {line_number}: a runnable block needs exit=N")
    return language, runnable, expected, frozenset(needs)


def _logical_lines(raw: Sequence[str]) -> tuple[str, ...]:
    lines: list[str] = []
    pending = ""
    for line in raw:
        stripped = line.strip() if pending else line.rstrip()
        if stripped.endswith("\\"):
            pending += stripped[:-1].rstrip() + " "
            continue
        full = (pending + stripped).strip()
        pending = ""
        if full and not full.startswith("#"):
            lines.append(full)
    if pending.strip():
        lines.append(pending.strip())
    return tuple(lines)


def extract_blocks(markdown: str) -> list[CommandBlock]:
    """Return every fenced code block of ``markdown`` in document order."""
    blocks: list[CommandBlock] = []
    opened: tuple[str, int] | None = None
    body: list[str] = []
    for number, line in enumerate(markdown.splitlines(), start=1):
        match = _FENCE.match(line)
        if opened is None:
            if match:
                opened, body = (match.group("info").strip(), number), []
            continue
        if line.strip() == "```":
            language, runnable, expected, needs = _parse_info(opened[0], opened[1])
            blocks.append(
                CommandBlock(language, _logical_lines(body), opened[1], runnable, expected, needs)
            )
            opened = None
        else:
            body.append(line)
    if opened is not None:
        raise RunbookError(f"line {opened[1]}: code block is never closed")
    return blocks


def _shell_tokens(line: str) -> list[str]:
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        return list(lexer)
    except ValueError as exc:
        raise RunbookError(f"cannot parse shell line {line!r}: {exc}") from exc


def commands_in_shell_line(line: str) -> list[tuple[str, ...]]:
    """Split a shell line at pipes and ``&&``; return the argv of each ``tradeguard`` command."""
    found: list[tuple[str, ...]] = []
    segment: list[str] = []
    tokens = [*_shell_tokens(line), ";"]
    skip_next = False
    for token in tokens:
        if skip_next:
            skip_next = False
        elif token in _REDIRECT:
            skip_next = True
        elif token in _CONTROL:
            words = list(itertools.dropwhile(_ASSIGNMENT.match, segment))
            if words and words[0] == PROGRAM:
                found.append(tuple(words[1:]))
            segment = []
        else:
            segment.append(token)
    return found


def _outside_fences(markdown: str) -> Iterator[tuple[int, str]]:
    inside = False
    for number, line in enumerate(markdown.splitlines(), start=1):
        if _FENCE.match(line) and (not inside or line.strip() == "```"):
            inside = not inside
            continue
        if not inside:
            yield number, line


def find_commands(markdown: str) -> list[CommandLine]:
    """Every ``tradeguard`` command of ``markdown``: block lines (strict) and inline spans."""
    found: list[CommandLine] = []
    for block in extract_blocks(markdown):
        if block.language not in ("bash", "sh", "shell", "console"):
            continue
        for line in block.lines:
            found.extend(
                CommandLine(line, argv, True, block.line_number)
                for argv in commands_in_shell_line(line)
            )
    for number, line in _outside_fences(markdown):
        for span in _INLINE_CODE.findall(line):
            text = span.replace("\\|", "|").strip()
            if text.startswith(PROGRAM + " "):
                try:
                    argv = shlex.split(text)[1:]
                except ValueError as exc:
                    raise RunbookError(f"line {number}: cannot parse {text!r}: {exc}") from exc
                found.append(CommandLine(text, tuple(argv), False, number))
    return found


def _alternatives(argv: Sequence[str]) -> list[tuple[str, ...]]:
    choices = [
        token.split("|") if "|" in token and not token.startswith("-") else [token]
        for token in argv
    ]
    return [tuple(combo) for combo in itertools.product(*choices)]


def resolve_path(root: CommandNode, argv: Sequence[str]) -> tuple[CommandNode, int]:
    """Walk ``argv`` down the command tree; return the command reached and tokens consumed."""
    command, used = root, 0
    while (children := subcommands(command)) is not None and used < len(argv):
        name = argv[used]
        if name.startswith("-"):
            break
        sub = children.get(name)
        if sub is None or sub.hidden:
            path = " ".join([PROGRAM, *argv[:used]])
            known = ", ".join(sorted(children)) or "none"
            raise RunbookError(f"`{path}` has no command {name!r} (it has: {known})")
        command, used = sub, used + 1
    return command, used


@dataclass(slots=True)
class _Parsed:
    options: set[str]
    positionals: list[str]


def _option_table(command: CommandNode) -> dict[str, TyperOption]:
    table: dict[str, TyperOption] = {}
    for param in command.params:
        if isinstance(param, TyperOption):
            for name in (*param.opts, *param.secondary_opts):
                table[name] = param
    return table


def _takes_value(option: TyperOption, name: str) -> bool:
    return not (option.is_flag or option.count or name in option.secondary_opts)


def _check_value(
    param: TyperOption | TyperArgument, value: str, where: str, *, strict: bool
) -> None:
    allowed = choices(param)
    if allowed is None or _PLACEHOLDER.match(value):
        return
    if not strict and _LOOSE_PLACEHOLDER.match(value):
        return
    if value not in allowed and value.upper() not in allowed:
        raise RunbookError(f"{where}: {value!r} is not one of {allowed}")


def _parse_tokens(
    command: CommandNode, tokens: Sequence[str], where: str, *, strict: bool
) -> _Parsed:
    options = _option_table(command)
    parsed = _Parsed(set(), [])
    index = 0
    while index < len(tokens):
        token = tokens[index]
        index += 1
        if token == "--help":
            parsed.options.add(token)
        elif token.startswith("-") and len(token) > 1 and token != "--":
            name, equals, value = token.partition("=")
            option = options.get(name)
            if option is None:
                known = ", ".join(sorted(options)) or "none"
                raise RunbookError(f"{where}: no option {name!r} (it has: {known})")
            parsed.options.add(option.name or name)
            if _takes_value(option, name) and not equals:
                if index >= len(tokens):
                    raise RunbookError(f"{where}: option {name} needs a value")
                value, index = tokens[index], index + 1
            if equals or _takes_value(option, name):
                _check_value(option, value, where, strict=strict)
        else:
            parsed.positionals.append(token)
    return parsed


def _arguments(command: CommandNode) -> list[TyperArgument]:
    return [p for p in command.params if isinstance(p, TyperArgument)]


def _check_arguments(
    command: CommandNode, positionals: list[str], where: str, *, strict: bool
) -> None:
    arguments = _arguments(command)
    unlimited = any(a.nargs < 0 for a in arguments)
    capacity = sum(max(a.nargs, 0) for a in arguments)
    if not unlimited and len(positionals) > capacity:
        raise RunbookError(f"{where}: unexpected argument(s) {positionals[capacity:]}")
    for argument, value in zip(arguments, positionals, strict=False):
        if argument.nargs == 1:
            _check_value(argument, value, where, strict=strict)


def _check_required(command: CommandNode, parsed: _Parsed, where: str) -> None:
    needed = sum(max(a.nargs, 1) for a in _arguments(command) if a.required)
    if len(parsed.positionals) < needed:
        raise RunbookError(f"{where}: missing argument(s), needs {needed}")
    for param in command.params:
        if isinstance(param, TyperOption) and param.required and param.name not in parsed.options:
            raise RunbookError(f"{where}: missing required option {param.opts[0]}")


def validate_argv(root: CommandNode, argv: Sequence[str], *, strict: bool) -> CommandNode:
    """Prove ``tradeguard <argv>`` names a real command with real options; return the command."""
    command: CommandNode = root
    for candidate in _alternatives(argv) if not strict else [tuple(argv)]:
        where = f"`{' '.join([PROGRAM, *candidate])}`"
        command, used = resolve_path(root, candidate)
        parsed = _parse_tokens(command, candidate[used:], where, strict=strict)
        if subcommands(command) is not None and "--help" not in parsed.options:
            raise RunbookError(f"{where}: names a command group, not a command")
        _check_arguments(command, parsed.positionals, where, strict=strict)
        if strict and "--help" not in parsed.options:
            _check_required(command, parsed, where)
    return command


def validate_markdown(root: CommandNode, markdown: str) -> list[CommandLine]:
    """Validate every command in ``markdown``; raise ``RunbookError`` naming the first bad one."""
    commands = find_commands(markdown)
    for found in commands:
        try:
            validate_argv(root, found.argv, strict=found.strict)
        except RunbookError as error:
            raise RunbookError(f"runbook line {found.line_number}: {error.message}") from error
    return commands
