"""``tradeguard decide``: ask the running service's decide API; no order is sent.

The options are those of ``tradeguard signal send``; the body is signed with
``TRADEGUARD_WEBHOOK_SECRET`` the same way. Exit codes: 0 permitted (the answer carries the
``permit_id`` to report the order with), 1 refused, 2 the request was refused as invalid or
unauthenticated (4xx), 3 the service is unreachable or answered 503.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from .common import EXIT_CHECK_FAILED, EXIT_UNAVAILABLE, EXIT_USAGE, handled
from .service import _signal_body, send_signed

DEFAULT_DECIDE_URL = "http://127.0.0.1:8080/v1/decide"


def _exit_code(status_code: int, answer: dict[str, Any]) -> int:
    if status_code == 200:
        return 0 if answer.get("permitted") is True else EXIT_CHECK_FAILED
    if status_code >= 500:
        return EXIT_UNAVAILABLE
    return EXIT_USAGE


@handled
def decide(
    symbol: Annotated[str, typer.Option(help="Symbol, e.g. BTCUSDT.")],
    side: Annotated[str, typer.Option(help="BUY or SELL.")],
    quantity: Annotated[str, typer.Option(help="Decimal quantity.")],
    intent: Annotated[str, typer.Option(help="OPEN, INCREASE, REDUCE, CLOSE, ...")] = "OPEN",
    url: Annotated[str, typer.Option(help="Decide API URL.")] = DEFAULT_DECIDE_URL,
    order_type: Annotated[str | None, typer.Option(help="MARKET or LIMIT.")] = None,
    price: Annotated[str | None, typer.Option(help="Limit price.")] = None,
    ai_confidence: Annotated[str | None, typer.Option(help="0-100, recorded only.")] = None,
    signal_id: Annotated[str | None, typer.Option(help="Idempotency key (generated).")] = None,
) -> None:
    """Ask the gate about an intent (recorded, nothing sent); print the answer JSON."""
    extra = {
        "order_type": order_type,
        "price": price,
        "ai_confidence": ai_confidence,
        "signal_id": signal_id,
    }
    status_code, answer = send_signed(url, _signal_body(symbol, side, intent, quantity, extra))
    code = _exit_code(status_code, answer)
    if code:
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Add ``decide`` to ``app``."""
    app.command("decide")(decide)
