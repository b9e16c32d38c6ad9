"""The ``tsodso`` command line (an edge: it imports the core, never the reverse).

Commands: ``compare`` (run models on one scenario, print a KPI table or JSON), ``models``
(list the catalogue), ``run`` (one model, result tables as Parquet plus a manifest),
``sweep`` (scenario variants x models on Dask, one KPI table, resumable:
``cli.sweep_cmd``), ``assess`` (a year of
representative days, costs, NPV and criteria: ``cli.assess_cmd``).
User mistakes exit with status 2 and one message listing every problem (options, the
environment and the scenario together, before any work; ``cli.checks``); no traceback.
JSON output is strict (a missing value is null). The console entry is ``cli.entry``
(Ctrl-C: one line, exit status 130).
"""

from __future__ import annotations

import sys
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from tsodso.cli import assess_cmd, checks, report_cmd, sweep_cmd
from tsodso.cli.messages import (
    STANDARD_HELP,
    check_standard,
    encoding_of,
    messages_line,
    write_messages,
)
from tsodso.coordination.catalogue import ModelPreset, models_for
from tsodso.grids.model import GridModelError
from tsodso.grids.sources import GridCacheWarning, GridSourceError
from tsodso.kpi.metrics import KPI_KEYS
from tsodso.report.files import dumps_strict, output_dir_problems, write_atomic
from tsodso.scenario.domain import Scenario
from tsodso.schema.config import PRESETS, ScenarioConfig, ScenarioConfigError
from tsodso.schema.environment import environment_problems
from tsodso.schema.operating import PROTOCOL_FIELDS

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Run and compare TSO-DSO coordination models on a coupled T+D scenario.",
)
app.command("report")(report_cmd.report)
app.command("assess")(assess_cmd.assess)
app.command("sweep")(sweep_cmd.sweep)
# a wide console when piped, so tables are not cut to 80 columns
err = Console(stderr=True)
out = Console() if sys.stdout.isatty() else Console(width=220)

ScenarioOpt = Annotated[
    str,
    typer.Option("--scenario", "-s", help=f"preset ({', '.join(PRESETS)}) or a TOML file"),
]
StagesOpt = checks.StagesOpt
TimeLimitOpt = Annotated[
    float,
    typer.Option(
        "--time-limit",
        help="seconds allowed to each clearing and to an iterative decomposition as a "
        "whole (a model that reaches it reports status time_limit and its best result)",
    ),
]


def _fail(message: str) -> NoReturn:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    raise typer.Exit(code=2)


def _refuse(problems: list[str]) -> None:
    """Exit with one message when any option, variable or scenario problem was found."""
    if len(problems) == 1:
        _fail(problems[0])
    if problems:
        _fail(f"{len(problems)} problems\n" + "\n".join(f"  - {p}" for p in problems))


def _config(
    spec: str, problems: list[str] | None = None, models: str | None = None
) -> ScenarioConfig:
    """The scenario, after the options' and environment's ``problems`` and those of the
    ``models`` list, all reported together with the scenario's own."""
    from tsodso.api import load

    found = [*(problems or []), *environment_problems()]
    try:
        cfg = load(spec)
        if models is not None:
            found += _model_problems(models, models_for(cfg))
    except ScenarioConfigError as e:
        found.append(str(e))
    _refuse(found)
    return cfg


def _resolve_models(spec: str, available: dict[str, ModelPreset]) -> list[ModelPreset]:
    _refuse(_model_problems(spec, available))
    if spec.strip() == "all":
        return list(available.values())
    return [available[s.strip()] for s in spec.split(",") if s.strip()]


def _at_stages(chosen: list[ModelPreset], stages: str) -> list[ModelPreset]:
    """The models with their markets at ``stages`` ('model': as each declares)."""
    return [p.at_stages(stages) for p in chosen]


def _model_problems(spec: str, available: dict[str, ModelPreset]) -> list[str]:
    if spec.strip() == "all":
        return []
    ids = [s.strip() for s in spec.split(",") if s.strip()]
    unknown = [i for i in ids if i not in available]
    problems = []
    if not ids:
        problems.append("--models is empty: expected 'all' or comma-separated model ids")
    if unknown:
        problems.append(
            f"unknown model id(s): {', '.join(unknown)}; expected 'all' or ids from "
            "`tsodso models` (e.g. smartnet-a, smartnet-d) or [models.ID] tables of the "
            "scenario file"
        )
    if twice := checks.repeated(ids):
        problems.append(f"--models names {', '.join(twice)} more than once")
    return problems


def _build(cfg: ScenarioConfig, quiet: bool) -> Scenario:
    from tsodso.scenario.build import build_scenario

    status = f"building scenario {escape(repr(cfg.name))} (first build of a grid is cached)"
    with (
        err.status(status, spinner="dots") if not quiet else _Null(),
        warnings.catch_warnings(record=True) as said,
    ):
        warnings.simplefilter("always", GridCacheWarning)
        try:
            scn = build_scenario(cfg)
        except (GridSourceError, GridModelError) as e:
            _fail(f"scenario {cfg.name!r}: field grid: {e}")
        except ScenarioConfigError as e:
            _fail(str(e))
        finally:
            for w in said:
                if issubclass(w.category, GridCacheWarning):
                    err.print(f"warning: {w.message}", markup=False, highlight=False)
    return scn


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


def _run_models(
    scn: Scenario,
    models: list[ModelPreset],
    quiet: bool,
    time_limit_s: float,
    keep: Any = None,
) -> tuple[list[dict[str, Any]], Any]:
    from tsodso.comparison import compare
    from tsodso.pipeline import prepare

    prep = prepare(scn, time_limit_s=time_limit_s)
    with _progress(quiet) as prog:
        task = prog.add_task("clearing", total=len(models))
        t0 = [time.perf_counter()]

        def done(res: Any) -> None:
            if keep is not None:  # the report's tables of this run (report_cmd)
                keep(prep, res)
            if not quiet and not err.is_terminal:  # no live bar: one line per model
                took = time.perf_counter() - t0[0]
                err.print(f"{escape(res.model.id)}: {res.outcome.status} in {took:.1f} s")
            t0[0] = time.perf_counter()
            prog.advance(task)
            prog.update(task, description="clearing")

        cmp = compare(prep, models, on_result=done)
    return cmp.records(), prep


@app.command()
def compare(
    scenario: ScenarioOpt = "default",
    models: Annotated[
        str, typer.Option("--models", "-m", help="'all' or comma-separated model ids")
    ] = "smartnet-a,smartnet-d",
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
    out_dir: Annotated[
        str | None, typer.Option("--out", help="also write comparison.json and .csv here")
    ] = None,
    time_limit: TimeLimitOpt = 300.0,
    report: Annotated[
        Path | None, typer.Option("--report", help="also write the HTML report (tsodso report)")
    ] = None,
    stages: StagesOpt = "model",
) -> None:
    """Run coordination models on one scenario and compare their KPIs."""
    t0 = time.perf_counter()
    problems = checks.time_limit_problems(time_limit) + checks.stage_problems(stages)
    if out_dir is not None:
        problems += output_dir_problems("--out", out_dir)
    cfg = _config(scenario, problems, models)
    chosen = _at_stages(_resolve_models(models, models_for(cfg)), stages)
    scn = _build(cfg, quiet=as_json)
    details = report_cmd.collector() if out_dir or report else None  # what a report draws
    results, prep = _run_models(
        scn, chosen, quiet=as_json, time_limit_s=time_limit, keep=details and details.add
    )
    doc = {
        "scenario": prep.summary(),
        "stages": stages,
        "results": results,
        "wall_time_s": round(time.perf_counter() - t0, 2),
    }
    if out_dir is not None:
        import pandas as pd

        where = Path(out_dir)
        where.mkdir(parents=True, exist_ok=True)
        write_atomic(where / "comparison.json", dumps_strict(doc) + "\n")
        table = pd.DataFrame(
            [{"model": r["model"], "status": r["status"], **r["kpis"]} for r in results]
        )
        write_atomic(where / "comparison.csv", table.to_csv(index=False))
    if details is not None:
        report_cmd.finish_compare(doc, details, None if out_dir is None else Path(out_dir), report)
    if as_json:
        sys.stdout.write(dumps_strict(doc) + "\n")
        return
    _print_table(doc)


def _print_table(doc: dict[str, Any]) -> None:
    s = doc["scenario"]
    sz, base = s["sizes"], s["baseline"]
    dsos = f" ({sz['dsos']} DSOs)" if "dsos" in sz else ""  # (outputs written before DSOs)
    out.print(
        f"[bold]scenario[/] {escape(s['name'])} ({s['digest']}): {sz['buses']} buses, "
        f"{sz['feeders']} feeders{dsos}, {sz['ders']} DERs, {sz['bids']} bids, "
        f"{sz['periods']} periods"
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
    if doc.get("stages", "model") != "model":
        out.print(f"[bold]stages[/]: {doc['stages']} for every model")
    cols = [
        ("cost_to_serve_eur", "cost to serve EUR", "{:,.0f}"),  # the headline (kpi.cost)
        ("procurement_cost_eur", "procured EUR", "{:,.0f}"),
        ("tso_cost_eur", "TSO EUR", "{:,.0f}"),
        ("dso_cost_eur", "DSO EUR", "{:,.0f}"),
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
        ("message_bytes", "kB (encoding)", "{}"),
        ("wall_time_s", "time s", "{:.1f}"),
    ]
    table = Table(show_lines=False)
    table.add_column("model")
    table.add_column("status")
    for _, head, _ in cols:
        table.add_column(head, justify="right")
    for r in doc["results"]:
        k = r["kpis"]
        row = [escape(r["model"]), r["status"]]
        for key, _, fmt in cols:
            if k.get(key) is None:
                row.append("-")
            elif key == "message_bytes":
                row.append(f"{k[key] / 1000:,.0f} {encoding_of(k)}")
            else:
                row.append(fmt.format(k[key]))
        table.add_row(*row)
    out.print(table)
    out.print(f"total wall time {doc['wall_time_s']} s")


def catalogue_markdown(available: dict[str, ModelPreset]) -> str:
    """The models as a Markdown table (the README's model list is this output)."""
    keys = ("operator", "sequence", "d_constraints", "d_path", "priority", "interface")
    head = "| id | name | region | family | " + " | ".join(keys) + " |"
    rows = [head, "|" + "---|" * (4 + len(keys))]
    for m in available.values():
        p = m.mechanism.as_dict()
        label = p["operator_label"] or p["operator"]
        vals = [label if k == "operator" else str(p[k]) for k in keys]
        rows.append(f"| {m.id} | {m.name} | {m.region} | {m.family} | " + " | ".join(vals) + " |")
    return "\n".join(rows) + "\n"


def protocols_markdown(available: dict[str, ModelPreset]) -> str:
    """The models' operating protocols as a Markdown table (the README's protocol table
    is this output)."""
    keys = PROTOCOL_FIELDS
    rows = ["| id | " + " | ".join(keys) + " |", "|" + "---|" * (1 + len(keys))]
    for m in available.values():
        p = m.protocol.model_dump()
        vals = [str(p[k]).lower() if isinstance(p[k], bool) else str(p[k]) for k in keys]
        rows.append(f"| {m.id} | " + " | ".join(vals) + " |")
    return "\n".join(rows) + "\n"


@app.command("models")
def list_models(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    markdown: Annotated[
        bool, typer.Option("--markdown", help="print a Markdown table (the README's list)")
    ] = False,
    scenario: Annotated[
        str | None,
        typer.Option("--scenario", "-s", help="also list the models of this scenario's file"),
    ] = None,
    protocols: Annotated[
        bool,
        typer.Option("--protocols", help="list each model's operating protocol and its basis"),
    ] = False,
) -> None:
    """List every registered coordination model: parameters, source and description (or,
    with --protocols, its operating protocol)."""
    from tsodso.coordination.catalogue import CATALOGUE

    available = models_for(_config(scenario)) if scenario else CATALOGUE
    if as_json:
        rows = [m.as_dict() for m in available.values()]
        sys.stdout.write(dumps_strict({"models": rows}) + "\n")
        return
    if markdown:
        sys.stdout.write((protocols_markdown if protocols else catalogue_markdown)(available))
        return
    table = Table(show_lines=True)
    if protocols:
        for c in ("id", *PROTOCOL_FIELDS, "basis"):
            table.add_column(c, overflow="fold")
        for m in available.values():
            p = m.protocol.model_dump()
            table.add_row(
                escape(m.id), *(str(p[k]) for k in PROTOCOL_FIELDS), escape(m.protocol_basis)
            )
        out.print(table)
        return
    keys = ("operator_label", "sequence", "d_constraints", "d_path", "priority", "interface")
    for c in ("id", "region", "family", "operator", *keys[1:], "source and description"):
        table.add_column(c, overflow="fold")
    for m in available.values():
        p = m.mechanism.as_dict()
        p["operator_label"] = p["operator_label"] or p["operator"]
        text = f"{m.source}. {m.description}"
        if m.interpretation:
            text += f" Interpretation: {m.interpretation}"
        table.add_row(
            *(escape(x) for x in (m.id, m.region, m.family, *(str(p[k]) for k in keys), text))
        )
    out.print(table)


@app.command()
def run(
    ctx: typer.Context,
    model: Annotated[str, typer.Option("--model", help="model id (see `tsodso models`)")],
    out_dir: Annotated[
        str,
        typer.Option(
            "--out",
            help="directory for result tables, written whole; a non-empty one that is not an "
            "earlier run's needs --replace",
        ),
    ],
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
    replace: Annotated[
        bool, typer.Option("--replace", help="replace a non-empty --out directory whole")
    ] = False,
    standard: Annotated[str, typer.Option(help=STANDARD_HELP)] = "region",
    stages: StagesOpt = "model",
) -> None:
    """Run one model through the whole lifecycle (registration, clearing, stacking,
    delivery, baselines, settlement, contingency rules) and write every table (Parquet),
    its messages in its region's standard (one zip per encoding) and a manifest. Exit
    status 1 when the model reaches no solution."""
    from tsodso.pipeline import prepare, run_model
    from tsodso.report.tables import run_dir_problems, write_run

    started = datetime.now(UTC).isoformat(timespec="seconds")
    std = check_standard(standard) if standard != "region" else None  # checked up front
    problems = checks.time_limit_problems(time_limit) + run_dir_problems(out_dir, replace)
    cfg = _config(scenario, problems + checks.stage_problems(stages), model)
    chosen = _at_stages(_resolve_models(model, models_for(cfg)), stages)
    if len(chosen) != 1:
        _fail(f"--model {model!r}: expected one model id, got {len(chosen)}")
    preset = chosen[0]
    scn = _build(cfg, quiet=False)
    prep = prepare(scn, time_limit_s=time_limit)
    with err.status(f"running {model}", spinner="dots"):
        result = run_model(prep, preset, with_history=True, standard=std)
    extra = {}
    if doe:
        from tsodso.envelopes.report import doe_report

        with err.status("dynamic operating envelopes: every method, AC-verified", spinner="dots"):
            rep = doe_report(prep.scn, prep.ac_model, prep.baseline, prep.forecast)
        extra = {"doe_summary": rep.summary(), "does": rep.limits()}
    context = {
        "started_utc": started,
        "command_line": sys.argv,
        "options": ctx.params,
    }
    try:
        files = write_run(
            Path(out_dir),
            scn,
            prep,
            result,
            extra,
            replace,
            context,
            also=lambda d: write_messages(result, d),
        )
    except (FileExistsError, OSError) as e:
        _fail(f"--out {out_dir}: {e}")
    out.print(
        f"[bold]{escape(model)}[/]: {result.outcome.status}; wrote {len(files)} files to "
        f"{escape(out_dir)}"
    )
    for k in KPI_KEYS:
        v = result.kpis[k]
        out.print(f"  {k:28s} {'-' if v is None else v}")
    if not result.outcome.has_solution:
        err.print(f"{escape(model)}: no solution ({result.outcome.status}); no results to show")
        raise typer.Exit(code=1)
    _print_lifecycle(prep, result)
    from tsodso.kpi.unmet import summary

    out.print(f"[bold]unmet needs[/]: {escape(summary(result.unmet_needs()))}")
    out.print(messages_line(result))
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
            f"{c['emergency_counter_mwh']} MWh, EUR {c['emergency_cost_eur']:,.2f}; "
            f"{c['red_feeder_periods']} red feeder-periods: {c['red_light_blocked_bids']} "
            f"bids blocked, DSO curtailment {c['dso_curtailment_mwh']} MWh, envelopes "
            f"tightened {c['envelope_tightening_mwh']} MWh; {c['lost_instruction_bids']} "
            f"lost instruction(s) ({c['lost_ordered_mwh']} MWh ordered, "
            f"{c['lost_executed_mwh']} MWh executed)"
        )


def main() -> None:  # pragma: no cover - console entry
    app()
