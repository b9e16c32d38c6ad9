"""Market stages: the wall time of a model run with one clearing (``single``) against a
day-ahead plus real-time one (``da_rt``), each on its own freshly prepared scenario so
that no clearing is shared between the two (issue 14: the staged run within 2x).

    .venv/bin/python benchmarks/stages.py [--full] [--repeats 3]

``--catalogue DIR`` instead times the main job itself, every model of the catalogue on the
default scenario, once per stage setting, each a fresh ``tsodso compare`` process (nothing
shared between settings), and keeps each comparison under DIR/<stages>/ (the README's
tables are printed from them by ``scripts/readme_*.py``):

    .venv/bin/python benchmarks/stages.py --catalogue /tmp/stages [--stages single,da_rt]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from tsodso.coordination.catalogue import get_model
from tsodso.pipeline import prepare, run_model
from tsodso.scenario.build import build_scenario
from tsodso.schema.config import load_config
from tsodso.schema.mechanism import Stages

MODELS = ("smartnet-a", "smartnet-b", "smartnet-d", "oen-hybrid", "coordinet-fragmented")


def _time(scenario: str, model: str, stages: Stages, repeats: int) -> tuple[float, float]:
    scn = build_scenario(load_config(scenario))
    walls, rt = [], 0.0
    for _ in range(repeats):
        prep = prepare(scn)
        t0 = time.perf_counter()
        res = run_model(prep, get_model(model).at_stages(stages))
        walls.append(time.perf_counter() - t0)
        rt = float(res.kpis.get("rt_activated_mwh") or 0.0)
    return statistics.median(walls), rt


def catalogue(out: Path, scenario: str, stages: list[str]) -> None:
    """Time ``tsodso compare --models all`` once per stage setting (fresh processes)."""
    rows = []
    for st in stages:
        folder = out / st
        t0 = time.perf_counter()
        subprocess.run(
            [
                str(Path(sys.executable).parent / "tsodso"),
                "compare",
                "-s",
                scenario,
                "--models",
                "all",
                "--stages",
                st,
                "--out",
                str(folder),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        wall = time.perf_counter() - t0
        doc = json.loads((folder / "comparison.json").read_text())
        rows.append(
            {
                "stages": st,
                "models": len(doc["results"]),
                "process_s": round(wall, 1),
                "compare_s": doc["wall_time_s"],
            }
        )
    df = pd.DataFrame(rows)
    df["ratio"] = (df.compare_s / df.compare_s.iloc[0]).round(2)
    print(f"## The main job at each stage setting ({scenario}, every model; one run each)")
    print(df.to_string(index=False))


def main() -> None:
    """Print one row per scenario and model: medians of each setting and their ratio."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--full", action="store_true", help="also the 96-period default scenario")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--catalogue", type=Path, help="time the main job per stage setting here")
    ap.add_argument("--scenario", default="default", help="with --catalogue")
    ap.add_argument("--stages", default="single,da_rt", help="with --catalogue")
    args = ap.parse_args()
    if args.catalogue is not None:
        catalogue(args.catalogue, args.scenario, args.stages.split(","))
        return
    rows = []
    for scenario in ("small", "default") if args.full else ("small",):
        for model in MODELS:
            single, _ = _time(scenario, model, "single", args.repeats)
            staged, rt_mwh = _time(scenario, model, "da_rt", args.repeats)
            rows.append(
                {
                    "scenario": scenario,
                    "model": model,
                    "single_s": round(single, 3),
                    "da_rt_s": round(staged, 3),
                    "ratio": round(staged / single, 2),
                    "rt_activated_mwh": round(rt_mwh, 1),
                }
            )
    print("## Market stages: single vs day-ahead + real time (medians)")
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
