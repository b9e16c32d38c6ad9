"""Performance of tsodso's stages, as tables of medians and ratios measured in one run.

    .venv/bin/python benchmarks/run.py [--repeats 3] [--full]

Stages: LP build + hand-over + extraction vs HiGHS solve time (central and joint market),
a DSO-side clearing as one LP vs split per feeder,
our DC-OPF vs pandapower's rundcopp on case118 (same objective asserted), the AC check per
feeder-interval vs a pandapower runpp call. ``--full`` adds the default scenario (96
quarter-hours, about a minute per repeat); without it only the 8-period preset runs.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandapower as pp

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "reference"))

from tsodso.clearing.market import clear_market, split_by_feeder  # noqa: E402
from tsodso.coordination.catalogue import get_model  # noqa: E402
from tsodso.coordination.context import ClearingCache, MarketContext  # noqa: E402
from tsodso.pipeline import prepare  # noqa: E402
from tsodso.scenario.build import build_scenario  # noqa: E402
from tsodso.schema.config import load_config  # noqa: E402


def median_time(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def bench_lp(presets: list[str], repeats: int) -> list[dict[str, Any]]:
    rows = []
    for name in presets:
        scn = build_scenario(load_config(name))
        ctx = prepare(scn).ctx
        for label, feeders in (("central", ()), ("joint", ctx.all_feeders)):
            spec = ctx.problem(scn.bids, feeders=feeders)
            # overhead per repeat (wall minus that repeat's own solve), then medians
            walls, solves = [], []
            for _ in range(repeats):
                t0 = time.perf_counter()
                c = clear_market(spec)
                walls.append(time.perf_counter() - t0)
                solves.append(c.solve_s)
            over = [w - s_ for w, s_ in zip(walls, solves, strict=True)]
            rows.append(
                {
                    "scenario": name,
                    "market": label,
                    "variables": c.n_variables,
                    "rows": c.n_constraints,
                    "nnz": c.nnz,
                    "wall_s": statistics.median(walls),
                    "solve_s": statistics.median(solves),
                    "overhead_s": statistics.median(over),
                    "overhead/solve": statistics.median(
                        [o / s_ for o, s_ in zip(over, solves, strict=True)]
                    ),
                }
            )
    return rows


def bench_dcopf(repeats: int) -> dict[str, Any]:
    from test_dcopf_vs_pandapower import case118_market  # the reference case of the tests

    net, scn = case118_market(line_rating_mw=175.0)
    t_pp, _ = median_time(lambda: pp.rundcopp(net, trafo_model="pi"), repeats)
    t_us, c = median_time(
        lambda: clear_market(MarketContext.uncalibrated(scn).problem(scn.bids)), repeats
    )
    assert abs(c.objective_eur - net.res_cost) / net.res_cost < 1e-5
    return {"ours_s": t_us, "pandapower_s": t_pp, "speed-up": t_pp / t_us}


def bench_ac(name: str, repeats: int) -> dict[str, Any]:
    scn = build_scenario(load_config(name))
    prep = prepare(scn)
    p, q = scn.node_injection_mw(), scn.node_q0_mvar
    t_pgm, _ = median_time(lambda: prep.ac_model.run(p, q), repeats)
    per = t_pgm / (scn.periods * len(scn.grid.feeders))
    net = copy.deepcopy(scn.net)
    net.load.drop(net.load.index, inplace=True)
    net.sgen.drop(net.sgen.index, inplace=True)
    for i, bus in enumerate(scn.grid.node_bus):
        pp.create_sgen(net, int(bus), p_mw=float(p[i, 0]), q_mvar=float(q[i, 0]))
    t_pp, _ = median_time(lambda: pp.runpp(net, calculate_voltage_angles=True), repeats)
    return {
        "scenario": name,
        "periods": scn.periods,
        "feeders": len(scn.grid.feeders),
        "batch_s": t_pgm,
        "us_per_feeder_interval": per * 1e6,
        "pandapower_runpp_one_period_s": t_pp,
        "speed-up per period": t_pp / (t_pgm / scn.periods),
    }


def table(rows: list[dict[str, Any]]) -> str:
    keys = list(rows[0])
    fmt = [f"{v:.4g}" if isinstance(v, float) else str(v) for r in rows for v in r.values()]
    width = [
        max(len(k), *(len(fmt[i * len(keys) + j]) for i in range(len(rows))))
        for j, k in enumerate(keys)
    ]
    lines = ["  ".join(k.rjust(w) for k, w in zip(keys, width, strict=True))]
    for i in range(len(rows)):
        lines.append("  ".join(fmt[i * len(keys) + j].rjust(width[j]) for j in range(len(keys))))
    return "\n".join(lines)


def bench_dso_split(presets: list[str], repeats: int) -> list[dict[str, Any]]:
    """A DSO-side clearing (every feeder, no balance, no DC lines) as one LP vs one LP per
    feeder on threads, merged (``MarketContext.clear``); same optimum asserted."""
    rows = []
    mech = get_model("smartnet-b").mechanism
    for name in presets:
        scn = build_scenario(load_config(name))
        ctx = prepare(scn).ctx
        spec = ctx.dso_problem(scn.bids, mech)
        t_one, one = median_time(lambda s=scn, sp=spec: clear_market(sp), repeats)
        # a context without cached clearings for every repeat
        t_split, split = median_time(
            lambda c=ctx, sp=spec: dataclasses.replace(c, cache=ClearingCache()).clear(sp), repeats
        )
        assert abs(split.objective_eur - one.objective_eur) <= 1e-9 * abs(one.objective_eur)
        rows.append(
            {
                "scenario": name,
                "LPs": len(split_by_feeder(spec)),
                "variables": one.n_variables,
                "one_lp_s": t_one,
                "per_feeder_s": t_split,
                "speed-up": t_one / t_split,
            }
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--full", action="store_true", help="add the 96-period default scenario")
    a = ap.parse_args()
    presets = ["small", "default"] if a.full else ["small"]
    print("## LP: our build + hand-over + extraction vs HiGHS solve (medians)")
    print(table(bench_lp(presets, a.repeats)))
    print("\n## DSO-side clearing: one LP vs one LP per feeder on threads (same optimum)")
    print(table(bench_dso_split(presets, a.repeats)))
    print("\n## Single-period DC-OPF, case118 with 175 MW line ratings (same objective)")
    print(table([bench_dcopf(max(a.repeats, 5))]))
    print("\n## AC check: power-grid-model batch vs one pandapower runpp")
    print(table([bench_ac(p, a.repeats) for p in presets]))
    print(f"\nmachine: {np.__version__=} python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
