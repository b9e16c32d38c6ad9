"""The front door for Python users: load a scenario, build and prepare it, run or compare
coordination models, and read the results as DataFrames.

    >>> import tsodso
    >>> prep = tsodso.prepare("small")                 # a preset name or a TOML file
    >>> cmp = tsodso.compare(prep, ["smartnet-a", "smartnet-d"])
    >>> cmp.table()[["status", "procurement_cost_eur"]]          # doctest: +SKIP

Every function validates its input and raises ``ScenarioConfigError`` (a ``ValueError``)
listing every problem; nothing here prints.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from tsodso.comparison import Comparison
from tsodso.comparison import compare as _compare
from tsodso.coordination.catalogue import ModelPreset, models_for
from tsodso.pipeline import Prepared, RunResult, run_model
from tsodso.pipeline import prepare as _prepare
from tsodso.scenario.build import build_scenario
from tsodso.scenario.domain import Scenario
from tsodso.schema.config import ScenarioConfig, load_config


def load(spec: str = "default") -> ScenarioConfig:
    """A scenario configuration from a preset name or a TOML file, with its user-defined
    models checked against the families that would run them."""
    cfg = load_config(spec)
    models_for(cfg)  # refuses user models no family can run, listing every problem
    return cfg


def build(config: ScenarioConfig | str = "default") -> Scenario:
    """Build a scenario (grid, profiles, DERs, bids, needs) from a configuration or a
    preset name / TOML file. The first build of a grid is cached on disk."""
    cfg = load(config) if isinstance(config, str) else config
    return build_scenario(cfg)


def prepare(
    scenario: Scenario | ScenarioConfig | str = "default", time_limit_s: float = 300.0
) -> Prepared:
    """Register the scenario's DERs and compute the operators' forecast (baseline AC flow);
    ``time_limit_s`` bounds each clearing and a decomposition as a whole."""
    scn = scenario if isinstance(scenario, Scenario) else build(scenario)
    return _prepare(scn, time_limit_s=time_limit_s)


def models(config: ScenarioConfig | None = None) -> dict[str, ModelPreset]:
    """Every named model of the catalogue, plus ``config``'s user-defined models."""
    from tsodso.coordination.catalogue import CATALOGUE

    return dict(CATALOGUE) if config is None else models_for(config)


def run(prepared: Prepared, model: str | ModelPreset) -> RunResult:
    """Run one model from clearing to settlement; ``.kpis`` and ``.tables()`` hold the
    results."""
    preset = models(prepared.scn.config)[model] if isinstance(model, str) else model
    return run_model(prepared, preset, with_history=True)


def compare(
    prepared: Prepared,
    models: str | Sequence[str | ModelPreset] = "all",
    on_result: Callable[[RunResult], None] | None = None,
) -> Comparison:
    """Run several models ('all', 'id1,id2' or a sequence) and compare them: ``.table()``
    is one row per model; ``on_result`` is called after each run."""
    return _compare(prepared, models, on_result)
