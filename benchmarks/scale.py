"""How clearing time grows with size, and decomposed vs monolithic on the same case.

    .venv/bin/python benchmarks/scale.py [--preset small] [--copies 1,3,10] [--repeats 1]

Sizes are synthetic scalings of a real scenario (``scale.replicate``: every simbench feeder
copied k times behind its TDI with its DERs; transmission quantities multiplied), so the
joint optimum of k copies is exactly k times the original's. For each k it times the
central market (TSO, DC only), the joint market (one LP, every feeder), and the
decomposition (TSO master + one warm-started market per feeder, Benders cuts, feeders on
threads; its 300 s time limit applies), and the memory of a fresh process clearing the
joint LP per LP variable (resident memory sampled every 5 ms while it builds, solves and
extracts, above what the process held before). Ratios in the last table are against
k = 1, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import median_time, table  # noqa: E402

from tsodso.clearing.market import clear_market  # noqa: E402
from tsodso.coordination.catalogue import get_model  # noqa: E402
from tsodso.coordination.families.iterative import run_iterative  # noqa: E402
from tsodso.pipeline import prepare  # noqa: E402
from tsodso.scale.replicate import replicate  # noqa: E402
from tsodso.scenario.build import build_scenario  # noqa: E402
from tsodso.schema.config import load_config  # noqa: E402

_MEMORY = """
import json, os, sys, threading, time
from tsodso.clearing.market import clear_market
from tsodso.coordination.catalogue import get_model
from tsodso.pipeline import prepare
from tsodso.scale.replicate import replicate
from tsodso.scenario.build import build_scenario
from tsodso.schema.config import load_config

def rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

ctx = replicate(prepare(build_scenario(load_config(sys.argv[1]))).ctx, int(sys.argv[2]))
mech = get_model("smartnet-d").mechanism
spec = ctx.problem(ctx.scn.bids, mech, feeders=ctx.all_feeders)
before, peak, done = rss(), [0], []

def watch():
    while not done:
        peak[0] = max(peak[0], rss())
        time.sleep(0.005)

w = threading.Thread(target=watch)
w.start()
c = clear_market(spec)
done.append(1)
w.join()
print(json.dumps({"variables": c.n_variables, "before": before, "peak": max(peak[0], rss())}))
"""


def bench(preset: str, copies: list[int], repeats: int) -> list[dict[str, Any]]:
    prep = prepare(build_scenario(load_config(preset)))
    mech_j = get_model("smartnet-d").mechanism
    mech_c = get_model("smartnet-a").mechanism
    mech_i = get_model("smartnet-d-decentralised").mechanism
    rows = []
    for k in copies:
        ctx = replicate(prep.ctx, k)
        scn = ctx.scn
        t_c, cen = median_time(
            lambda c=ctx, s=scn: clear_market(c.problem(s.bids, mech_c, feeders=())), repeats
        )
        t_j, joint = median_time(
            lambda c=ctx, s=scn: clear_market(c.problem(s.bids, mech_j, feeders=c.all_feeders)),
            repeats,
        )
        t_d, dec = median_time(lambda c=ctx: run_iterative(c, mech_i), repeats)
        best = dec.steps[0].objective_eur
        gap = (best - joint.objective_eur) / abs(joint.objective_eur)
        mem = json.loads(
            subprocess.run(
                [sys.executable, "-c", _MEMORY, preset, str(k)],
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        rows.append(
            {
                "copies": k,
                "ders": len(scn.ders),
                "feeders": len(scn.grid.feeders),
                "periods": scn.periods,
                "bids": len(scn.bids),
                "central_vars": cen.n_variables,
                "central_s": t_c,
                "joint_vars": joint.n_variables,
                "joint_s": t_j,
                "decomposed_s": t_d,
                "iterations": dec.iterations,
                "status": str(dec.status),
                "gap_to_joint": gap,
                "joint_peak_mb": mem["peak"] / 2**20,
                "kb_per_variable": (mem["peak"] - mem["before"]) / 1024 / mem["variables"],
            }
        )
        if str(dec.status) == "optimal":
            assert abs(gap) <= 1e-3, f"decomposition {gap:.2e} from the joint optimum"
    return rows


def ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    r0 = rows[0]
    return [
        {
            "copies": r["copies"],
            "ders_ratio": r["ders"] / r0["ders"],
            "central_time_ratio": r["central_s"] / r0["central_s"],
            "joint_time_ratio": r["joint_s"] / r0["joint_s"],
            "decomposed_time_ratio": r["decomposed_s"] / r0["decomposed_s"],
            "decomposed/joint": r["decomposed_s"] / r["joint_s"],
        }
        for r in rows
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="small")
    ap.add_argument("--copies", default="1,3,10")
    ap.add_argument("--repeats", type=int, default=1)
    a = ap.parse_args()
    rows = bench(a.preset, [int(x) for x in a.copies.split(",")], a.repeats)
    print(f"## Scaling on the {a.preset!r} preset (medians of {a.repeats})")
    print(table(rows))
    print("\n## Ratios to 1 copy (same run)")
    print(table(ratios(rows)))


if __name__ == "__main__":
    main()
