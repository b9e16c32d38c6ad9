"""Scenario sweeps: a grid of scenario variants x models, run on Dask.

Owns: expanding a base scenario and a set of field variations into scenario points, each
point's id (its scenario's digest and the models it runs: the name of its result file, so
that an interrupted sweep resumes where it stopped), the per-point job (a pure function of
picklable inputs: build the scenario where it runs, run the models, return KPI rows), and
the choice of engine: the calling process (workers = 1), Dask's local process pool
(default), or a ``dask.distributed`` cluster when a scheduler address is given
(``scale.engine``). Results do not depend on the engine (tests check it on a LocalCluster).
Variations are checked before anything runs: each path must name a scalar field of the
scenario schema, each value is read as a TOML value (so ``true`` is a boolean and ``"3"``
text, never silently a number), and the number of points is bounded. Must not: know about
the CLI or files.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import json
import math
import tomllib
from collections.abc import Callable, Iterable
from typing import Any

from pydantic import BaseModel

from tsodso.scale.engine import SchedulerError as SchedulerError  # re-exported
from tsodso.scale.engine import run_jobs
from tsodso.schema.config import ScenarioConfig, ScenarioConfigError, config_from_dict

#: most values of one field and most points of a sweep (an assumption: a sweep beyond is a
#: typing mistake long before it is a study on one machine or a small cluster)
MAX_VALUES = 100
MAX_POINTS = 1000
#: fields a sweep does not vary: the name is made from the variations; events, models and
#: the feeders attached to a transmission case are structures, not values
NOT_VARIED = ("name", "events", "models", "t_line_derate", "feeders")  # tables of their own


#: KPI keys that measure time, not the result (they differ between engines)
TIMING_KEYS = ("wall_time_s", "solve_time_s", "compute_time_s")


def variable_fields() -> dict[str, str]:
    """Every field a sweep can vary (dotted for the scenario's tables), with its type."""
    out: dict[str, str] = {}
    for name, info in ScenarioConfig.model_fields.items():
        if name in NOT_VARIED:
            continue
        kind = info.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            for sub, subinfo in kind.model_fields.items():
                out[f"{name}.{sub}"] = str(subinfo.annotation)
        else:
            out[name] = str(kind)
    return out


def _value(text: str) -> Any:
    """A TOML value (number, boolean, quoted text), else the text itself."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except (tomllib.TOMLDecodeError, RecursionError):
        return text


def parse_variations(specs: Iterable[str]) -> dict[str, list[Any]]:
    """'field=v1,v2' strings (dotted fields for nested tables) into a mapping of values,
    each read as a TOML value. Refuses (listing every problem) unknown or repeated fields,
    empty or repeated values and sweeps of more than ``MAX_POINTS`` points."""
    out: dict[str, list[Any]] = {}
    problems = []
    known = variable_fields()
    for spec in specs:
        key, sep, values = spec.partition("=")
        key = key.strip()
        items = [v.strip() for v in values.split(",")]
        if not sep or not key or not values.strip():
            problems.append(f"--vary {spec!r}: expected FIELD=V1,V2,...")
            continue
        if key not in known:
            head = key.split(".")[0]
            close = difflib.get_close_matches(key, known, n=3)
            hint = (
                f"{head} is not varied by a sweep"
                if head in NOT_VARIED
                else f"did you mean {' or '.join(close)}?"
                if close
                else f"expected one of {', '.join(known)}"
            )
            problems.append(f"--vary {key}: no such field ({hint})")
            continue
        if key in out:
            problems.append(f"--vary {key}: given twice (put every value in one --vary)")
            continue
        if "" in items:
            problems.append(f"--vary {spec!r}: an empty value (expected FIELD=V1,V2,...)")
            continue
        if len(items) > MAX_VALUES:
            problems.append(f"--vary {key}: {len(items)} values, expected at most {MAX_VALUES}")
            continue
        read = [_value(v) for v in items]
        same = [(isinstance(v, bool), v) for v in read]  # 1 and 1.0 are one value
        if twice := sorted({t for t, k in zip(items, same, strict=True) if same.count(k) > 1}):
            problems.append(f"--vary {key}: {', '.join(twice)} name the same value twice")
            continue
        out[key] = read
    points = math.prod(len(v) for v in out.values()) if out else 0
    if points > MAX_POINTS:
        problems.append(
            f"--vary: {' x '.join(str(len(v)) for v in out.values())} = {points} points, "
            f"expected at most {MAX_POINTS}"
        )
    if problems:
        raise ScenarioConfigError("sweep", problems)
    return out


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
                node = node[p]  # a table of the schema (parse_variations checked the path)
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


def point_id(point: ScenarioConfig, model_ids: list[str]) -> str:
    """The id of a sweep point's result: its scenario's digest (the same scenario in another
    sweep has the same one) and a tag of the models it runs, in order."""
    tag = hashlib.sha256(json.dumps(list(model_ids)).encode()).hexdigest()[:8]
    return f"{point.digest()}-{tag}"


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
    on_point: Callable[[int, list[dict[str, Any]]], None] | None = None,
) -> list[dict[str, Any]]:
    """Run every point; ``on_point(index, rows)`` gets each point's rows as soon as it is
    done (in completion order, so a caller can persist them); the rows come back in point
    order whatever the engine."""
    payload = [p.model_dump(mode="json") for p in points]

    def done(i: int, rows: list[dict[str, Any]]) -> None:
        if on_point is not None:
            on_point(i, rows)

    results = run_jobs(
        run_point, [(p, model_ids) for p in payload], scheduler, workers, on_result=done
    )
    return [row for part in results for row in part]
