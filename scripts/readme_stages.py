"""Print the README's single-stage against day-ahead + real-time table from two
``tsodso compare --json`` outputs of the same scenario and models:

    tsodso compare -s small --models all --stages single --json > single.json
    tsodso compare -s small --models all --stages da_rt --json > da_rt.json
    .venv/bin/python scripts/readme_stages.py single.json da_rt.json
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


def main(single_path: str, staged_path: str) -> None:
    """One row per model: cost to serve at each setting, what real time bought, and the
    realised imbalance, overloads and voltage violations at each setting."""
    single, t1 = _kpis(single_path)
    staged, t2 = _kpis(staged_path)
    print(
        "| model | cost to serve EUR, single | da_rt | change | real-time MWh | real-time EUR "
        "| unmet MWh single / da_rt | overload MWh single / da_rt | V viol. single / da_rt |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for model, s in single.items():
        d = staged[model]
        a, b = s["cost_to_serve_eur"], d["cost_to_serve_eur"]
        change = f"{100 * (b - a) / a:+.1f} %" if a and b is not None else "-"
        print(
            f"| {model} | {_f(a, ',.0f')} | {_f(b, ',.0f')} | {change} "
            f"| {_f(d.get('rt_activated_mwh'), ',.1f')} "
            f"| {_f(d.get('rt_procurement_eur'), ',.0f')} "
            f"| {_f(s['unresolved_imbalance_mwh'], '.1f')} / "
            f"{_f(d['unresolved_imbalance_mwh'], '.1f')} "
            f"| {_f(s['overload_mwh'], '.2f')} / {_f(d['overload_mwh'], '.2f')} "
            f"| {_f(s['voltage_violations'], 'd')} / {_f(d['voltage_violations'], 'd')} |"
        )
    print(f"\nwall time: single {t1:.0f} s, da_rt {t2:.0f} s (ratio {t2 / t1:.2f})")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: readme_stages.py SINGLE.json DA_RT.json")
    main(sys.argv[1], sys.argv[2])
