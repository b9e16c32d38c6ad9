"""Read an output directory into the data a report draws (an edge: files in, tables out).

The files are the contract, not the core's objects: ``compare --out`` writes
``comparison.json`` (and ``.csv``), ``run --out`` a ``manifest.json`` and Parquet tables,
``sweep --out`` a ``sweep.csv``; each may hold ``details/*.parquet`` (``report.details``).
Whatever a file lacks (an older output, a KPI added or renamed later) is left out of the
data and the report says so; nothing here fails on a missing optional key.

Owns: finding what an output directory holds and its tables. Must not: render.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from tsodso.report.details import DETAILS_DIR


class ReportInputError(ValueError):
    """The directory holds no output that a report can be made from."""


@dataclass(frozen=True)
class ReportData:
    """What an output directory holds, as tables. ``kind`` is ``compare``, ``run``,
    ``sweep`` or ``assess``. ``results`` has one row per model: ``model``, ``family`` and ``status``
    where known, then every KPI the files carry, as written."""

    kind: str
    source: Path
    scenario: dict[str, Any] = field(default_factory=dict)
    results: pd.DataFrame = field(default_factory=pd.DataFrame)
    models: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> manifest entry
    wall_time_s: float | None = None
    details: dict[str, pd.DataFrame] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)  # a run's own tables
    sweep: pd.DataFrame | None = None

    def detail(self, name: str) -> pd.DataFrame | None:
        """A ``details`` table, or None when the output has none."""
        return self.details.get(name)

    @property
    def model_ids(self) -> list[str]:
        return [str(m) for m in self.results.model] if "model" in self.results else []


def _details(d: Path) -> dict[str, pd.DataFrame]:
    sub = d / DETAILS_DIR
    if not sub.is_dir():
        return {}
    return {p.stem: pd.read_parquet(p) for p in sorted(sub.glob("*.parquet"))}


def _results(rows: list[dict[str, Any]]) -> pd.DataFrame:
    flat = []
    for r in rows:
        kpis = r.get("kpis") or {}
        head = {k: v for k, v in r.items() if k != "kpis" and not isinstance(v, dict | list)}
        flat.append({**head, **{k: v for k, v in kpis.items() if not isinstance(v, dict | list)}})
    return pd.DataFrame(flat)


def _compare(d: Path) -> ReportData:
    js, csv = d / "comparison.json", d / "comparison.csv"
    if js.is_file():
        doc = json.loads(js.read_text())
        results = _results(doc.get("results") or [])
        scenario = doc.get("scenario") or {}
        wall = doc.get("wall_time_s")
    else:
        results, scenario, wall = pd.read_csv(csv), {}, None
    return ReportData(
        "compare",
        d,
        scenario=scenario,
        results=results,
        wall_time_s=wall,
        details=_details(d),
    )


#: a run's own tables that the report reads (the rest stay on disk)
RUN_TABLES = ("doe_summary", "does")


def _run(d: Path) -> ReportData:
    man = json.loads((d / "manifest.json").read_text())
    model = man.get("model") or {}
    mid = str(model.get("id", "model"))
    kpis = man.get("kpis") or {}
    solver = man.get("solver") or {}
    row = {
        "model": mid,
        "family": model.get("family"),
        "status": solver.get("status"),
        **{k: v for k, v in kpis.items() if not isinstance(v, dict | list)},
    }
    tables = {
        n: pd.read_parquet(d / f"{n}.parquet") for n in RUN_TABLES if (d / f"{n}.parquet").is_file()
    }
    return ReportData(
        "run",
        d,
        scenario=man.get("scenario") or {},
        results=pd.DataFrame([row]),
        models={mid: model},
        details=_details(d),
        tables=tables,
    )


#: the tables of an assessment that the report draws (``tsodso assess --out``)
ASSESS_TABLES = ("summary", "ranking", "npv", "switching", "tornado", "costs", "days")


def _manifest(d: Path) -> dict[str, Any]:
    """The directory's ``manifest.json`` as a dict ({} when missing or not a JSON object)."""
    try:
        doc = json.loads((d / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def is_assessment(d: Path) -> bool:
    """Whether ``d`` is the output of ``tsodso assess`` (its manifest says so, or it holds
    the assessment's summary beside its streamed points)."""
    if _manifest(d).get("created_by") == "tsodso assess":
        return True
    return (d / "summary.parquet").is_file() and (d / "points").is_dir()


def _assess(d: Path) -> ReportData:
    man = _manifest(d)
    tables = {
        n: pd.read_parquet(d / f"{n}.parquet")
        for n in ASSESS_TABLES
        if (d / f"{n}.parquet").is_file()
    }
    name = man.get("scenario")
    return ReportData(
        "assess",
        d,
        scenario={"name": name} if isinstance(name, str) else {},
        results=tables.get("summary", pd.DataFrame()),
        wall_time_s=man.get("wall_time_s"),
        tables=tables,
    )


def _sweep(d: Path) -> ReportData:
    table = pd.read_csv(d / "sweep.csv")
    results = table.copy()
    return ReportData("sweep", d, results=results, sweep=table)


def load_output(path: str | Path) -> ReportData:
    """The data of a ``compare``, ``run``, ``sweep`` or ``assess`` output directory."""
    d = Path(path)
    if not d.is_dir():
        raise ReportInputError(
            f"{d}: not a directory (expected the --out of compare, run, sweep or assess)"
        )
    if (d / "comparison.json").is_file() or (d / "comparison.csv").is_file():
        return _compare(d)
    if is_assessment(d):
        return _assess(d)
    if (d / "manifest.json").is_file():
        return _run(d)
    if (d / "sweep.csv").is_file():
        return _sweep(d)
    raise ReportInputError(
        f"{d}: no comparison.json, manifest.json, sweep.csv or assessment summary (expected "
        "the --out directory of `tsodso compare`, `tsodso run`, `tsodso sweep` or "
        "`tsodso assess`)"
    )
