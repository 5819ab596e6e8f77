"""Permits: the only way an order reaches the executor (SPEC §5, policy supremacy).

The gate mints a ``Permit`` after the decision that allows the order is durably recorded. A
permit is bound to one correlation_id, intent, symbol, side, quantity and decision, carries
the seq of the durable decision row, is good for one use, and expires within seconds.

Permits are unforgeable by construction rather than by a signature: the ``PermitAuthority``
keeps every permit it minted and has not yet redeemed in a private registry, keyed by its
``permit_id``, together with a snapshot of the fields it was minted with. ``redeem`` takes the
entry out of the registry (so a permit works once) and accepts the permit only when it is the
very object that was minted (identity, not equality) and its fields still equal the snapshot.
A ``Permit`` built by anyone else, a copy made with ``dataclasses.replace``, a permit of
another authority, one altered in place, a reused or a stale one raises ``PermitError``
(PERMIT_INVALID) and nothing is sent. The registry never leaves the process, so the guarantee
is the one an HMAC under a per-process secret gave, at a fraction of the cost per order.
"""

from __future__ import annotations

import itertools
import secrets
import threading
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from ..codes import ErrorCode
from ..errors import PermitError
from ..policy import Clock, Decision, OrderIntent, Side, intent_permitted
from ..ports import OrderType

DEFAULT_PERMIT_TTL_SECONDS: Final = 5.0
BYPASS_DECISION: Final = "BYPASSED"
"""The decision a permit carries when the policy layer is disabled by configuration."""

_SWEEP_ABOVE: Final = 1024
"""Outstanding permits beyond which expired ones are dropped from the registry."""

_DECISIONS: Final = {member.value: member for member in Decision}


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

    def bound_fields(self) -> tuple[object, ...]:
        """Return every field the permit is bound to (what redeeming compares)."""
        return (
            self.permit_id,
            self.correlation_id,
            self.intent,
            self.symbol,
            self.side,
            self.quantity,
            self.order_type,
            self.price,
            self.decision,
            self.decision_seq,
            self.expires_at_monotonic,
        )


def _invalid(message: str) -> PermitError:
    return PermitError(
        ErrorCode.PERMIT_INVALID,
        message,
        hint="only the gate may mint permits; report this as a bug",
    )


class PermitAuthority:
    """Mints and redeems permits through a registry that never leaves this object.

    The gate and the executor share one authority; nothing else should hold it.
    """

    __slots__ = ("_clock", "_lock", "_numbers", "_outstanding", "_prefix", "_ttl")

    def __init__(self, clock: Clock, *, ttl_seconds: float = DEFAULT_PERMIT_TTL_SECONDS) -> None:
        self._clock = clock
        self._ttl = ttl_seconds
        self._lock = threading.Lock()
        # permit_id -> (the minted object, its fields at minting); insertion order is expiry
        # order, because every permit lives for the same ttl on a monotonic clock.
        self._outstanding: dict[str, tuple[Permit, tuple[object, ...]]] = {}
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
        if decision_text != BYPASS_DECISION:
            member = _DECISIONS.get(decision_text)
            if member is None or not intent_permitted(member, intent):
                raise _invalid(f"decision {decision_text} does not permit intent {intent.value}")
        if isinstance(decision_seq, bool) or decision_seq <= 0:
            raise _invalid("a permit needs the seq of the durable decision record")
        if not quantity.is_finite() or quantity <= 0:
            raise _invalid("a permit needs a positive quantity")
        permit = Permit(
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
        )
        with self._lock:
            self._outstanding[permit.permit_id] = (permit, permit.bound_fields())
            if len(self._outstanding) > _SWEEP_ABOVE:
                self._sweep(self._clock.monotonic())
        return permit

    def redeem(self, permit: object) -> Permit:
        """Check ``permit`` and mark it used; return it.

        Raises:
            PermitError: not a permit, forged or altered, expired, or already used.
        """
        if not isinstance(permit, Permit):
            raise _invalid(f"not a permit: {type(permit).__name__}")
        with self._lock:
            entry = self._outstanding.get(permit.permit_id)
            if entry is None or entry[0] is not permit:
                raise _invalid(
                    "permit not minted by this authority, or already used (forged or reused)"
                )
            del self._outstanding[permit.permit_id]
        if permit.bound_fields() != entry[1]:
            raise _invalid("permit altered after minting")
        if self._clock.monotonic() > permit.expires_at_monotonic:
            raise _invalid("permit expired")
        return permit

    def outstanding(self) -> int:
        """Return how many minted permits are neither redeemed nor swept yet."""
        with self._lock:
            return len(self._outstanding)

    def _sweep(self, now: float) -> None:
        # Oldest first; stop at the first one still valid (the rest expire later).
        outstanding = self._outstanding
        while outstanding:
            oldest = next(iter(outstanding))
            if outstanding[oldest][0].expires_at_monotonic >= now:
                return
            del outstanding[oldest]


__all__ = ["BYPASS_DECISION", "DEFAULT_PERMIT_TTL_SECONDS", "Permit", "PermitAuthority"]
