"""Kill switch state machine: whatever operators do and however the store fails, the context
shows the kill switch engaged whenever it is engaged or its state cannot be read."""

from __future__ import annotations

import uuid

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from tests.unit.sources.fakes import (
    FakeKillSwitchStore,
    StaticBudget,
    StaticHealth,
    StaticRisk,
    fake_clock,
)
from tradeguard.clock import SystemClock
from tradeguard.errors import AuditUnavailableError
from tradeguard.policy import Decision, GateName, TradePermissionPolicy
from tradeguard.sources import CircuitBreaker, PolicyContextBuilder


class KillSwitchMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.store = FakeKillSwitchStore()
        self.breaker = CircuitBreaker(self.store, fake_clock())
        self.builder = PolicyContextBuilder(
            self.breaker,
            StaticBudget(),
            StaticHealth(),
            StaticRisk(),
            SystemClock(),
            0.5,
            max_sample_age_s=60,
        )
        self.persisted = False
        self.held_locally = False

    def _cid(self) -> str:
        return str(uuid.uuid4())

    @rule(operator=st.sampled_from(["alice", "bob", "system:event-feed"]))
    def engage(self, operator: str) -> None:
        try:
            self.breaker.engage(operator, "drill", self._cid())
        except AuditUnavailableError:
            self.held_locally = True
        else:
            self.persisted, self.held_locally = True, False

    @rule()
    def release(self) -> None:
        try:
            self.breaker.release("alice", "done", self._cid())
        except AuditUnavailableError:
            return
        self.persisted, self.held_locally = False, False

    @rule(failing=st.booleans())
    def store_writes(self, failing: bool) -> None:
        self.store.fail_set = failing

    @precondition(lambda self: not self.store.fail_load)
    @rule()
    def store_reads_fail(self) -> None:
        self.store.fail_load = True
        self.builder.invalidate(GateName.KILL_SWITCH)  # the store's change notification

    @precondition(lambda self: self.store.fail_load)
    @rule()
    def store_reads_recover(self) -> None:
        self.store.fail_load = False
        self.builder.invalidate(GateName.KILL_SWITCH)

    @invariant()
    def context_shows_engaged_when_engaged_or_unreadable(self) -> None:
        context = self.builder.build(self._cid())
        unreadable = self.store.fail_load and not self.held_locally
        expected = self.persisted or self.held_locally or self.store.fail_load
        assert context.kill_switch_active is expected
        assert (GateName.KILL_SWITCH in context.incomplete_sources) is unreadable
        if expected:
            assert TradePermissionPolicy(0).evaluate(context).decision is Decision.HALT

    def teardown(self) -> None:
        self.builder.close()


TestKillSwitchMachine = KillSwitchMachine.TestCase
TestKillSwitchMachine.settings = settings(max_examples=100, deadline=None)
