"""Models run at once by ``compare`` (``TSODSO_MODEL_THREADS``): the wall time of a whole
comparison with 1 thread (each model alone) against several, each on its own freshly
prepared scenario so that no clearing is shared between the settings (issue 13).

    .venv/bin/python benchmarks/models_at_once.py [--scenario small] [--threads 1,2]
        [--models all] [--repeats 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import pandas as pd

from tsodso.comparison import compare
from tsodso.pipeline import prepare
from tsodso.scenario.build import build_scenario
from tsodso.schema.config import load_config


def main() -> None:
    """Print one row per thread count: median wall, models, and the speed-up over 1."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scenario", default="small")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--models", default="all")
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()
    scn = build_scenario(load_config(args.scenario))
    rows = []
    for n in [int(x) for x in args.threads.split(",")]:
        os.environ["TSODSO_MODEL_THREADS"] = str(n)
        walls = []
        for _ in range(args.repeats):
            prep = prepare(scn)
            t0 = time.perf_counter()
            cmp = compare(prep, args.models)
            walls.append(time.perf_counter() - t0)
        rows.append(
            {
                "scenario": args.scenario,
                "models": len(cmp.runs),
                "threads": n,
                "wall_s": round(statistics.median(walls), 1),
            }
        )
    df = pd.DataFrame(rows)
    df["speed_up"] = (df.wall_s.iloc[0] / df.wall_s).round(2)
    print(f"## compare: models at once (medians of {args.repeats}; cores: {os.cpu_count()})")
    print(df.to_string(index=False))


if __name__ == "__main__":
    main()
