"""``tradeguard evaluate``: one context as JSON in, the decision as JSON out."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from ..codes import ErrorCode
from ..errors import InvalidInputError
from ..policy import PolicyContext, TradePermissionPolicy
from .common import handled, print_json


@handled
def evaluate(
    context_json: Annotated[
        str | None, typer.Argument(help="Context JSON; read from stdin when absent.")
    ] = None,
) -> None:
    """Evaluate one policy context (no latch history) and print the decision as JSON."""
    text = context_json if context_json is not None else sys.stdin.read()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(
            ErrorCode.INPUT_INVALID_JSON, f"context is not valid JSON: {exc.msg}", field="context"
        ) from exc
    context = PolicyContext.from_mapping(data)
    decision = TradePermissionPolicy().evaluate(context)
    print_json({**decision.to_dict(), "correlation_id": context.correlation_id})


def register(app: typer.Typer) -> None:
    """Add ``evaluate`` to ``app``."""
    app.command("evaluate")(evaluate)
