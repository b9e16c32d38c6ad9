"""tsodso: run and compare TSO-DSO coordination models for DER flexibility on coupled
transmission + distribution grids.

The public API (see ``tsodso.api``): ``load``, ``build``, ``prepare``, ``models``, ``run``,
``compare`` and the objects they return.
"""

from __future__ import annotations

from tsodso.api import build, compare, load, models, prepare, run
from tsodso.comparison import Comparison
from tsodso.coordination.catalogue import ModelPreset
from tsodso.pipeline import Prepared, RunResult
from tsodso.scenario.domain import Scenario
from tsodso.schema.config import ScenarioConfig, ScenarioConfigError
from tsodso.schema.mechanism import Mechanism

__all__ = [
    "Comparison",
    "Mechanism",
    "ModelPreset",
    "Prepared",
    "RunResult",
    "Scenario",
    "ScenarioConfig",
    "ScenarioConfigError",
    "build",
    "compare",
    "load",
    "models",
    "prepare",
    "run",
]
