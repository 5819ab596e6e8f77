"""After the durable write: HALT's cancels, the refusal's answer, the permit, the order.

Once a signal's rows are durable, :class:`Settler` acts on the decision: a HALT cancels the
resting orders (on the way into HALT, or when some still rest), a refused signal is answered,
and a permitted one gets the permit the executor needs (minted only now, so write-ahead holds)
and its order placed. The decide API's path stops before the permit: the reservation is handed
back to the caller instead.
"""

from __future__ import annotations

from ..codes import ErrorCode
from ..errors import PermitError
from ..logging import get_logger
from ..policy import Decision
from .answers import answer, executed_answer, permit_failed_answer
from .deciding import Prepared
from .decisions import Decided
from .executor import Executor
from .permits import Permit, PermitAuthority
from .positions import PositionBook
from .results import ExecutionReport, SignalOutcome, SignalResult

_log = get_logger("tradeguard.gate")


class Settler:
    """Act on recorded decisions: cancels on HALT, answers, permits and orders.

    Args:
        executor: Places the permitted orders and cancels the resting ones.
        authority: Mints permits (shared with the executor).
        positions: The position book whose reservation a failed permit releases.
        policy_enabled: False marks the answers as policy bypassed.
    """

    __slots__ = ("_authority", "_bypassed", "_executor", "_halt_seen", "_positions")

    def __init__(
        self,
        *,
        executor: Executor,
        authority: PermitAuthority,
        positions: PositionBook,
        policy_enabled: bool,
    ) -> None:
        self._executor = executor
        self._authority = authority
        self._positions = positions
        self._bypassed = not policy_enabled
        self._halt_seen = False

    def finish(self, prepared: Prepared, seqs: list[int]) -> SignalResult:
        """Settle ``prepared`` (recorded as ``seqs``) and place its order when permitted."""
        step = self.after_write(prepared, seqs)
        if isinstance(step, SignalResult):
            return step
        permit, codes = step
        try:
            report = self._executor.execute(permit, prepared.reservation)
        except PermitError as exc:  # a bug, never a trade: reported, nothing was sent
            return self.permit_failed(prepared, codes, exc)
        return self.executed(prepared, codes, report)

    def held(self, prepared: Prepared, _seqs: list[int]) -> Decided:
        """Settle ``prepared`` for the decide API: the answer, and the reservation it keeps."""
        step = self.settle(prepared)
        if isinstance(step, SignalResult):
            return Decided(step, None)
        result = answer(prepared, SignalOutcome.ACCEPTED, step, bypassed=self._bypassed)
        return Decided(result, prepared.reservation)

    def after_write(
        self, prepared: Prepared, seqs: list[int]
    ) -> SignalResult | tuple[Permit, tuple[str, ...]]:
        """Return the answer of a refused signal, or the permit (and codes) of an order."""
        step = self.settle(prepared)
        if isinstance(step, SignalResult):
            return step
        try:
            return self._mint(prepared, seqs), step
        except PermitError as exc:  # a bug, never a trade: reported, nothing was sent
            return self.permit_failed(prepared, step, exc)

    def settle(self, prepared: Prepared) -> SignalResult | tuple[str, ...]:
        """Cancel on HALT; return the refusal's answer, or the codes of a permitted signal."""
        signal, correlation_id, verdict = prepared.signal, prepared.correlation_id, prepared.verdict
        refusal = prepared.refusal
        if verdict.decision.decision is Decision.HALT:
            self._on_halt(correlation_id)
        else:
            self._halt_seen = False
        codes = verdict.codes + ((refusal,) if refusal else ())
        if prepared.override:
            codes += (ErrorCode.AI_CONFIDENCE_OVERRIDE_BLOCKED.value,)
            _log.warning(
                "ai_confidence_override_blocked",
                code=ErrorCode.AI_CONFIDENCE_OVERRIDE_BLOCKED.value,
                correlation_id=correlation_id,
                ai_confidence=str(signal.ai_confidence),
                reason_code=verdict.reason_code,
            )
        if refusal is not None:
            _log.info(
                "signal_refused",
                code=refusal,
                correlation_id=correlation_id,
                decision=verdict.label,
                reason_code=verdict.reason_code,
            )
            return answer(
                prepared, SignalOutcome.REFUSED, codes, bypassed=self._bypassed, refusal=refusal
            )
        return codes

    def permit_failed(
        self, prepared: Prepared, codes: tuple[str, ...], exc: PermitError
    ) -> SignalResult:
        """Release the reservation of ``prepared`` and answer its failed permit (ERROR)."""
        self._positions.release(prepared.reservation)
        return permit_failed_answer(prepared, codes, exc, bypassed=self._bypassed)

    def executed(
        self, prepared: Prepared, codes: tuple[str, ...], report: ExecutionReport
    ) -> SignalResult:
        """Answer ``prepared`` whose order the executor handled as ``report`` says."""
        return executed_answer(prepared, codes, report, bypassed=self._bypassed)

    def _mint(self, prepared: Prepared, seqs: list[int]) -> Permit:
        # The order leaves as the position book reserved it: quantity (and LIMIT price) fitted
        # to the symbol's rules by the order controls.
        signal, verdict, held = prepared.signal, prepared.verdict, prepared.reservation
        return self._authority.mint(
            correlation_id=prepared.correlation_id,
            intent=signal.intent,
            symbol=signal.symbol,
            side=signal.side,
            quantity=signal.quantity if held is None else held.quantity,
            decision=verdict.label,
            decision_seq=seqs[1] if verdict.record is not None else seqs[0],
            order_type=signal.order_type,
            price=signal.price if held is None else held.price,
        )

    def _on_halt(self, correlation_id: str) -> None:
        # HALT: resting orders are cancelled (on the way into HALT, or when some still rest).
        if not self._halt_seen or self._executor.resting_count() > 0:
            self._halt_seen = True
            self._executor.cancel_all_resting(correlation_id)


__all__ = ["Settler"]
