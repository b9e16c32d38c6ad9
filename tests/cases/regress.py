"""Regression cases stored as data: one folder per case under ``tests/cases`` with a
``case.toml`` (inputs, tolerances) and its expected outputs.

Run one case and show how its results differ from what is stored::

    .venv/bin/python -m tests.cases.regress small-all-models            # diff only
    .venv/bin/python -m tests.cases.regress small-all-models --accept   # write new expected

Nothing is overwritten without ``--accept``. The test suite discovers every folder
(``tests/cases/test_cases.py``).
"""

from __future__ import annotations

import argparse
import math
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

HERE = Path(__file__).parent


@dataclass(frozen=True)
class Case:
    name: str
    folder: Path
    spec: dict[str, Any]

    @property
    def expected_path(self) -> Path:
        return self.folder / self.spec.get("expected", "expected.csv")

    @property
    def ignored(self) -> set[str]:
        return set(self.spec.get("tolerance", {}).get("ignore", []))

    def tolerance(self, column: str) -> tuple[float, float]:
        tol = self.spec.get("tolerance", {})
        per = tol.get("columns", {}).get(column, {})
        a, r = per.get("abs", tol.get("abs", 0.0)), per.get("rel", tol.get("rel", 0.0))
        return float(a), float(r)


def cases() -> list[Case]:
    """Every case folder (a folder with a case.toml)."""
    return [
        Case(p.parent.name, p.parent, tomllib.loads(p.read_text()))
        for p in sorted(HERE.glob("*/case.toml"))
    ]


def case(name: str) -> Case:
    for c in cases():
        if c.name == name:
            return c
    raise SystemExit(f"no case {name!r}; cases: {', '.join(c.name for c in cases())}")


def compute(c: Case) -> pd.DataFrame:
    """The case's results as a table: one row per model, one column per KPI."""
    if c.spec["kind"] != "all_models":
        raise ValueError(f"case {c.name}: unknown kind {c.spec['kind']!r}")
    from tsodso.coordination.catalogue import models_for
    from tsodso.pipeline import prepare, run_model
    from tsodso.scenario.build import build_scenario
    from tsodso.schema.config import load_config

    spec = c.spec["scenario"]
    local = c.folder / spec
    cfg = load_config(str(local) if local.is_file() else spec)
    available = models_for(cfg)
    ids = list(available) if c.spec.get("models", "all") == "all" else c.spec["models"]
    prep = prepare(build_scenario(cfg))
    rows = []
    # ``stages``: run each model at these market stages (rows ``id@stages``) instead of its own
    stages = c.spec.get("stages", [])
    for mid in ids:
        for st in stages or [None]:
            preset = available[mid] if st is None else available[mid].at_stages(st)
            r = run_model(prep, preset)
            name = mid if st is None else f"{mid}@{st}"
            rows.append({"model": name, "status": str(r.outcome.status), **r.kpis})
    df = pd.DataFrame(rows).set_index("model")
    return df.drop(columns=[k for k in c.ignored if k in df.columns])


def differences(c: Case, got: pd.DataFrame, expected: pd.DataFrame) -> list[str]:
    """Every cell outside its tolerance, every missing or new row and column."""
    out: list[str] = []
    for m in expected.index.difference(got.index):
        out.append(f"model {m}: expected, not produced")
    for m in got.index.difference(expected.index):
        out.append(f"model {m}: produced, not expected")
    for k in expected.columns.difference(got.columns):
        out.append(f"column {k}: expected, not produced")
    for k in got.columns.difference(expected.columns):
        out.append(f"column {k}: produced, not expected")
    for m in expected.index.intersection(got.index):
        for k in expected.columns.intersection(got.columns):
            e, g = expected.at[m, k], got.at[m, k]
            if _same(e, g, *c.tolerance(k)):
                continue
            out.append(f"{m} {k}: expected {e!r}, got {g!r}")
    return out


def _same(e: Any, g: Any, abs_tol: float, rel_tol: float) -> bool:
    e_missing = e is None or (isinstance(e, float) and math.isnan(e))
    g_missing = g is None or (isinstance(g, float) and math.isnan(g))
    if e_missing or g_missing:
        return e_missing and g_missing
    try:
        ef, gf = float(e), float(g)
    except (TypeError, ValueError):
        return str(e) == str(g)
    return abs(gf - ef) <= abs_tol + rel_tol * abs(ef)


def load_expected(c: Case) -> pd.DataFrame:
    return pd.read_csv(c.expected_path, index_col="model")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("case", nargs="?", help="case folder name (default: every case)")
    ap.add_argument("--accept", action="store_true", help="write the new expected outputs")
    args = ap.parse_args(argv)
    chosen = [case(args.case)] if args.case else cases()
    bad = 0
    for c in chosen:
        got = compute(c)
        if c.expected_path.exists():
            # read back through CSV so that types compare as the test sees them
            tmp = c.folder / ".got.csv"
            got.to_csv(tmp)
            diff = differences(c, pd.read_csv(tmp, index_col="model"), load_expected(c))
            tmp.unlink()
        else:
            diff = [f"{c.expected_path.name}: does not exist yet"]
        print(f"{c.name}: {len(diff)} difference(s)")
        for d in diff:
            print(f"  {d}")
        if diff and args.accept:
            got.to_csv(c.expected_path)
            print(f"  wrote {c.expected_path}")
        bad += bool(diff) and not args.accept
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
