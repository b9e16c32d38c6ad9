"""Wall time of the assessment's points (days x seeds x models) on 1 and 2 workers, and on
a 2-worker dask.distributed LocalCluster.

    .venv/bin/python benchmarks/assess.py [--preset small] [--days 2] [--seeds 2]
        [--models smartnet-a,smartnet-d,oen-hybrid,gridworks-idso] [--workers 1,2]

Runs ``assess.points.run_points`` on the first ``--days`` representative days of the
preset's year (the same choice as ``tsodso assess``) and ``--seeds`` seeds, one uptake
variant; every model of one (day, seed) point runs in one worker on one prepared scenario,
so identical clearings are solved once there. Prints one row per engine; the numbers of
every engine are asserted equal to the first one's (timing KPIs left out).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import table  # noqa: E402

from tsodso.assess.days import daily_profiles, representative_days  # noqa: E402
from tsodso.assess.points import plan_points, run_points  # noqa: E402
from tsodso.scale.sweep import TIMING_KEYS  # noqa: E402
from tsodso.schema.config import load_config  # noqa: E402


def _same(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows without timing keys, NaN as None (so that == compares them)."""
    return [
        {k: (None if v != v else v) for k, v in r.items() if k not in TIMING_KEYS} for r in rows
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--preset", default="small")
    ap.add_argument("--days", type=int, default=2)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--models", default="smartnet-a,smartnet-d,oen-hybrid,gridworks-idso")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--no-cluster", action="store_true", help="skip the LocalCluster row")
    args = ap.parse_args()
    cfg = load_config(args.preset)
    models = [m.strip() for m in args.models.split(",")]
    load, res = daily_profiles(cfg.grid, cfg.renewable_scale, cfg.load_scale)
    days = representative_days(load, res, args.days)
    seeds = [cfg.seed + i for i in range(args.seeds)]
    points = plan_points(cfg, [(d.day, d.weight) for d in days], seeds, [1.0], models, 300.0)
    out, first = [], None
    engines: list[tuple[str, int, str | None]] = [
        (f"{w} worker(s)" if w > 1 else "serial", w, None)
        for w in (int(x) for x in args.workers.split(","))
    ]
    if not args.no_cluster:
        engines.append(("LocalCluster 2 workers", 2, "cluster"))
    for label, workers, sched in engines:
        t0 = time.perf_counter()
        if sched is None:
            rows = run_points(points, models, 300.0, workers=workers)
        else:
            from dask.distributed import LocalCluster

            with LocalCluster(
                n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
            ) as cluster:
                t0 = time.perf_counter()  # the cluster's start-up is not counted
                rows = run_points(points, models, 300.0, scheduler=cluster.scheduler_address)
        wall = time.perf_counter() - t0
        if first is None:
            first = _same(rows)
        assert _same(rows) == first, f"{label}: numbers differ from the first engine"
        out.append(
            {
                "preset": args.preset,
                "days x seeds x models": f"{len(days)} x {len(seeds)} x {len(models)}",
                "engine": label,
                "wall s": wall,
                "s per point": wall / len(points),
            }
        )
    print(table(out))


if __name__ == "__main__":
    main()
