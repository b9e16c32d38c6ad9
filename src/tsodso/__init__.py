"""tsodso: run and compare TSO-DSO coordination models for DER flexibility on coupled
transmission + distribution grids.

The public API (see ``tsodso.api``): ``load``, ``build``, ``prepare``, ``models``, ``run``,
``compare`` and the objects they return. They are imported on first use, so that
``import tsodso.cli.entry`` (the console command) starts without loading pandas, the
solver and the grid libraries before it can handle Ctrl-C.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tsodso.api import build, compare, load, models, prepare, run
    from tsodso.comparison import Comparison
    from tsodso.coordination.catalogue import ModelPreset
    from tsodso.pipeline import Prepared, RunResult
    from tsodso.scenario.domain import Scenario
    from tsodso.schema.config import ScenarioConfig, ScenarioConfigError
    from tsodso.schema.mechanism import Mechanism

#: where each public name lives
_HOME = {
    "Comparison": "tsodso.comparison",
    "Mechanism": "tsodso.schema.mechanism",
    "ModelPreset": "tsodso.coordination.catalogue",
    "Prepared": "tsodso.pipeline",
    "RunResult": "tsodso.pipeline",
    "Scenario": "tsodso.scenario.domain",
    "ScenarioConfig": "tsodso.schema.config",
    "ScenarioConfigError": "tsodso.schema.config",
    "build": "tsodso.api",
    "compare": "tsodso.api",
    "load": "tsodso.api",
    "models": "tsodso.api",
    "prepare": "tsodso.api",
    "run": "tsodso.api",
}

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


def __getattr__(name: str) -> Any:
    """A public name, imported from its module on first use."""
    if name in _HOME:
        value = getattr(import_module(_HOME[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tsodso' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The module's names, the lazily imported public ones included."""
    return sorted({*globals(), *__all__})
