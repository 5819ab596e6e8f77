"""What every CLI command shares: error reporting with codes and exit codes, output helpers.

Exit codes (SPEC §7): 0 ok, 1 a check failed, 2 usage or configuration error, 3 a dependency is
unavailable, 4 integrity violation.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, NoReturn, ParamSpec, TypeVar

import typer

from ..codes import describe
from ..errors import TradeGuardError

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3
EXIT_INTEGRITY = 4

P = ParamSpec("P")
R = TypeVar("R")


def fail(error: TradeGuardError) -> NoReturn:
    """Print ``error`` with its code and what to do, then exit with its exit code."""
    hint = error.hint
    if hint is None:
        try:
            hint = describe(error.code).action
        except KeyError:
            hint = None
    line = {"error": error.code, "message": error.message}
    field = getattr(error, "field", None)
    if field:
        line["field"] = field
    if hint:
        line["action"] = hint
    typer.echo(json.dumps(line), err=True)
    raise typer.Exit(error.exit_code)


def handled(func: Callable[P, R]) -> Callable[P, R]:
    """Turn ``TradeGuardError`` raised by a command into its coded line and exit code."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except TradeGuardError as error:
            fail(error)

    return wrapper


def print_json(data: Any) -> None:
    """Print ``data`` as one JSON document on stdout."""
    sys.stdout.write(json.dumps(data, default=str, sort_keys=True) + "\n")
