"""Several models on one prepared scenario, side by side: the KPI table and the gap of
each model's procurement cost to the cheapest joint market.

Owns: ``Comparison`` and ``compare``. Must not: format output (the CLI and report do).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pandas as pd

from tsodso.coordination.catalogue import ModelPreset, models_for
from tsodso.pipeline import Prepared, RunResult, run_model
from tsodso.schema.environment import model_threads

JOINT = "joint"


@dataclass(frozen=True)
class Comparison:
    """The runs of several models on one prepared scenario, in the order asked."""

    prepared: Prepared
    runs: tuple[RunResult, ...]

    def joint_reference_eur(self) -> float | None:
        """The least procurement cost among joint-family runs (None without one)."""
        costs = [
            float(cost)
            for r in self.runs
            if r.model.family == JOINT and (cost := r.kpis["procurement_cost_eur"]) is not None
        ]
        return min(costs) if costs else None

    def gap_to_joint_eur(self, run: RunResult) -> float | None:
        """``run``'s procurement cost minus the joint reference (None without one)."""
        ref = self.joint_reference_eur()
        cost = run.kpis["procurement_cost_eur"]
        if ref is None or cost is None or not math.isfinite(float(cost)):
            return None
        return round(float(cost) - ref, 2)

    def records(self) -> list[dict[str, Any]]:
        """One record per run: model, family, stages, status, iterations and its KPIs (with
        the gap to joint)."""
        return [
            {
                "model": r.model.id,
                "family": r.model.family,
                "stages": r.model.mechanism.stages,
                "status": str(r.outcome.status),
                "iterations": r.outcome.iterations,
                "kpis": {**r.kpis, "gap_to_joint_eur": self.gap_to_joint_eur(r)},
            }
            for r in self.runs
        ]

    def table(self) -> pd.DataFrame:
        """One row per model: family, status and every KPI, indexed by model id."""
        rows = [
            {
                "model": d["model"],
                "family": d["family"],
                "stages": d["stages"],
                "status": d["status"],
                **d["kpis"],
            }
            for d in self.records()
        ]
        return pd.DataFrame(rows).set_index("model")


def resolve_models(
    prepared: Prepared, models: str | Sequence[str | ModelPreset]
) -> list[ModelPreset]:
    """Model presets from 'all', a comma-separated string or a sequence of ids/presets
    (ids from the catalogue and the scenario's own [models.ID] tables)."""
    available = models_for(prepared.scn.config)
    if isinstance(models, str):
        if models.strip() == "all":
            return list(available.values())
        models = [s.strip() for s in models.split(",") if s.strip()]
    out: list[ModelPreset] = []
    unknown: list[str] = []
    for m in models:
        if isinstance(m, ModelPreset):
            out.append(m)
        elif m in available:
            out.append(available[m])
        else:
            unknown.append(m)
    if unknown:
        raise KeyError(f"unknown model id(s): {', '.join(unknown)}")
    return out


def compare(
    prepared: Prepared,
    models: str | Sequence[str | ModelPreset] = "all",
    on_result: Callable[[RunResult], None] | None = None,
) -> Comparison:
    """Run each model on ``prepared`` (identical clearings are solved once) and compare
    them; ``on_result`` is called after each run, in the models' order (progress).

    ``TSODSO_MODEL_THREADS`` models run at once (HiGHS solves with the GIL released; each
    result is the one a run alone gives, since shared clearings are made once and solves
    are deterministic). A model's ``wall_time_s`` then includes its neighbours' share of
    the cores: ``TSODSO_MODEL_THREADS=1`` times each model alone."""
    presets = resolve_models(prepared, models)
    runs = []
    n = min(model_threads(), len(presets))
    with ThreadPoolExecutor(max(n, 1)) as pool:
        for r in pool.map(lambda m: run_model(prepared, m), presets):
            runs.append(r)
            if on_result is not None:
                on_result(r)
    return Comparison(prepared, tuple(runs))
