"""``tsodso sweep``: a grid of scenario variants x models on Dask, one KPI table (an edge: it
imports the core, never the reverse).

Owns: the command's options and their checks (one message, exit status 2, before any
work), the output directory (one JSON file of KPI rows per finished point under
``points/``, named by the point's id (its scenario's digest and its models) and written
whole as the point finishes, so that a rerun with the same points and models skips them;
then ``sweep.csv`` of every point in point order) and the table it prints. Must not:
compute results.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

#: the columns printed (sweep.csv holds every KPI)
SHOWN = (
    "scenario",
    "model",
    "status",
    "procurement_cost_eur",
    "social_welfare_eur",
    "unresolved_imbalance_mwh",
    "overload_mwh",
    "voltage_violations",
)


def _point_rows(path: Path) -> list[dict[str, Any]] | str:
    """The KPI rows of one point file, or why it cannot be read."""
    try:
        rows = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        return f"{path}: not a sweep point file ({type(e).__name__}); delete it to rerun the point"
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        return f"{path}: not a sweep point file (expected a list of rows); delete it to rerun"
    return rows


def sweep(
    vary: Annotated[
        list[str],
        typer.Option("--vary", help="FIELD=V1,V2 (dotted for tables, e.g. ders.battery_share)"),
    ],
    scenario: Annotated[
        str, typer.Option("--scenario", "-s", help="preset or a TOML scenario file")
    ] = "small",
    models: Annotated[
        str, typer.Option("--models", "-m", help="'all' or comma-separated model ids")
    ] = "smartnet-a,smartnet-d",
    out_dir: Annotated[
        str,
        typer.Option(
            "--out", help="writes points/*.json as points finish, then sweep.csv (a rerun resumes)"
        ),
    ] = "out/sweep",
    scheduler: Annotated[
        str | None, typer.Option("--scheduler", help="dask.distributed address, tcp://...")
    ] = None,
    workers: Annotated[int, typer.Option("--workers", help="local processes (1 = serial)")] = 2,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")] = False,
) -> None:
    """Run a grid of scenario variants x models and write one KPI table; each point's rows
    are kept as it finishes, so an interrupted sweep resumes where it stopped."""
    import pandas as pd

    from tsodso.cli import checks
    from tsodso.cli.main import _config, _fail, _progress, _resolve_models, err, out
    from tsodso.coordination.catalogue import models_for
    from tsodso.report.files import dumps_strict, output_dir_problems, write_atomic
    from tsodso.scale.sweep import (
        SchedulerError,
        parse_variations,
        point_id,
        run_sweep,
        sweep_points,
    )
    from tsodso.schema.config import ScenarioConfigError

    problems = checks.workers_problems(workers) + output_dir_problems("--out", out_dir)
    if scheduler is not None:
        problems += checks.scheduler_problems(scheduler)
    try:
        variations = parse_variations(vary)
    except ScenarioConfigError as e:
        problems += e.problems
        variations = {}
    cfg = _config(scenario, problems, models)
    ids = [m.id for m in _resolve_models(models, models_for(cfg))]
    try:
        points = sweep_points(cfg, variations)
    except ScenarioConfigError as e:
        _fail(str(e))
    where = Path(out_dir)
    (where / "points").mkdir(parents=True, exist_ok=True)
    files = [where / "points" / f"{point_id(p, ids)}.json" for p in points]
    read = {i: _point_rows(f) for i, f in enumerate(files) if f.is_file()}
    if bad := [r for r in read.values() if isinstance(r, str)]:  # before any work
        _fail("\n".join(bad))
    kept = {i: r for i, r in read.items() if not isinstance(r, str)}
    todo = [i for i in range(len(points)) if i not in kept]
    err.print(
        f"{len(points)} scenario points x {len(ids)} models; "
        f"{len(points) - len(todo)} done before, {len(todo)} to run",
        markup=False,
        highlight=False,
    )
    with _progress(quiet) as prog:
        task = prog.add_task("points", total=len(points), completed=len(points) - len(todo))

        def finished(i: int, rows: list[dict[str, Any]]) -> None:
            write_atomic(files[todo[i]], dumps_strict(rows))
            kept[todo[i]] = rows
            prog.advance(task)
            if not quiet and not err.is_terminal:
                err.print(f"done: {points[todo[i]].name}", markup=False, highlight=False)

        try:
            run_sweep([points[i] for i in todo], ids, scheduler, workers, on_point=finished)
        except SchedulerError as e:
            _fail(str(e))
    table = pd.DataFrame([row for i in range(len(points)) for row in kept[i]])
    write_atomic(where / "sweep.csv", table.to_csv(index=False))
    out.print(table[list(SHOWN)].to_string(index=False), markup=False, highlight=False)
    out.print(f"wrote {where / 'sweep.csv'} ({len(table)} rows)", markup=False)
