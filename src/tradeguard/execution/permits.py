"""Permits: the only way an order reaches the executor (SPEC §5, policy supremacy).

The gate mints a ``Permit`` after the decision that allows the order is durably recorded. A
permit is bound to one correlation_id, intent, symbol, side, quantity and decision, carries
the seq of the durable decision row, is tagged with an HMAC under a per-process secret that
only the ``PermitAuthority`` holds, is good for one use, and expires within seconds. The
executor redeems it before sending anything; a forged, altered, reused or stale permit raises
``PermitError`` (PERMIT_INVALID) and nothing is sent.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import secrets
import threading
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Final

from ..codes import ErrorCode
from ..errors import PermitError
from ..policy import Clock, Decision, OrderIntent, Side, intent_permitted
from ..ports import OrderType

DEFAULT_PERMIT_TTL_SECONDS: Final = 5.0
BYPASS_DECISION: Final = "BYPASSED"
"""The decision a permit carries when the policy layer is disabled by configuration."""


@dataclass(frozen=True, slots=True)
class Permit:
    """Permission for exactly one order, minted by the gate after the durable record."""

    permit_id: str
    correlation_id: str
    intent: OrderIntent
    symbol: str
    side: Side
    quantity: Decimal
    order_type: OrderType
    price: Decimal | None
    decision: str
    decision_seq: int
    expires_at_monotonic: float
    tag: str

    def message(self) -> bytes:
        """Return the bytes the tag authenticates (every field but the tag)."""
        return "|".join(
            (
                self.permit_id,
                self.correlation_id,
                self.intent.value,
                self.symbol,
                self.side.value,
                str(self.quantity),
                self.order_type.value,
                "" if self.price is None else str(self.price),
                self.decision,
                str(self.decision_seq),
                repr(self.expires_at_monotonic),
            )
        ).encode("utf-8")


def _invalid(message: str) -> PermitError:
    return PermitError(
        ErrorCode.PERMIT_INVALID,
        message,
        hint="only the gate may mint permits; report this as a bug",
    )


class PermitAuthority:
    """Mints and redeems permits under a secret that never leaves this object.

    The gate and the executor share one authority; nothing else should hold it.
    """

    __slots__ = ("_clock", "_key", "_lock", "_numbers", "_prefix", "_redeemed", "_ttl")

    def __init__(self, clock: Clock, *, ttl_seconds: float = DEFAULT_PERMIT_TTL_SECONDS) -> None:
        self._clock = clock
        self._ttl = ttl_seconds
        self._key = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._redeemed: dict[str, float] = {}
        self._prefix = secrets.token_hex(6)
        self._numbers = itertools.count(1)

    def mint(
        self,
        *,
        correlation_id: str,
        intent: OrderIntent,
        symbol: str,
        side: Side,
        quantity: Decimal,
        decision: Decision | str,
        decision_seq: int,
        order_type: OrderType = OrderType.MARKET,
        price: Decimal | None = None,
    ) -> Permit:
        """Mint a permit for one order the recorded decision permits.

        Raises:
            PermitError: the decision does not permit the intent, or no durable record seq.
        """
        decision_text = str(decision)
        if decision_text != BYPASS_DECISION and not intent_permitted(Decision(decision), intent):
            raise _invalid(f"decision {decision_text} does not permit intent {intent.value}")
        if isinstance(decision_seq, bool) or decision_seq <= 0:
            raise _invalid("a permit needs the seq of the durable decision record")
        if not quantity.is_finite() or quantity <= 0:
            raise _invalid("a permit needs a positive quantity")
        unsigned = Permit(
            permit_id=f"{self._prefix}-{next(self._numbers)}",
            correlation_id=correlation_id,
            intent=intent,
            symbol=symbol,
            side=side,
            quantity=quantity,
            order_type=order_type,
            price=price,
            decision=decision_text,
            decision_seq=decision_seq,
            expires_at_monotonic=self._clock.monotonic() + self._ttl,
            tag="",
        )
        tag = hmac.new(self._key, unsigned.message(), hashlib.sha256).hexdigest()
        return replace(unsigned, tag=tag)

    def redeem(self, permit: object) -> Permit:
        """Check ``permit`` and mark it used; return it.

        Raises:
            PermitError: not a permit, forged or altered, expired, or already used.
        """
        if not isinstance(permit, Permit):
            raise _invalid(f"not a permit: {type(permit).__name__}")
        expected = hmac.new(self._key, permit.message(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, permit.tag):
            raise _invalid("permit tag does not verify (forged or altered)")
        now = self._clock.monotonic()
        if now > permit.expires_at_monotonic:
            raise _invalid("permit expired")
        with self._lock:
            if permit.permit_id in self._redeemed:
                raise _invalid("permit already used")
            self._redeemed[permit.permit_id] = permit.expires_at_monotonic
            if len(self._redeemed) > 4096:
                self._forget_expired(now)
        return permit

    def _forget_expired(self, now: float) -> None:
        # An expired permit fails the expiry check anyway, so its id need not be kept.
        for permit_id in [pid for pid, until in self._redeemed.items() if until < now]:
            del self._redeemed[permit_id]


__all__ = ["BYPASS_DECISION", "DEFAULT_PERMIT_TTL_SECONDS", "Permit", "PermitAuthority"]
