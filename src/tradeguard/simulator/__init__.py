"""The failure scenario simulator (SPEC §8): prove the safety behaviour end to end."""

from __future__ import annotations

from .pipeline import CORRUPTION_MODES, PipelineTimings, ScenarioPipeline, ScenarioSettings
from .results import (
    AssertionResult,
    Observation,
    ScenarioAbortedError,
    ScenarioResult,
    ScenarioType,
    SystemState,
)
from .run import RunLimits
from .simulator import DEFAULT_PARAMETERS, FailureScenarioSimulator

__all__ = [
    "CORRUPTION_MODES",
    "DEFAULT_PARAMETERS",
    "AssertionResult",
    "FailureScenarioSimulator",
    "Observation",
    "PipelineTimings",
    "RunLimits",
    "ScenarioAbortedError",
    "ScenarioPipeline",
    "ScenarioResult",
    "ScenarioSettings",
    "ScenarioType",
    "SystemState",
]
