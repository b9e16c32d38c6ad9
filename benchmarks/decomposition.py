"""The decentralised models' decomposition on a full scenario: how close it gets to the
joint optimum and how fast (issue 13, target 2).

    .venv/bin/python benchmarks/decomposition.py [--preset default] [--time-limit 300]
        [--stages single]

Runs the joint market (SmartNet D, one LP over every feeder) and the iterative family
(SmartNet D decentralised: TSO master + one warm-started market per feeder, box-step
Benders) on the same prepared scenario, and prints the joint optimum, the decomposition's
best cost and lower bound, its gap, its distance to the joint optimum, iterations,
messages and wall time, both models at the same market stages (``--stages``, default
``single``: one clearing, so the joint optimum is one LP's; at ``da_rt`` the figures are
the day-ahead stage's and the times both stages'). A decomposition that stops at its time
limit says so; its best cost is a feasible point, its lower bound a proof of how far it
can be at most.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import table  # noqa: E402

from tsodso.coordination.catalogue import get_model  # noqa: E402
from tsodso.pipeline import prepare, run_model  # noqa: E402
from tsodso.scenario.build import build_scenario  # noqa: E402
from tsodso.schema.config import load_config  # noqa: E402


def main() -> None:
    """Print the table for the preset and time limit given."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--preset", default="default")
    ap.add_argument("--time-limit", type=float, default=300.0)
    ap.add_argument("--stages", default="single", choices=["single", "da_rt", "perfect"])
    args = ap.parse_args()
    prep = prepare(build_scenario(load_config(args.preset)), time_limit_s=args.time_limit)
    t0 = time.perf_counter()
    joint = run_model(prep, get_model("smartnet-d").at_stages(args.stages))
    t_joint = time.perf_counter() - t0
    t0 = time.perf_counter()
    dec = run_model(prep, get_model("smartnet-d-decentralised").at_stages(args.stages))
    t_dec = time.perf_counter() - t0
    optimum = joint.outcome.steps[0].objective_eur
    k = dec.kpis
    best = float(k["decomposition_best_eur"] or "nan")
    row = {
        "preset": args.preset,
        "stages": args.stages,
        "time_limit_s": args.time_limit,
        "joint_optimum_eur": f"{optimum:.2f}",
        "joint_s": round(t_joint, 1),
        "status": str(dec.outcome.status),
        "iterations": dec.outcome.iterations,
        "messages": k["messages"],
        "best_eur": f"{best:.2f}",
        "lower_bound_eur": f"{k['decomposition_lower_bound_eur']}",
        "gap": k["decomposition_gap"],
        "best/joint-1": f"{best / optimum - 1:.2e}",
        "decomposed_s": round(t_dec, 1),
    }
    print("## Decomposition vs joint optimum (same prepared scenario)")
    print(table([row]))


if __name__ == "__main__":
    main()
