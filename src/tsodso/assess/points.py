"""The assessment's points: one (uptake variant, representative day, seed) scenario each,
on which every selected model runs in one process on one prepared scenario (identical
clearings are solved once there: ``pipeline.RunCache``).

Owns: the point configurations (the base scenario with its ``day``, ``seed`` and DER
uptake factor), each point's id (which names its result file, so that a rerun skips what
is done), the job that runs one point (a pure function of picklable inputs) and running
the points on an engine (``scale.engine``). Must not: know about files or the CLI.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tsodso.scale.engine import run_jobs
from tsodso.schema.config import ScenarioConfig, config_from_dict

#: the row of the uncoordinated day: no procurement, the baseline AC flow, the whole
#: imbalance unmet (the reference of the operational benefits)
REFERENCE = "uncoordinated"
#: DER fields scaled by the uptake factor, with the schema's upper bound
UPTAKE_FIELDS = (
    ("renewable_scale", 10.0),
    ("ders.battery_share", 1.0),
    ("ders.ev_share", 1.0),
    ("ders.flex_load_share", 1.0),
)


@dataclass(frozen=True)
class Point:
    """One scenario of the assessment."""

    variant: int
    uptake: float  # DER uptake factor on the base scenario
    day: int
    weight: int
    seed: int
    config: dict[str, Any]
    id: str


def uptake_config(base: ScenarioConfig, factor: float) -> dict[str, Any]:
    """``base`` (as a mapping) with its DER scale multiplied by ``factor`` (each field
    capped at its schema bound)."""
    data = base.model_dump(mode="json")
    for path, top in UPTAKE_FIELDS:
        node = data
        *parents, leaf = path.split(".")
        for p in parents:
            node = node[p]
        node[leaf] = min(top, float(node[leaf]) * factor)
    return data


def plan_points(
    base: ScenarioConfig,
    days: Sequence[tuple[int, int]],
    seeds: Sequence[int],
    uptakes: Sequence[float],
    model_ids: Sequence[str],
    time_limit_s: float,
    stages: str = "model",
) -> list[Point]:
    """Every (variant, day, seed) point, validated; ``days`` are (day, weight) pairs. A
    point's id hashes its scenario and the models, time limit and stages, so that a result
    file is reused only for the same work."""
    from tsodso.coordination.catalogue import OWN_STAGES

    points = []
    for v, f in enumerate(uptakes):
        for day, weight in days:
            for seed in seeds:
                data = uptake_config(base, f)
                data.update(day=day, seed=seed, name=f"{base.name}[u{v} d{day} s{seed}]")
                cfg = config_from_dict(data, source=data["name"])
                work: list[Any] = [cfg.digest(), list(model_ids), time_limit_s]
                if stages != OWN_STAGES:  # earlier runs' ids (each model's own) stay valid
                    work.append(stages)
                blob = json.dumps(work).encode()
                tag = hashlib.sha256(blob).hexdigest()[:10]
                pid = f"u{v}-d{day:03d}-s{seed}-{tag}"
                points.append(Point(v, f, day, weight, seed, cfg.model_dump(mode="json"), pid))
    return points


def run_point(
    point: dict[str, Any], model_ids: list[str], time_limit_s: float, stages: str = "model"
) -> list[dict[str, Any]]:
    """Build and prepare one point's scenario and run the models on it: one row per model
    (and the uncoordinated reference) with the point's keys and every numeric KPI, plus the
    parties and interfaces of the message log and the branches overloaded by the AC check.
    ``stages`` sets every model's market stages ('model': as each declares)."""
    import numpy as np

    from tsodso.coordination.catalogue import models_for
    from tsodso.dispatch.delivery import true_baseline_mw
    from tsodso.kpi.cost import cost_to_serve, imbalance_split
    from tsodso.pipeline import prepare, run_model
    from tsodso.scenario.build import build_scenario

    cfg = config_from_dict(point["config"], source=point["config"]["name"])
    available = models_for(cfg)
    prep = prepare(build_scenario(cfg), time_limit_s=time_limit_s)
    keys = {k: point[k] for k in ("id", "variant", "uptake", "day", "weight", "seed")}
    scn, base = prep.scn, prep.baseline
    # doing nothing: the whole need is left, and the DERs' forecast error on top
    error = (true_baseline_mw(scn) - scn.ders.p_base_mw).sum(axis=0)
    lost, reserve = imbalance_split(scn, scn.imbalance_mw, scn.imbalance_mw - error)
    imbalance = lost + reserve
    ref = cost_to_serve(scn, {}, imbalance, base, reserve_mwh=reserve)
    rows: list[dict[str, Any]] = [
        {
            **keys,
            "model": REFERENCE,
            "status": "reference",
            "feeders": len(scn.grid.feeders),
            **ref,
            "unresolved_imbalance_mwh": imbalance,
            "overload_mwh": base.overload_mwh(),
            "voltage_violations": base.voltage_violations(),
            "overloaded_branches": int((np.nan_to_num(base.branch_loading) > 1.0).any(0).sum()),
        }
    ]
    for mid in model_ids:
        r = run_model(prep, available[mid].at_stages(stages))
        log = r.messages.messages + r.life.messages.messages
        parties = {x for m in log for x in (m.sender, m.receiver)}
        pairs = {tuple(sorted((m.sender, m.receiver))) for m in log}
        numeric = {
            k: (float(v) if v is not None else float("nan"))
            for k, v in r.kpis.items()
            if v is None or isinstance(v, int | float)
        }
        loading = np.nan_to_num(r.ac.branch_loading)
        rows.append(
            {
                **keys,
                "model": mid,
                "status": str(r.outcome.status),
                "feeders": len(scn.grid.feeders),
                **numeric,
                "parties": len(parties),
                "interfaces": len(pairs),
                "overloaded_branches": int((loading > 1.0).any(axis=0).sum()),
            }
        )
    return rows


def point_job(p: Point) -> dict[str, Any]:
    """The picklable payload of one point."""
    return {
        "id": p.id,
        "variant": p.variant,
        "uptake": p.uptake,
        "day": p.day,
        "weight": p.weight,
        "seed": p.seed,
        "config": p.config,
    }


def run_points(
    points: Sequence[Point],
    model_ids: list[str],
    time_limit_s: float = 300.0,
    scheduler: str | None = None,
    workers: int = 2,
    on_point: Callable[[Point, list[dict[str, Any]]], None] | None = None,
    stages: str = "model",
) -> list[dict[str, Any]]:
    """Run the points (serially, on Dask's process pool or on a cluster); ``on_point`` gets
    each point's rows as soon as it is done. Rows come back in point order. ``stages``
    sets every model's market stages ('model': as each declares)."""

    def done(i: int, rows: list[dict[str, Any]]) -> None:
        if on_point is not None:
            on_point(points[i], rows)

    jobs = [(point_job(p), list(model_ids), time_limit_s, stages) for p in points]
    results = run_jobs(run_point, jobs, scheduler, workers, on_result=done)
    return [row for part in results for row in part]
