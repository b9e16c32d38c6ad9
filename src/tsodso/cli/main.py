"""The ``tsodso`` command line (an edge: it imports the core, never the reverse).

Commands: ``compare`` (run models on one scenario, print a KPI table or JSON), ``models``
(list the catalogue), ``run`` (one model, result tables as Parquet plus a manifest),
``sweep`` (scenario variants x models on Dask, one KPI table).
User mistakes exit with status 2 and one message listing every problem; no traceback.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from tsodso.cli import report_cmd
from tsodso.coordination.catalogue import models_for
from tsodso.coordination.mechanism import ModelPreset
from tsodso.grids.model import GridModelError
from tsodso.grids.sources import GridSourceError
from tsodso.kpi.metrics import KPI_KEYS
from tsodso.scenario.config import PRESETS, ScenarioConfig, ScenarioConfigError, load_config
from tsodso.scenario.domain import Scenario

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Run and compare TSO-DSO coordination models on a coupled T+D scenario.",
)
app.command("report")(report_cmd.report)
# a wide console when piped, so tables are not cut to 80 columns
err = Console(stderr=True)
out = Console() if sys.stdout.isatty() else Console(width=220)

ScenarioOpt = Annotated[
    str,
    typer.Option("--scenario", "-s", help=f"preset ({', '.join(PRESETS)}) or a TOML file"),
]
TimeLimitOpt = Annotated[
    float,
    typer.Option(
        "--time-limit",
        min=1.0,
        help="seconds allowed to each clearing and to an iterative decomposition as a "
        "whole (a model that reaches it reports status time_limit and its best result)",
    ),
]


def _fail(message: str) -> NoReturn:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    raise typer.Exit(code=2)


def _config(spec: str) -> ScenarioConfig:
    try:
        return load_config(spec)
    except ScenarioConfigError as e:
        _fail(str(e))


def _resolve_models(spec: str, available: dict[str, ModelPreset]) -> list[ModelPreset]:
    if spec.strip() == "all":
        return list(available.values())
    ids = [s.strip() for s in spec.split(",") if s.strip()]
    unknown = [i for i in ids if i not in available]
    if not ids:
        _fail("--models is empty: expected 'all' or comma-separated model ids")
    if unknown:
        _fail(
            f"unknown model id(s): {', '.join(unknown)}; expected 'all' or ids from "
            "`tsodso models` (e.g. smartnet-a, smartnet-d) or [models.ID] tables of the "
            "scenario file"
        )
    return [available[i] for i in ids]


def _build(cfg: ScenarioConfig, quiet: bool) -> Scenario:
    from tsodso.scenario.build import build_scenario

    status = f"building scenario {cfg.name!r} (first build of a grid is cached)"
    with err.status(status, spinner="dots") if not quiet else _Null():
        try:
            return build_scenario(cfg)
        except (GridSourceError, GridModelError) as e:
            _fail(f"scenario {cfg.name!r}: field grid: {e}")
        except ScenarioConfigError as e:
            _fail(str(e))


class _Null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *a: object) -> None:
        return None


def _progress(disable: bool) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err,
        disable=disable,
        transient=True,
    )


def _run_models(scn, models: list[ModelPreset], quiet: bool, time_limit_s: float, keep=None):
    from tsodso.pipeline import prepare, run_model

    prep = prepare(scn, time_limit_s=time_limit_s)
    results: list[dict[str, Any]] = []
    with _progress(quiet) as prog:
        task = prog.add_task("clearing", total=len(models))
        for m in models:
            prog.update(task, description=f"model {m.id}")
            t0 = time.perf_counter()
            res = run_model(prep, m)
            if keep is not None:  # the report's tables of this run (report_cmd)
                keep(prep, res)
            if not quiet and not err.is_terminal:  # no live bar: one line per model
                err.print(
                    f"{escape(m.id)}: {res.outcome.status} in {time.perf_counter() - t0:.1f} s"
                )
            results.append(
                {
                    "model": m.id,
                    "family": m.mechanism.family,
                    "status": str(res.outcome.status),
                    "iterations": res.outcome.iterations,
                    "kpis": res.kpis,
                }
            )
            prog.advance(task)
    joint = [r for r in results if r["family"] == "joint"]
    if joint:
        ref = min(r["kpis"]["procurement_cost_eur"] for r in joint)
        for r in results:
            r["kpis"]["gap_to_joint_eur"] = round(r["kpis"]["procurement_cost_eur"] - ref, 2)
    return results, prep


def _scenario_summary(scn, prep) -> dict[str, Any]:
    b = prep.baseline
    return {
        "name": scn.config.name,
        "digest": scn.config.digest(),
        "config": scn.config.model_dump(mode="json"),
        "sizes": scn.sizes(),
        "baseline": {
            "overload_mwh": round(b.overload_mwh(), 3),
            "overload_transmission_mwh": round(b.overload_mwh(distribution=False), 3),
            "overload_distribution_mwh": round(b.overload_mwh(distribution=True), 3),
            "voltage_violations": b.voltage_violations(),
            "voltage_violations_distribution": b.voltage_violations(distribution=True),
            "imbalance_mwh": round(float(abs(scn.imbalance_mw).sum() * scn.dt_h), 3),
        },
        "registration": {
            **prep.registry.summary(),
            "withdrawn_mwh": round(prep.registry.withdrawn_mwh(scn), 3),
            "grid_check_blocked_der_directions": len(prep.grid_check.reasons),
        },
    }


@app.command()
def compare(
    scenario: ScenarioOpt = "default",
    models: Annotated[
        str, typer.Option("--models", "-m", help="'all' or comma-separated model ids")
    ] = "smartnet-a,smartnet-d",
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="also write comparison.json and .csv here")
    ] = None,
    time_limit: TimeLimitOpt = 300.0,
    report: Annotated[
        Path | None, typer.Option("--report", help="also write the HTML report (tsodso report)")
    ] = None,
) -> None:
    """Run coordination models on one scenario and compare their KPIs."""
    t0 = time.perf_counter()
    cfg = _config(scenario)
    chosen = _resolve_models(models, models_for(cfg))
    scn = _build(cfg, quiet=as_json)
    details = report_cmd.collector() if out_dir or report else None  # what a report draws
    results, prep = _run_models(
        scn, chosen, quiet=as_json, time_limit_s=time_limit, keep=details and details.add
    )
    doc = {
        "scenario": _scenario_summary(scn, prep),
        "results": results,
        "wall_time_s": round(time.perf_counter() - t0, 2),
    }
    if out_dir is not None:
        import pandas as pd

        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "comparison.json").write_text(json.dumps(doc, indent=2))
        pd.DataFrame(
            [{"model": r["model"], "status": r["status"], **r["kpis"]} for r in results]
        ).to_csv(out_dir / "comparison.csv", index=False)
    if details is not None:
        report_cmd.finish_compare(doc, details, out_dir, report)
    if as_json:
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return
    _print_table(doc)


def _print_table(doc: dict[str, Any]) -> None:
    s = doc["scenario"]
    sz, base = s["sizes"], s["baseline"]
    out.print(
        f"[bold]scenario[/] {escape(s['name'])} ({s['digest']}): {sz['buses']} buses, "
        f"{sz['feeders']} feeders, {sz['ders']} DERs, {sz['bids']} bids, {sz['periods']} periods"
    )
    out.print(
        f"[bold]uncoordinated day[/] (AC): transmission overload "
        f"{base['overload_transmission_mwh']} MWh, distribution overload "
        f"{base['overload_distribution_mwh']} MWh, distribution voltage violations "
        f"{base['voltage_violations_distribution']} node-intervals, imbalance "
        f"{base['imbalance_mwh']} MWh"
    )
    reg = s["registration"]
    rejected = ", ".join(
        f"{k.split(': ')[1]} {v}" for k, v in reg.items() if k.startswith("rejected: ")
    )
    out.print(
        f"[bold]registration[/]: {reg['registered']} DERs, {reg['qualified']} prequalified"
        + (f" (rejected: {rejected})" if rejected else "")
        + f", {reg['capped by ramp']} capped by ramp; the DSO's grid check blocks "
        f"{reg['grid_check_blocked_der_directions']} DER directions (binding where a model "
        "uses static prequalification)"
    )
    cols = [
        ("procurement_cost_eur", "cost EUR", "{:,.0f}"),
        ("tso_cost_eur", "TSO EUR", "{:,.0f}"),
        ("dso_cost_eur", "DSO EUR", "{:,.0f}"),
        ("social_welfare_eur", "welfare EUR", "{:,.0f}"),
        ("unresolved_imbalance_mwh", "unmet MWh", "{:.1f}"),
        ("overload_mwh", "overload MWh", "{:.1f}"),
        ("voltage_violations", "V viol.", "{}"),
        ("curtailment_mwh", "curtail MWh", "{:.0f}"),
        ("non_delivery_mwh", "undeliv. MWh", "{:.1f}"),
        ("penalties_eur", "penalty EUR", "{:,.0f}"),
        ("discarded_flexibility_mwh", "discard MWh", "{:.0f}"),
        ("doe_hosting_mw", "DOE MW", "{:.1f}"),
        ("doe_fairness_jain", "Jain", "{:.2f}"),
        ("messages", "msgs", "{}"),
        ("message_bytes", "kB", "{}"),
        ("wall_time_s", "time s", "{:.1f}"),
    ]
    table = Table(show_lines=False)
    table.add_column("model")
    table.add_column("status")
    for _, head, _ in cols:
        table.add_column(head, justify="right")
    for r in doc["results"]:
        k = r["kpis"]
        row = [r["model"], r["status"]]
        for key, _, fmt in cols:
            if k.get(key) is None:
                row.append("-")
            elif key == "message_bytes":
                row.append(f"{k[key] / 1000:,.0f}")
            else:
                row.append(fmt.format(k[key]))
        table.add_row(*row)
    out.print(table)
    out.print(f"total wall time {doc['wall_time_s']} s")


@app.command("models")
def list_models(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    scenario: Annotated[
        str | None,
        typer.Option("--scenario", "-s", help="also list the [models.ID] of this scenario"),
    ] = None,
) -> None:
    """List every registered coordination model with its mechanism parameters."""
    from tsodso.coordination.catalogue import CATALOGUE

    available = models_for(_config(scenario)) if scenario else CATALOGUE
    rows = [m.as_dict() for m in available.values()]
    if as_json:
        sys.stdout.write(json.dumps({"models": rows}, indent=2) + "\n")
        return
    table = Table()
    keys = ("operator_label", "sequence", "d_constraints", "d_path", "priority", "interface")
    for c in (
        "id",
        "region",
        "family",
        "operator",
        "sequence",
        "d_constraints",
        "d_path",
        "priority",
        "interface",
    ):
        table.add_column(c)
    for r in rows:
        p = r["parameters"]
        table.add_row(r["id"], r["region"], r["family"], *(str(p[k]) for k in keys))
    out.print(table)


@app.command()
def run(
    model: Annotated[str, typer.Option("--model", help="model id (see `tsodso models`)")],
    out_dir: Annotated[Path, typer.Option("--out", help="directory for result tables")],
    scenario: ScenarioOpt = "default",
    doe: Annotated[
        bool,
        typer.Option(
            "--doe/--no-doe",
            help="also compute the DSO's envelopes by every method, AC-verified "
            "(about 20 s on the default scenario)",
        ),
    ] = True,
    time_limit: TimeLimitOpt = 300.0,
) -> None:
    """Run one model through the whole lifecycle (registration, clearing, stacking,
    delivery, baselines, settlement, contingency rules) and write every table (Parquet)
    and a manifest."""
    from tsodso.pipeline import prepare, run_model
    from tsodso.report.tables import write_run

    cfg = _config(scenario)
    chosen = _resolve_models(model, models_for(cfg))
    if len(chosen) != 1:
        _fail(f"--model {model!r}: expected one model id, got {len(chosen)}")
    preset = chosen[0]
    scn = _build(cfg, quiet=False)
    prep = prepare(scn, time_limit_s=time_limit)
    with err.status(f"running {model}", spinner="dots"):
        result = run_model(prep, preset, with_history=True)
    extra = {}
    if doe:
        from tsodso.envelopes.report import doe_report

        with err.status("dynamic operating envelopes: every method, AC-verified", spinner="dots"):
            ctx = prep.ctx
            rep = doe_report(prep.scn, prep.ac_model, prep.baseline, ctx.root_vm_pu, ctx.v2_offset)
        extra = {"doe_summary": rep.summary(), "does": rep.limits()}
    files = write_run(out_dir, scn, prep, result, extra)
    out.print(
        f"[bold]{escape(model)}[/]: {result.outcome.status}; wrote {len(files)} files to {out_dir}"
    )
    for k in KPI_KEYS:
        out.print(f"  {k:28s} {result.kpis[k]}")
    _print_lifecycle(prep, result)
    if "doe_summary" in extra:
        d = extra["doe_summary"]
        out.print("[bold]DOEs[/] (mean total hosting MW over periods, AC-verified; Jain index):")
        for _, r in d.iterrows():
            kind = "export" if r.direction > 0 else "import"
            out.print(
                f"  {r.method:22s} {kind:6s} {r.hosting_mw:9.1f} MW  Jain {r.jain:.3f}  "
                f"unscaled AC pass {r.ac_pass_share:.0%}"
            )


def _print_lifecycle(prep: Any, result: Any) -> None:
    life, k = result.life, result.kpis
    reg = prep.registry.summary()
    out.print(
        f"[bold]registration[/]: {reg['registered']} DERs, {reg['qualified']} prequalified; "
        f"grid check blocks {len(prep.grid_check.reasons)} DER directions"
    )
    rep = life.stack
    why = rep.cuts.reason.str.split(":").str[0]
    out.print(
        f"[bold]stacking[/]: {len(rep.purchases)} purchase(s); cut {k['stacking_cut_mwh']} MWh "
        f"({', '.join(f'{r}: {n}' for r, n in why.value_counts().items()) or 'none'})"
    )
    out.print(
        f"[bold]delivery[/]: {k['delivered_mwh']} MWh delivered, {k['non_delivery_mwh']} MWh "
        f"not ({k['failed_ders']} DERs failed), rebound {k['rebound_mwh']} MWh; baseline "
        f"'{life.settlement.baseline}', mean absolute error per method: "
        + ", ".join(f"{m} {e['mae_mw']:.4f} MW" for m, e in life.baseline_errors.items())
    )
    bal = life.settlement.ledger.balances()
    out.print(
        "[bold]settlement[/] (net EUR, + = received): "
        + ", ".join(f"{p} {c / 100:,.2f}" for p, c in bal.items())
        + f"; ledger total {life.settlement.ledger.total_cents()} cents"
    )
    if life.contingency is not None:
        c = life.contingency.kpis(prep.scn.dt_h)
        out.print(
            f"[bold]contingency[/]: DSO overrode {c['dso_override_activations']} activations "
            f"({c['dso_override_mwh']} MWh); TSO emergency curtailment "
            f"{c['emergency_curtailment_mwh']} MWh, counter-activation "
            f"{c['emergency_counter_mwh']} MWh, EUR {c['emergency_cost_eur']:,.2f}"
        )


@app.command()
def sweep(
    vary: Annotated[
        list[str],
        typer.Option("--vary", help="FIELD=V1,V2 (dotted for tables, e.g. ders.battery_share)"),
    ],
    scenario: ScenarioOpt = "small",
    models: Annotated[
        str, typer.Option("--models", "-m", help="'all' or comma-separated model ids")
    ] = "smartnet-a,smartnet-d",
    out_dir: Annotated[Path, typer.Option("--out", help="writes sweep.csv here")] = Path(
        "out/sweep"
    ),
    scheduler: Annotated[
        str | None, typer.Option("--scheduler", help="dask.distributed address, tcp://...")
    ] = None,
    workers: Annotated[int, typer.Option("--workers", help="local processes (1 = serial)")] = 2,
) -> None:
    """Run a grid of scenario variants x models and write one KPI table."""
    import pandas as pd

    from tsodso.scale.sweep import parse_variations, run_sweep, sweep_points

    cfg = _config(scenario)
    chosen = _resolve_models(models, models_for(cfg))
    try:
        points = sweep_points(cfg, parse_variations(vary))
    except ScenarioConfigError as e:
        _fail(str(e))
    err.print(f"{len(points)} scenario points x {len(chosen)} models")
    rows = run_sweep(
        points,
        [m.id for m in chosen],
        scheduler=scheduler,
        workers=workers,
        on_done=lambda name: err.print(f"done: {name}", markup=False),
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    table = pd.DataFrame(rows)
    table.to_csv(out_dir / "sweep.csv", index=False)
    cols = [
        "scenario",
        "model",
        "status",
        "procurement_cost_eur",
        "social_welfare_eur",
        "unresolved_imbalance_mwh",
        "overload_mwh",
        "voltage_violations",
    ]
    out.print(table[cols].to_string(index=False), markup=False, highlight=False)
    out.print(f"wrote {out_dir / 'sweep.csv'} ({len(table)} rows)")


def main() -> None:  # pragma: no cover - console entry
    app()
