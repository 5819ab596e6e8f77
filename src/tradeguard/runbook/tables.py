"""The runbook's generated parts: environment, exit code, code and command reference tables.

Everything here is read from the running code (the settings model, ``codes.py``, the CLI's exit
code constants and its click tree) and never from the environment, so the text is the same on
every machine.
"""

from __future__ import annotations

import json
import sys
import typing
from collections.abc import Iterable, Sequence
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from typer.core import TyperArgument, TyperOption

from ..cli import common
from ..codes import CODE_INFO, ErrorCode, PolicyReasonCode
from ..errors import LiveModeRefusedError
from ..settings import (
    CONFIG_ENV,
    ENV_PREFIX,
    META_VARIABLES,
    ExecutionMode,
    Settings,
    check_live_preconditions,
)
from .commands import PROGRAM, CommandNode, RunbookError, choices, subcommands

# What each exit code constant of ``cli/common.py`` means to an operator.
EXIT_MEANINGS = {
    "EXIT_OK": "ok: the command did what it says",
    "EXIT_CHECK_FAILED": "a check failed (broken chain, failed scenario, drift out of tolerance)",
    "EXIT_USAGE": "usage or configuration error: fix the command line or the named setting",
    "EXIT_UNAVAILABLE": "a dependency is unavailable (database, exchange, service): retry later",
    "EXIT_INTEGRITY": "integrity violation (audit tampering): stop and treat as an incident",
}

# Variables that share the prefix but are not settings (``settings.META_VARIABLES``).
META_MEANINGS = {
    CONFIG_ENV: "Path of a TOML file with settings (keys without the prefix); "
    "environment variables override it.",
    "TRADEGUARD_TEST_DATABASE_URL": "Test suite only: PostgreSQL URL for the integration tests.",
    "TRADEGUARD_REQUIRE_POSTGRES": "Test suite only: `1` makes a missing PostgreSQL a failure.",
    "TRADEGUARD_REQUIRE_BROWSER": "Test suite only: `1` makes a missing headless Chromium "
    "(the dashboard's browser tests) a failure.",
    "TRADEGUARD_URL": "Read by bots, not the service: the base URL the freqtrade mixin asks "
    "(`tradeguard.integrations.freqtrade`).",
    "TRADEGUARD_DECIDE_TIMEOUT_SECONDS": "Read by bots, not the service: seconds the freqtrade "
    "mixin waits for a decision before refusing (default 2).",
    "TRADEGUARD_REQUIRE_FREQTRADE": "Test suite only: `1` makes a missing `.venv-freqtrade` a "
    "failure (so does CI=true).",
}

REQUIRED_ALWAYS = "yes"
REQUIRED_LIVE = "in LIVE"
RECOMMENDED_LIVE = "recommended in LIVE"


def cell(text: str) -> str:
    """Make ``text`` safe inside one Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Render a Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines.extend("| " + " | ".join(cell(c) for c in row) + " |" for row in rows)
    return "\n".join(lines)


def env_name(field_name: str) -> str:
    """The environment variable of a settings field."""
    return ENV_PREFIX + field_name.upper()


def is_secret(field: FieldInfo) -> bool:
    """True when the field holds a secret (``SecretStr``)."""
    annotation = field.annotation
    return annotation is SecretStr or SecretStr in typing.get_args(annotation)


def _default_text(field: FieldInfo) -> str:
    value = field.default
    if value is PydanticUndefined:
        return "(none: must be set)"
    if value is None:
        return "(unset)"
    if is_secret(field):
        return "(hidden)"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple | list):
        return json.dumps(list(value))
    if isinstance(value, Decimal | int | float | str | Path):
        return str(value)
    raise RunbookError(f"cannot show the default of type {type(value).__name__}")


def _verify_text(name: str, field: FieldInfo) -> str:
    extra = field.json_schema_extra
    if isinstance(extra, dict) and isinstance(extra.get("verify"), str):
        return str(extra["verify"])
    if is_secret(field):
        return f'`test -n "${env_name(name)}" && echo set`; never echo the value'
    return f"`printenv {env_name(name)}` (empty: the default applies)"


def _dummy(field: FieldInfo) -> Any:
    if is_secret(field):
        return SecretStr("set")
    if Path in typing.get_args(field.annotation):
        return Path("set")
    return "set"


def _live_baseline() -> dict[str, Any]:
    values: dict[str, Any] = {
        name: _dummy(field) if field.default is None else field.default
        for name, field in Settings.model_fields.items()
        if field.default is not PydanticUndefined
    }
    values.update(execution_mode=ExecutionMode.LIVE, exchange="valr")
    return values


def _probe(values: dict[str, Any]) -> list[str] | None:
    # model_construct skips validation and the environment: the probe sees only ``values``.
    try:
        return check_live_preconditions(Settings.model_construct(**values))
    except LiveModeRefusedError:
        return None


def live_requirements() -> dict[str, str]:
    """Ask ``check_live_preconditions`` which settings LIVE refuses or warns about at default."""
    baseline = _live_baseline()
    base_warnings = _probe(baseline)
    if base_warnings is None or base_warnings:
        raise RunbookError("a fully configured LIVE settings set is refused; cannot probe")
    found: dict[str, str] = {}
    for name, field in Settings.model_fields.items():
        if field.default is PydanticUndefined:
            found[name] = REQUIRED_ALWAYS
            continue
        if name == "execution_mode":
            continue
        probes = [field.default]
        if isinstance(field.default, bool):
            probes.append(not field.default)
        for value in probes:
            warnings = _probe({**baseline, name: value})
            if warnings is None:
                found[name] = (
                    REQUIRED_LIVE
                    if value is field.default
                    else f"in LIVE: keep {_bool_text(field.default)}"
                )
                break
            if warnings:
                found[name] = RECOMMENDED_LIVE
    return found


def _bool_text(value: object) -> str:
    return "true" if value is True else "false" if value is False else str(value)


def environment_table() -> str:
    """One row per settings field: name, required, secret, default, meaning, how to verify."""
    required = live_requirements()
    rows = [
        (
            f"`{env_name(name)}`",
            required.get(name, "no"),
            "yes" if is_secret(field) else "no",
            f"`{_default_text(field)}`",
            field.description or "",
            _verify_text(name, field),
        )
        for name, field in Settings.model_fields.items()
    ]
    return table(("variable", "required", "secret", "default", "meaning", "how to verify"), rows)


def meta_table() -> str:
    """Variables with the prefix that are not settings."""
    missing = sorted(META_VARIABLES - set(META_MEANINGS))
    if missing:
        raise RunbookError(f"no meaning written for {missing}", hint="add it to META_MEANINGS")
    return table(
        ("variable", "meaning"), [(f"`{n}`", META_MEANINGS[n]) for n in sorted(META_VARIABLES)]
    )


def live_refusals() -> str:
    """Bullet list of the settings without which LIVE refuses to start, or only warns."""
    required = live_requirements()
    fields = Settings.model_fields
    lines = []
    for name, verdict in required.items():
        variable = f"`{env_name(name)}`"
        if verdict == REQUIRED_ALWAYS:
            lines.append(f"- {variable} must always be set.")
        elif verdict == REQUIRED_LIVE:
            default = _default_text(fields[name])
            lines.append(
                f"- {variable}: LIVE refuses to start (`LIVE_MODE_REFUSED`, exit 2) "
                f"while it is at its default `{default}`."
            )
        elif verdict != RECOMMENDED_LIVE:
            lines.append(
                f"- {variable}: LIVE refuses to start unless it is `{_default_text(fields[name])}`."
            )
    lines.extend(
        f"- `{env_name(name)}`: when unset, LIVE starts with a warning and the safeguard shows "
        "`NOT_CONFIGURED` in status: it is not enforced."
        for name, verdict in required.items()
        if verdict == RECOMMENDED_LIVE
    )
    return "\n".join(lines)


def exit_code_table() -> str:
    """The CLI's exit codes, from the constants in ``cli/common.py``."""
    constants = sorted(
        (getattr(common, name), name) for name in dir(common) if name.startswith("EXIT_")
    )
    missing = [name for _, name in constants if name not in EXIT_MEANINGS]
    if missing:
        raise RunbookError(f"no meaning written for exit code {missing}")
    return table(("exit code", "meaning"), [(str(v), EXIT_MEANINGS[n]) for v, n in constants])


def _code_rows(codes: Iterable[str]) -> list[tuple[str, str, str]]:
    rows = []
    for code in codes:
        info = CODE_INFO.get(code)
        if info is None:
            raise RunbookError(f"code {code} has no entry in CODE_INFO")
        rows.append((f"`{code}`", info.meaning, info.action))
    return rows


def reason_code_table() -> str:
    """Every policy reason code with its meaning and the operator's action."""
    rows = _code_rows(c.value for c in PolicyReasonCode)
    return table(("reason code", "meaning", "operator action"), rows)


def error_code_table() -> str:
    """Every other code with its meaning and the operator's action."""
    rows = _code_rows(c.value for c in ErrorCode)
    return table(("code", "meaning", "operator action"), rows)


def _leaves(command: CommandNode, path: tuple[str, ...]) -> list[tuple[str, CommandNode]]:
    children = subcommands(command)
    if children is None:
        return [(" ".join(path), command)]
    found: list[tuple[str, CommandNode]] = []
    for name in sorted(children):
        if not children[name].hidden:
            found.extend(_leaves(children[name], (*path, name)))
    return found


def _metavar(param: TyperOption | TyperArgument) -> str:
    allowed = choices(param)
    if allowed is not None:
        return "|".join(allowed)
    if param.metavar:
        return str(param.metavar)
    annotation = param.type_descriptor.annotation
    name = getattr(annotation, "__name__", None) or str(annotation)
    return {"str": "TEXT", "int": "INTEGER", "float": "NUMBER", "Path": "PATH"}.get(
        name, name.upper()
    )


def _param_line(param: TyperOption | TyperArgument) -> str:
    help_text = " ".join((param.help or "").split())
    if isinstance(param, TyperOption):
        names = ", ".join(f"`{n}`" for n in (*param.opts, *param.secondary_opts))
        value = "" if param.is_flag or param.count else f" {_metavar(param)}"
        required = " (required)" if param.required else ""
        line = f"- {names}{value}{required}"
    else:
        optional = "" if param.required else " (optional)"
        line = f"- argument `{(param.name or '').upper()}`{optional}"
    return f"{line}: {help_text}" if help_text else line


def exit_note(path: str, command: CommandNode) -> str | None:
    """The exit-code paragraph the command's module docstring documents for it, if any."""
    callback = getattr(command, "callback", None)
    module = sys.modules.get(getattr(callback, "__module__", "") or "")
    subpath = path.removeprefix(PROGRAM + " ")
    for paragraph in (module.__doc__ or "").split("\n\n") if module else ():
        text = " ".join(paragraph.split())
        own = f"``{subpath}`` exit codes:"
        if text.startswith("Exit codes:") or text.startswith(own):
            return "Exit codes:" + text.split("exit codes:", 1)[-1].split("Exit codes:", 1)[-1]
    return None


def command_reference(root: CommandNode) -> str:
    """Every command of the CLI with its summary, options and arguments."""
    sections = []
    for path, command in _leaves(root, (PROGRAM,)):
        summary = " ".join((command.help or "").strip().split("\n\n")[0].split())
        lines = [f"### `{path}`", "", summary or "(no help text)", ""]
        note = exit_note(path, command)
        if note:
            lines[-1:] = ["", note.replace("``", "`"), ""]
        lines.extend(
            _param_line(p)
            for p in command.params
            if isinstance(p, TyperOption | TyperArgument) and p.name != "help" and not p.hidden
        )
        sections.append("\n".join(lines).rstrip())
    return "\n\n".join(sections)
