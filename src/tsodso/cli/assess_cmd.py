"""``tsodso assess``: the models over a year of representative days x seeds (x DER
uptake variants), with costs, NPV, criteria and sensitivities (an edge: it imports the
core, never the reverse).

Owns: the command's options and their checks (reported with the scenario's and the
assessment file's problems in one message, exit status 2, before any work), the output
directory (one Parquet file per finished point under ``points/``, written whole as each
point finishes, so that a rerun with the same options skips them; then every table of the
assessment and ``manifest.json``) and the ranked tables it prints. Must not: compute
results.
"""

from __future__ import annotations

import io
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from tsodso.cli.checks import StagesOpt

#: most representative days (the year), seeds and uptake variants
MAX_DAYS = 366
MAX_SEEDS = 50
MAX_VARIANTS = 10


def _parquet(path: Path, frame: Any) -> None:
    from tsodso.report.files import write_atomic

    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    write_atomic(path, buf.getvalue())


def option_problems(days: int, seeds: int, variants: int) -> list[str]:
    """Ranges of ``--days``, ``--seeds`` and ``--uptake-variants``."""
    problems = []
    if not 1 <= days <= MAX_DAYS:
        problems.append(f"--days {days}: expected 1 .. {MAX_DAYS} representative days")
    if not 1 <= seeds <= MAX_SEEDS:
        problems.append(f"--seeds {seeds}: expected 1 .. {MAX_SEEDS}")
    if not 1 <= variants <= MAX_VARIANTS:
        problems.append(f"--uptake-variants {variants}: expected 1 .. {MAX_VARIANTS}")
    return problems


def assess(
    scenario: Annotated[
        str, typer.Option("--scenario", "-s", help="preset or a TOML scenario file")
    ] = "default",
    models: Annotated[
        str, typer.Option("--models", "-m", help="'all' or comma-separated model ids")
    ] = "all",
    days: Annotated[int, typer.Option("--days", help="representative days of 2016")] = 8,
    seeds: Annotated[
        int, typer.Option("--seeds", help="seeds per day (delivery and forecast errors)")
    ] = 3,
    out_dir: Annotated[
        str, typer.Option("--out", help="output directory (a rerun resumes it)")
    ] = "out/assess",
    workers: Annotated[int, typer.Option("--workers", help="local processes (1 = serial)")] = 2,
    scheduler: Annotated[
        str | None, typer.Option("--scheduler", help="dask.distributed address, tcp://...")
    ] = None,
    assumptions_file: Annotated[
        str | None,
        typer.Option("--assumptions", help="TOML overriding costs, parameters and weights"),
    ] = None,
    variants: Annotated[
        int,
        typer.Option(
            "--uptake-variants",
            help="DER uptake factors simulated between now and the horizon's end (1 = none)",
        ),
    ] = 2,
    time_limit: Annotated[
        float, typer.Option("--time-limit", help="seconds per clearing / decomposition")
    ] = 300.0,
    reference: Annotated[
        str | None,
        typer.Option(
            "--reference",
            help="whose cost to serve the benefits are against: a selected model or "
            "'uncoordinated' (default: smartnet-a when selected, else uncoordinated)",
        ),
    ] = None,
    stages: StagesOpt = "model",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")] = False,
) -> None:
    """Assess the models over a year: cost ranking with 90 % intervals and its stability,
    costs per actor, NPV, multi-criteria ranking, tornado and switching values."""
    import numpy as np
    import pandas as pd

    from tsodso.assess.assumptions import AssessInputError, load_assumptions
    from tsodso.assess.days import daily_profiles, representative_days
    from tsodso.assess.points import REFERENCE, plan_points, run_points
    from tsodso.assess.study import assessment_tables
    from tsodso.cli import checks
    from tsodso.cli.main import (
        _at_stages,
        _config,
        _fail,
        _progress,
        _resolve_models,
        err,
        out,
    )
    from tsodso.coordination.catalogue import models_for
    from tsodso.report.files import dumps_strict, output_dir_problems, write_atomic
    from tsodso.scale.engine import SchedulerError

    t0 = time.perf_counter()
    started = datetime.now(UTC).isoformat(timespec="seconds")
    problems = option_problems(days, seeds, variants)
    problems += checks.workers_problems(workers) + checks.time_limit_problems(time_limit)
    problems += output_dir_problems("--out", out_dir) + checks.stage_problems(stages)
    if scheduler is not None:
        problems += checks.scheduler_problems(scheduler)
    assumptions = None
    try:
        assumptions = load_assumptions(assumptions_file)
    except AssessInputError as e:
        problems += e.problems
    cfg = _config(scenario, problems, models)
    assert assumptions is not None  # _config refused any problem
    chosen = _at_stages(_resolve_models(models, models_for(cfg)), stages)
    ids = [m.id for m in chosen]
    if reference is not None and reference not in (*ids, REFERENCE):
        _fail(f"--reference {reference}: expected {REFERENCE!r} or one of the selected models")
    with err.status("choosing representative days", spinner="dots"):
        from tsodso.grids.sources import GridSourceError
        from tsodso.scenario.build import scenario_net

        try:
            net = scenario_net(cfg) if cfg.feeders is not None else None
            load, res = daily_profiles(cfg.grid, cfg.renewable_scale, cfg.load_scale, net)
        except GridSourceError as e:
            _fail(f"scenario {cfg.name!r}: field grid: {e}")
        rep = representative_days(load, res, days)
    values = assumptions.values()
    end = (1.0 + values["der_growth_per_year"]) ** max(1, round(values["horizon_years"]))
    uptakes = [float(u) for u in np.linspace(1.0, end, variants)] if variants > 1 else [1.0]
    seed_list = [cfg.seed + i for i in range(seeds)]
    points = plan_points(
        cfg, [(d.day, d.weight) for d in rep], seed_list, uptakes, ids, time_limit, stages
    )
    where = Path(out_dir)
    (where / "points").mkdir(parents=True, exist_ok=True)
    done = {p.id for p in points if (where / "points" / f"{p.id}.parquet").is_file()}
    todo = [p for p in points if p.id not in done]
    err.print(
        f"{len(rep)} days x {seeds} seeds x {len(uptakes)} uptake variants = {len(points)} "
        f"points x {len(ids)} models; {len(done)} done before, {len(todo)} to run",
        markup=False,
        highlight=False,
    )
    with _progress(quiet) as prog:
        task = prog.add_task("points", total=len(points), completed=len(done))

        def finished(p: Any, rows: list[dict[str, Any]]) -> None:
            _parquet(where / "points" / f"{p.id}.parquet", pd.DataFrame(rows))
            prog.advance(task)
            if not quiet and not err.is_terminal:
                err.print(f"done: {p.id}", markup=False, highlight=False)

        try:
            run_points(todo, ids, time_limit, scheduler, workers, finished, stages)
        except SchedulerError as e:
            _fail(str(e))
    rows = pd.concat(
        [pd.read_parquet(where / "points" / f"{p.id}.parquet") for p in points],
        ignore_index=True,
    )
    mechanisms = {m.id: m.mechanism for m in chosen}
    tables = assessment_tables(rows, rep, cfg.periods, mechanisms, assumptions, reference)
    for name, frame in tables.items():
        _parquet(where / f"{name}.parquet", frame)
    wall = time.perf_counter() - t0
    manifest = {
        "created_by": "tsodso assess",  # how `tsodso report` knows the directory
        "command": " ".join(["tsodso", *sys.argv[1:]]),
        "started": started,
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "wall_time_s": round(wall, 1),
        "scenario": cfg.name,
        "scenario_digest": cfg.digest(),
        "models": ids,
        "stages": stages,
        "days": [vars(d) for d in rep],
        "seeds": seed_list,
        "uptakes": uptakes,
        "points": len(points),
        "points_run_now": len(todo),
        "assumptions_file": assumptions_file,
        "reference": str(tables["reference"]["reference"].iloc[0]),
        "tables": sorted(f"{n}.parquet" for n in tables),
    }
    write_atomic(where / "manifest.json", dumps_strict(manifest))
    out.print(_ranked(tables["summary"], str(tables["reference"]["reference"].iloc[0])))
    out.print(_switching(tables["switching"]))
    out.print(
        f"wrote {escape(str(where))} ({len(tables)} tables); total wall time {wall:.1f} s",
        highlight=False,
    )


def _eur(v: float) -> str:
    return "-" if v != v else f"{v:,.0f}"


def _ranked(summary: Any, reference: str) -> Table:
    t = Table(
        title="annual cost to serve (EUR, 90 % interval) with NPV (benefits against "
        f"{reference}) and criteria ranks"
    )
    for c in ("rank", "model", "cost to serve", "p05", "p95", "first %", "top-3 %"):
        t.add_column(c, justify="left" if c == "model" else "right")
    for c in ("NPV MEUR", "NPV rank", "criteria", "criteria rank"):
        t.add_column(c, justify="right")
    for r in summary.itertuples():
        t.add_row(
            str(r.rank),
            str(r.model),
            _eur(r.cost_to_serve_eur),
            _eur(r.p05),
            _eur(r.p95),
            f"{100 * r.share_first:.0f}",
            f"{100 * r.share_top3:.0f}",
            "-" if r.npv_eur != r.npv_eur else f"{r.npv_eur / 1e6:,.1f}",
            str(r.npv_rank),
            f"{r.mca_score:.2f}",
            str(r.mca_rank),
        )
    return t


def _switching(table: Any) -> Table:
    t = Table(title="switching values: where the first place by NPV changes")
    for c in ("assumption", "unit", "central", "switches at", "x central", "new first", "in range"):
        t.add_column(c, justify="left" if c in ("assumption", "unit", "new first") else "right")
    for r in table.itertuples():
        found = r.switching_value == r.switching_value
        t.add_row(
            str(r.assumption),
            str(r.unit),
            f"{r.central:g}",
            f"{r.switching_value:.4g}" if found else "none",
            f"{r.ratio_to_central:.2f}" if found else "-",
            str(r.new_leader) if found else "-",
            "yes" if r.within_range else "no",
        )
    return t
