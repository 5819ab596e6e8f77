"""Small factories for policy tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

from hypothesis import strategies as st

from tradeguard.policy import (
    EVALUATION_PRECEDENCE,
    BudgetSignal,
    GateName,
    HealthStatus,
    PolicyContext,
    RiskAssessment,
)

STAMP = "2026-03-01T12:00:00.000000Z"


def new_id() -> str:
    return str(uuid.uuid4())


def context(
    kill: bool = False,
    budget: str = "ALLOW",
    health: str = "GREEN",
    risk: str = "HEALTHY",
    incomplete: Iterable[str] = (),
) -> PolicyContext:
    return PolicyContext(kill, budget, health, risk, new_id(), STAMP, tuple(incomplete))


def all_pass() -> PolicyContext:
    return context()


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


kills = st.booleans()
budgets = st.sampled_from(list(BudgetSignal))
healths = st.sampled_from(list(HealthStatus))
risks = st.sampled_from(list(RiskAssessment))
incompletes = st.sets(st.sampled_from(list(GateName))).map(
    lambda s: tuple(sorted(s, key=EVALUATION_PRECEDENCE.index))
)


@st.composite
def contexts(draw: st.DrawFn, with_incomplete: bool = True) -> PolicyContext:
    return PolicyContext(
        draw(kills),
        draw(budgets),
        draw(healths),
        draw(risks),
        str(draw(st.uuids())),
        STAMP,
        draw(incompletes) if with_incomplete else (),
    )
