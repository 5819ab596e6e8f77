"""``tradeguard decide``: ask the running service's decide API; no order is sent.

The options are those of ``tradeguard signal send``; the body is signed with
``TRADEGUARD_WEBHOOK_SECRET`` the same way. Exit codes: 0 permitted (the answer carries the
``permit_id`` to report the order with), 1 refused, 2 the request was refused as invalid or
unauthenticated (4xx), 3 the service is unreachable or answered 503.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from .common import handled
from .service import (
    ConfidenceOption,
    IntentOption,
    OrderTypeOption,
    PriceOption,
    QuantityOption,
    SideOption,
    SignalIdOption,
    SymbolOption,
    answer_exit_code,
    send_cli_signal,
)

DEFAULT_DECIDE_URL = "http://127.0.0.1:8080/v1/decide"


def _exit_code(status_code: int, answer: dict[str, Any]) -> int:
    return answer_exit_code(status_code, went=answer.get("permitted") is True)


@handled
def decide(
    symbol: SymbolOption,
    side: SideOption,
    quantity: QuantityOption,
    intent: IntentOption = "OPEN",
    url: Annotated[str, typer.Option(help="Decide API URL.")] = DEFAULT_DECIDE_URL,
    order_type: OrderTypeOption = None,
    price: PriceOption = None,
    ai_confidence: ConfidenceOption = None,
    signal_id: SignalIdOption = None,
) -> None:
    """Ask the gate about an intent (recorded, nothing sent); print the answer JSON."""
    extra = {
        "order_type": order_type,
        "price": price,
        "ai_confidence": ai_confidence,
        "signal_id": signal_id,
    }
    status_code, answer = send_cli_signal(url, symbol, side, intent, quantity, extra)
    code = _exit_code(status_code, answer)
    if code:
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Add ``decide`` to ``app``."""
    app.command("decide")(decide)
