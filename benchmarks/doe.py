"""Performance of dynamic operating envelopes, as tables of medians and ratios to targets.

    .venv/bin/python benchmarks/doe.py [--repeats 3] [--full]

(a) closed forms (``same_for_all``, ``proportional``) for 1,000,000 customers x 96 quarter-
    hours: the 18 simbench feeders of the default scenario (1,578 customers), each copied 634
    times; copy i has the day's forecast rotated by i quarter-hours (another feeder of the
    same type). An ``envelope`` call takes as many copies of a feeder as extra columns of the
    forecast as keep its arrays near 16 MB (larger ones cost page faults). Target 2 s.
(b) ``max_total`` for 100,000 customers in one interval: 63 copies of each feeder, copy i at
    quarter-hour 48 + i. One LP per feeder copy (1,134 LPs), one LP per feeder type with
    its copies as blocks (18 LPs), and one LP for all (``lp_envelopes``). Target 2 s.
(c) the LP methods over 96 periods: one block-diagonal LP per feeder and direction vs one
    LP per period (the former code), two feeders of the default scenario, both directions.
(d) the DOE report on the small preset (8 periods), per stage; ``--full`` adds the default
    scenario (96 periods, one run, about 20 s).

The scenario build and ``prepare`` (AC model, baseline) are not timed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import median_time, table  # noqa: E402

from tsodso.envelopes.doe import LP_METHODS, envelope, lp_envelopes  # noqa: E402
from tsodso.envelopes.report import connection_mw, customers, doe_report, feeder_states  # noqa: E402
from tsodso.grids.distflow import FeederState  # noqa: E402
from tsodso.pipeline import Prepared, prepare  # noqa: E402
from tsodso.scenario.build import build_scenario  # noqa: E402
from tsodso.schema.config import load_config  # noqa: E402

TARGET_S = 2.0


def _copies(st: FeederState, periods: np.ndarray) -> FeederState:
    return FeederState(st.v2[:, periods], st.p_flow[:, periods], st.q_flow[:, periods])


def bench_closed_forms(prep: Prepared, repeats: int, n_customers: int) -> list[dict[str, Any]]:
    scn, ctx = prep.scn, prep.ctx
    states = feeder_states(scn, ctx.forecast)
    cust = customers(scn)
    size = connection_mw(scn)
    per_copy = sum(len(c) for c in cust)
    copies = -(-n_customers // per_copy)
    T = scn.periods
    margin = scn.config.d_voltage_margin_pu
    rows = []
    for method in ("same_for_all", "proportional"):
        times, host = [], 0.0
        for _ in range(repeats):
            wall, host = 0.0, 0.0
            for f, st, c in zip(scn.grid.feeders, states, cust, strict=True):
                # copies per call: arrays of about 16 MB, reused by the allocator
                step = max(1, int(16e6 / (8 * (2 * f.n + 1) * T)))
                for first in range(0, copies, step):
                    k = np.arange(first, min(first + step, copies))
                    tiled = _copies(st, ((np.arange(T)[None, :] + k[:, None]) % T).ravel())
                    t0 = time.perf_counter()  # the copies' forecast is not timed
                    e = envelope(f, tiled, c, method, 1, weights=size[f.nodes[c]], margin_pu=margin)
                    wall += time.perf_counter() - t0
                    host += float(e.limit_mw.sum())
            times.append(wall)
        wall = statistics.median(times)
        rows.append(
            {
                "method": method,
                "customers": per_copy * copies,
                "intervals": T,
                "feeders": len(scn.grid.feeders) * copies,
                "median_s": wall,
                "target_s": TARGET_S,
                "ratio": wall / TARGET_S,
                "mean_hosting_mw": host / T,
            }
        )
    return rows


def bench_max_total(prep: Prepared, repeats: int, n_customers: int) -> list[dict[str, Any]]:
    scn, ctx = prep.scn, prep.ctx
    states = feeder_states(scn, ctx.forecast)
    cust = customers(scn)
    per_copy = sum(len(c) for c in cust)
    copies = -(-n_customers // per_copy)
    when = (48 + np.arange(copies)) % scn.periods
    margin = scn.config.d_voltage_margin_pu
    cases = [
        (f, _copies(st, when), c) for f, st, c in zip(scn.grid.feeders, states, cust, strict=True)
    ]

    def each_copy() -> float:
        host = 0.0
        for f, st, c in cases:
            for k in range(copies):
                e = envelope(f, _copies(st, np.array([k])), c, "max_total", margin_pu=margin)
                host += float(e.limit_mw.sum())
        return host

    def per_type() -> float:
        return sum(
            float(envelope(f, st, c, "max_total", margin_pu=margin).limit_mw.sum())
            for f, st, c in cases
        )

    def one_lp() -> float:
        return sum(float(e.limit_mw.sum()) for e in lp_envelopes(cases, "max_total", 1, margin))

    rows = []
    for label, fn, n_lp in (
        ("one LP per feeder copy", each_copy, len(cases) * copies),
        ("one LP per feeder type", per_type, len(cases)),
        ("one LP for all", one_lp, 1),
    ):
        wall, host = median_time(fn, repeats)
        rows.append(
            {
                "variant": label,
                "LPs": n_lp,
                "customers": per_copy * copies,
                "median_s": wall,
                "target_s": TARGET_S,
                "ratio": wall / TARGET_S,
                "hosting_mw": host,
            }
        )
    return rows


def bench_block_lp(prep: Prepared, repeats: int, feeders: tuple[int, ...]) -> list[dict[str, Any]]:
    scn, ctx = prep.scn, prep.ctx
    states = feeder_states(scn, ctx.forecast)
    cust = customers(scn)
    margin = scn.config.d_voltage_margin_pu
    rows = []
    for method in LP_METHODS:
        out = {}
        for per_period in (False, True):

            def run(method: str = method, per_period: bool = per_period) -> np.ndarray:
                return np.concatenate(
                    [
                        envelope(
                            scn.grid.feeders[k],
                            states[k],
                            cust[k],
                            method,
                            d,
                            margin_pu=margin,
                            per_period=per_period,
                        ).hosting_mw
                        for k in feeders
                        for d in (1, -1)
                    ]
                )

            out[per_period] = median_time(run, repeats)
        (t_one, h_one), (t_per, h_per) = out[False], out[True]
        rows.append(
            {
                "method": method,
                "feeder-directions": 2 * len(feeders),
                "periods": scn.periods,
                "one_lp_s": t_one,
                "per_period_s": t_per,
                "speed-up": t_per / t_one,
                "hosting_rel_diff": float(
                    np.max(np.abs(h_one - h_per) / np.maximum(np.abs(h_per), 1e-9))
                ),
            }
        )
    return rows


def bench_report(prep: Prepared, repeats: int) -> list[dict[str, Any]]:
    scn, ctx = prep.scn, prep.ctx
    wall, rep = median_time(
        lambda: doe_report(scn, prep.ac_model, prep.baseline, ctx.forecast),
        repeats,
    )
    rows: list[dict[str, Any]] = [
        {
            "scenario": scn.config.name,
            "stage": "forecast + customers",
            "s": rep.forecast_s,
            "ac_runs": 0,
            "ac_periods": 0,
        }
    ]
    for r in rep.runs:
        rows.append(
            {
                "scenario": scn.config.name,
                "stage": f"{r.method} {'export' if r.direction > 0 else 'import'}: envelopes",
                "s": r.compute_s,
                "ac_runs": 0,
                "ac_periods": 0,
            }
        )
        rows.append(
            {
                "scenario": scn.config.name,
                "stage": f"{r.method} {'export' if r.direction > 0 else 'import'}: AC check",
                "s": r.verify_s,
                "ac_runs": r.verified.ac_runs,
                "ac_periods": r.verified.ac_periods,
            }
        )
    rows.append(
        {
            "scenario": scn.config.name,
            "stage": f"report (median wall, {len(rep.runs)} runs)",
            "s": wall,
            "ac_runs": sum(r.verified.ac_runs for r in rep.runs),
            "ac_periods": sum(r.verified.ac_periods for r in rep.runs),
        }
    )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--full", action="store_true", help="add the default scenario's report")
    a = ap.parse_args()
    default = prepare(build_scenario(load_config("default")))
    print("## (a) closed-form DOEs, 1,000,000 customers x 96 intervals (medians)")
    print(table(bench_closed_forms(default, a.repeats, 1_000_000)))
    print("\n## (b) max_total, 100,000 customers in one interval (medians)")
    print(table(bench_max_total(default, a.repeats, 100_000)))
    print("\n## (c) LP methods over 96 periods: one LP vs one LP per period (medians)")
    print(table(bench_block_lp(default, a.repeats, (0, 7))))
    print("\n## (d) DOE report per stage (AC-verified, 6 methods x 2 directions)")
    rows = bench_report(prepare(build_scenario(load_config("small"))), a.repeats)
    if a.full:
        rows += bench_report(default, 1)
    print(table(rows))
    print(f"\nmachine: numpy {np.__version__}, python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
