"""Property 14 (monotonic severity) as a Hypothesis state machine.

A model tracks the latch as SPEC §2.2 describes it; the real policy must agree with the model
on every step, and after a HALT no sequence of contexts yields ALLOW without a reset or a full
all-pass window.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from tradeguard.clock import FakeClock
from tradeguard.policy import Decision, InMemoryLatchStore, PolicyReasonCode, TradePermissionPolicy

from ...policy_factories import contexts, new_id

WINDOW = 60.0


class LatchMachine(RuleBasedStateMachine):
    @initialize()
    def start(self):
        self.clock = FakeClock()
        self.store = InMemoryLatchStore()
        self.policy = TradePermissionPolicy(WINDOW, clock=self.clock, latch_store=self.store)
        self.latched = False
        self.window_start = None
        self.last = None

    @rule(ctx=contexts())
    def evaluate(self, ctx):
        got = self.policy.evaluate(ctx)
        fresh = TradePermissionPolicy(clock=FakeClock()).evaluate(ctx)
        now = self.clock.now()
        if fresh.decision is Decision.HALT:
            self.latched, self.window_start = True, None
            assert got.decision is Decision.HALT and got.is_latched
            assert got.reason_code is fresh.reason_code
        elif not self.latched:
            assert got == fresh
            assert got.decision is not Decision.HALT or fresh.decision is Decision.HALT
        elif fresh.decision is Decision.NEUTRAL:
            self.window_start = None
            assert got.reason_code is PolicyReasonCode.HALT_LATCHED
        else:  # all gates pass while latched
            if self.window_start is None:
                self.window_start = now
            if now - self.window_start >= timedelta(seconds=WINDOW):
                self.latched, self.window_start = False, None
                assert got.decision is Decision.ALLOW
            else:
                assert got.reason_code is PolicyReasonCode.HALT_LATCHED
                assert got.decision is Decision.HALT
        if got.decision is Decision.NEUTRAL:
            assert not got.is_latched
        self.last = got

    @rule(seconds=st.sampled_from([0.5, 1, 10, 30, 59.9, 60, 61, 120]))
    def wait(self, seconds):
        self.clock.advance(seconds)

    @rule()
    def reset(self):
        self.policy.reset_policy_latch(new_id(), "operator-1", "drill")
        self.latched, self.window_start = False, None

    @invariant()
    def latch_agrees_with_model(self):
        if hasattr(self, "policy"):
            assert self.policy.is_latched() == self.latched


TestMonotonicSeverity = LatchMachine.TestCase
TestMonotonicSeverity.settings = settings(max_examples=200, stateful_step_count=30, deadline=None)
