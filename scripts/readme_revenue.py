"""Print the README's value-stacking table from one ``tsodso compare --json`` output: what
the aggregators earn in the wholesale stage and in the flexibility markets (per buyer role),
the batteries' own stack, the capacity reserved and the BRPs' imbalance:

    tsodso compare --models all --stages da_rt --json > da_rt.json
    .venv/bin/python scripts/readme_revenue.py da_rt.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def _f(value: Any, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def _share(part: float | None, whole: float | None) -> str:
    if part is None or not whole:
        return "-"
    return f"{100 * part / whole:.0f} %"


def main(path: str) -> None:
    """One row per model of the file."""
    doc = json.loads(Path(path).read_text())
    print(
        "| model | wholesale EUR | flexibility EUR | of it TSO / DSO / platform EUR "
        "| batteries: wholesale / flexibility EUR | flexibility share of the batteries' "
        "stack | reserved MWh (activated) | BRP imbalance MWh / EUR |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in doc["results"]:
        k = r["kpis"]
        sw, sf = k.get("storage_wholesale_eur"), k.get("storage_flexibility_eur")
        stack = None if sw is None or sf is None else sw + sf
        reserved = "-"
        if k.get("reserved_mwh") is not None:
            reserved = f"{k['reserved_mwh']:,.1f} ({k['reserved_activated_mwh']:,.1f})"
        print(
            f"| {r['model']} | {_f(k.get('aggregator_wholesale_eur'), ',.0f')} "
            f"| {_f(k.get('aggregator_flexibility_eur'), ',.0f')} "
            f"| {_f(k.get('aggregator_flex_tso_eur'), ',.0f')} / "
            f"{_f(k.get('aggregator_flex_dso_eur'), ',.0f')} / "
            f"{_f(k.get('aggregator_flex_mo_eur'), ',.0f')} "
            f"| {_f(sw, ',.0f')} / {_f(sf, ',.0f')} | {_share(sf, stack)} | {reserved} "
            f"| {_f(k.get('brp_imbalance_mwh'), ',.1f')} / "
            f"{_f(k.get('brp_imbalance_eur'), ',.0f')} |"
        )
    price = (
        doc["results"][0]["kpis"].get("wholesale_price_mean_eur_per_mwh")
        if doc["results"]
        else None
    )
    print(f"\nmean wholesale price (synthetic): {_f(price, '.2f')} EUR/MWh")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: readme_revenue.py COMPARE.json")
    main(sys.argv[1])
