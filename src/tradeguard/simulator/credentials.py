"""The revoked-credentials scenario: the exchange rejects the API keys from one moment on.

The exchange simulator's ``auth_fail`` fault answers every signed route as the venue does for
revoked keys (VALR 401). Expected: HALT, latched, with the kill switch engaged once by
``system:exchange-account`` with ``EXCHANGE_AUTH_FAILED`` (recorded in ``operator_audit``),
the ``exchange_account`` health check reporting ``EXCHANGE_AUTH_FAILED``, no new-risk order
reaching the exchange after the fault, and the HALT still holding after the keys work again
(longer than the re-validation window): only an operator ends it.
"""

from __future__ import annotations

import time

from ..audit.records import AuditTable
from ..codes import ErrorCode
from ..sources.account import ACCOUNT_ACTOR
from . import assertions as rules
from .results import AssertionResult, ScenarioAbortedError, SystemState
from .run import ScenarioRun


def auth_revoked(run: ScenarioRun, duration_s: float) -> None:
    """Revoke the API keys for at least ``duration_s``, then restore them."""
    if duration_s <= 0:
        raise ScenarioAbortedError(f"duration_s must be > 0, got {duration_s}")
    run.expected_state = SystemState.HALT.value
    injected = run.inject("API keys revoked", lambda: run.control.set_faults({"auth_fail": True}))
    # ``injected`` is stamped just before the fault is set; an OPEN sent in between may still
    # execute with working keys. From here on the exchange refuses every signed call.
    in_force = time.monotonic()
    run.detect(SystemState.HALT, injected)
    remaining = duration_s - (time.monotonic() - injected)
    time.sleep(max(remaining, run.limits.hold_s))
    now = time.monotonic()
    run.add(
        run.check_reported(
            "exchange_auth_failed_reported",
            "exchange_account",
            ErrorCode.EXCHANGE_AUTH_FAILED,
            injected,
            now,
            "the exchange_account health check reports EXCHANGE_AUTH_FAILED",
        )
    )
    accepted = run.new_risk_accepted_after(in_force)
    run.add(
        rules.check(
            "no_new_risk_after_revocation",
            accepted == 0,
            "no OPEN executed after the keys were revoked",
            f"{accepted} executed",
            "no new-risk order reaches the exchange once the keys are rejected",
        )
    )
    run.add(_auth_lock_recorded(run))
    restored = run.recover("API keys restored", run.control.clear_faults)
    window = run.pipeline.timings.latch_reset_window_seconds
    time.sleep(window + run.limits.hold_s)
    latest = run.observer.latest()
    held = latest is not None and latest.state is SystemState.HALT and latest.is_latched
    run.add(
        rules.check(
            "halt_latched_after_keys_restored",
            held and run.worst_between(restored, time.monotonic()) is SystemState.HALT,
            f"HALT latched for longer than the {window:g} s re-validation window",
            "no reading" if latest is None else f"{latest.state} latched={latest.is_latched}",
            "a credentials rejection latches HALT until an operator resets it",
        )
    )
    run.actual_state = run.worst_between(injected, time.monotonic())


def _auth_lock_recorded(run: ScenarioRun) -> AssertionResult:
    store = run.pipeline.require().audit_store
    rows = [
        row
        for row in store.rows(AuditTable.OPERATOR)
        if ACCOUNT_ACTOR in str(row) and ErrorCode.EXCHANGE_AUTH_FAILED in str(row)
    ]
    return rules.check(
        "auth_lock_recorded",
        len(rows) == 1,
        "one operator_audit row by system:exchange-account with EXCHANGE_AUTH_FAILED",
        f"{len(rows)} rows",
        "the rejected keys engage the kill switch once, recorded in operator_audit",
    )


__all__ = ["auth_revoked"]
