"""Print the README's stages table from ``tsodso compare --json`` outputs of the same
scenario: single stage, day-ahead + real time, and optionally perfect foresight (then the
cost of forecast error and gate closure, da_rt minus perfect, is a column of its own):

    tsodso compare -s small --models all --stages single --json > single.json
    tsodso compare -s small --models all --stages da_rt --json > da_rt.json
    tsodso compare -s small --models all --stages perfect --json > perfect.json
    tsodso compare -s small --models all --stages reserve_rt --json > reserve_rt.json
    .venv/bin/python scripts/readme_stages.py single.json da_rt.json [perfect.json
        [reserve_rt.json]]

Rows are the models of DA_RT.json (the single-stage file may hold more).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def _kpis(path: str) -> tuple[dict[str, dict[str, Any]], float]:
    doc = json.loads(Path(path).read_text())
    return {r["model"]: r["kpis"] for r in doc["results"]}, float(doc["wall_time_s"])


def _f(value: Any, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def _change(a: float | None, b: float | None) -> str:
    return f"{100 * (b - a) / a:+.1f} %" if a and b is not None else "-"


def main(
    single_path: str,
    staged_path: str,
    perfect_path: str | None = None,
    reserve_path: str | None = None,
) -> None:
    """One row per model: cost to serve at each setting, what real time bought, and the
    realised imbalance, overloads and voltage violations at each setting."""
    single, t1 = _kpis(single_path)
    staged, t2 = _kpis(staged_path)
    perfect, t3 = _kpis(perfect_path) if perfect_path else ({}, 0.0)
    reserve, t4 = _kpis(reserve_path) if reserve_path else ({}, 0.0)
    pf_head = " perfect | forecast error EUR |" if perfect_path else ""
    pf_head += " reserve_rt (reserved / activated MWh) |" if reserve_path else ""
    print(
        "| model | cost to serve EUR, single | da_rt | change |"
        + pf_head
        + " real-time MWh | real-time EUR "
        "| unmet MWh single / da_rt | overload MWh single / da_rt | V viol. single / da_rt |"
    )
    print(
        "|---|---:|---:|---:|"
        + ("---:|---:|" if perfect_path else "")
        + ("---:|" if reserve_path else "")
        + "---:|---:|---:|---:|---:|"
    )
    for model, d in staged.items():
        s = single[model]
        a, b = s["cost_to_serve_eur"], d["cost_to_serve_eur"]
        pf = ""
        if perfect_path:
            c = perfect[model]["cost_to_serve_eur"]
            err = None if b is None or c is None else b - c
            pf = f" {_f(c, ',.0f')} | {_f(err, ',.0f')} |"
        if reserve_path:
            r = reserve[model]
            pf += (
                f" {_f(r['cost_to_serve_eur'], ',.0f')} ({_f(r.get('reserved_mwh'), ',.0f')}"
                f" / {_f(r.get('reserved_activated_mwh'), ',.0f')}) |"
            )
        print(
            f"| {model} | {_f(a, ',.0f')} | {_f(b, ',.0f')} | {_change(a, b)} |{pf}"
            f" {_f(d.get('rt_activated_mwh'), ',.1f')} "
            f"| {_f(d.get('rt_procurement_eur'), ',.0f')} "
            f"| {_f(s['unresolved_imbalance_mwh'], '.1f')} / "
            f"{_f(d['unresolved_imbalance_mwh'], '.1f')} "
            f"| {_f(s['overload_mwh'], '.2f')} / {_f(d['overload_mwh'], '.2f')} "
            f"| {_f(s['voltage_violations'], 'd')} / {_f(d['voltage_violations'], 'd')} |"
        )
    times = f"single {t1:.0f} s, da_rt {t2:.0f} s (ratio {t2 / t1:.2f})"
    if perfect_path:
        times += f", perfect {t3:.0f} s"
    if reserve_path:
        times += f", reserve_rt {t4:.0f} s"
    print(f"\nwall time: {times}")


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4, 5):
        sys.exit("usage: readme_stages.py SINGLE.json DA_RT.json [PERFECT.json [RESERVE.json]]")
    main(*sys.argv[1:])
