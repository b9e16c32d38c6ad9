"""Scenario sweeps: a grid of scenario variants x models, run on Dask.

Owns: expanding a base scenario and a set of field variations into scenario points, the
per-point job (a pure function of picklable inputs: build the scenario where it runs, run
the models, return KPI rows), and the choice of engine: the calling process (workers = 1),
Dask's local process pool (default), or a ``dask.distributed`` cluster when a scheduler
address is given. Results do not depend on the engine (tests check it on a LocalCluster).
Must not: know about the CLI or files.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from typing import Any

from tsodso.schema.config import ScenarioConfig, ScenarioConfigError, config_from_dict

#: KPI keys that measure time, not the result (they differ between engines)
TIMING_KEYS = ("wall_time_s", "solve_time_s", "compute_time_s")


def parse_variations(specs: Iterable[str]) -> dict[str, list[Any]]:
    """'field=v1,v2' strings (dotted fields for nested tables) into a mapping of values;
    numbers are parsed as numbers."""
    out: dict[str, list[Any]] = {}
    problems = []
    for spec in specs:
        key, sep, values = spec.partition("=")
        if not sep or not key.strip() or not values.strip():
            problems.append(f"--vary {spec!r}: expected FIELD=V1,V2,...")
            continue
        out[key.strip()] = [_number(v.strip()) for v in values.split(",") if v.strip()]
    if problems:
        raise ScenarioConfigError("sweep", problems)
    return out


def _number(v: str) -> Any:
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    return v


def sweep_points(base: ScenarioConfig, variations: dict[str, list[Any]]) -> list[ScenarioConfig]:
    """Every combination of the variations applied to ``base``; all points are validated
    before anything runs, and every problem is reported at once."""
    keys = list(variations)
    points, problems = [], []
    for combo in itertools.product(*(variations[k] for k in keys)):
        data = base.model_dump(mode="json")
        label = []
        for k, v in zip(keys, combo, strict=True):
            node = data
            *parents, leaf = k.split(".")
            for p in parents:
                node = node.setdefault(p, {})
            node[leaf] = v
            label.append(f"{k}={v}")
        data["name"] = f"{base.name}[{', '.join(label)}]"
        try:
            points.append(config_from_dict(data, source=data["name"]))
        except ScenarioConfigError as e:
            problems.extend(e.problems)
    if problems:
        raise ScenarioConfigError("sweep", sorted(set(problems)))
    return points


def run_point(config: dict[str, Any], model_ids: list[str]) -> list[dict[str, Any]]:
    """Build one scenario and run the models on it; one KPI row per model."""
    from tsodso.coordination.catalogue import models_for
    from tsodso.pipeline import prepare, run_model
    from tsodso.scenario.build import build_scenario

    cfg = config_from_dict(config, source=config.get("name", "sweep point"))
    available = models_for(cfg)
    prep = prepare(build_scenario(cfg))
    rows = []
    for mid in model_ids:
        r = run_model(prep, available[mid])
        rows.append({"scenario": cfg.name, "model": mid, "status": str(r.outcome.status), **r.kpis})
    return rows


def run_sweep(
    points: list[ScenarioConfig],
    model_ids: list[str],
    scheduler: str | None = None,
    workers: int = 2,
    on_done: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Run every point; rows come back in point order whatever the engine."""
    payload = [p.model_dump(mode="json") for p in points]
    if scheduler is None and workers <= 1:
        rows: list[dict[str, Any]] = []
        for p in payload:
            rows.extend(run_point(p, model_ids))
            if on_done:
                on_done(p["name"])
        return rows
    from dask.base import compute
    from dask.delayed import delayed

    jobs = [delayed(run_point)(p, model_ids) for p in payload]
    if scheduler is not None:
        from dask.distributed import Client

        with Client(scheduler) as client:
            results = client.gather(client.compute(jobs))
    else:
        results = compute(*jobs, scheduler="processes", num_workers=workers)
    if on_done:
        for p in payload:
            on_done(p["name"])
    return [row for part in results for row in part]
