"""``tradeguard runbook generate [--out FILE]``: write the LIVE trading runbook from the code."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ..codes import ErrorCode
from ..errors import InvalidInputError
from .common import handled

runbook_app = typer.Typer(help="The generated LIVE trading runbook.", no_args_is_help=True)


@runbook_app.command("generate")
@handled
def generate(
    ctx: typer.Context,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write to this file instead of stdout.")
    ] = None,
) -> None:
    """Generate the runbook from the running code; refuse if it names a missing command."""
    from ..runbook import generate_runbook

    # The tree of the CLI this command runs in: passed in, not imported (no import circle).
    text = generate_runbook(ctx.find_root().command)
    if out is None:
        sys.stdout.write(text)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError(
            ErrorCode.INPUT_INVALID_VALUE, f"cannot write {out}: {exc.strerror}", field="--out"
        ) from exc


def register(app: typer.Typer) -> None:
    """Add ``tradeguard runbook generate`` to ``app``."""
    app.add_typer(runbook_app, name="runbook")
