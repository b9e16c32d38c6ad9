"""Result tables of one run as Parquet files plus a manifest (an edge: file formats).

Owns: the on-disk layout of ``tsodso run --out DIR``. Must not: compute results.
"""

from __future__ import annotations

import json
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

PACKAGES = (
    "tsodso",
    "numpy",
    "scipy",
    "pandas",
    "pandapower",
    "simbench",
    "highspy",
    "power-grid-model",
    "pydantic",
)


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = "not installed"
    return out


def write_run(out_dir: Path, scn: Any, prep: Any, result: Any) -> list[Path]:
    """Write activations, node results, KPIs, steps and messages; return the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    b, o = scn.bids, result.outcome
    acc = o.accepted_mw > 1e-9
    files: dict[str, pd.DataFrame] = {
        "activations": pd.DataFrame(
            {
                "der": scn.ders.id[b.der[acc]],
                "kind": scn.ders.kind[b.der[acc]],
                "aggregator": np.array(scn.aggregator_names)[b.aggregator[acc]],
                "node_bus": scn.grid.node_bus[b.node[acc]],
                "period": b.period[acc],
                "direction": np.where(b.direction[acc] > 0, "up", "down"),
                "q_max_mw": b.q_max_mw[acc],
                "accepted_mw": o.accepted_mw[acc],
                "price_eur_per_mwh": b.price_eur_per_mwh[acc],
                "payment_eur": o.payments_eur[acc],
            }
        ),
        "node_voltages": pd.DataFrame(result.ac.vm_pu, columns=[str(x) for x in scn.grid.node_bus])
        .rename_axis("period")
        .reset_index(),
        "branch_loading": pd.DataFrame(result.ac.branch_loading)
        .add_prefix("branch_")
        .rename_axis("period")
        .reset_index(),
        "unmet_imbalance": pd.DataFrame(
            {
                "period": np.arange(scn.periods),
                "imbalance_mw": scn.imbalance_mw,
                "unmet_mw": o.unmet_imbalance_mw,
            }
        ),
        "messages": o.messages.table(),
        "steps": pd.DataFrame([s.__dict__ for s in o.steps]),
        "kpis": pd.DataFrame([result.kpis]),
    }
    paths = []
    for name, df in files.items():
        p = out_dir / f"{name}.parquet"
        df.to_parquet(p, index=False)
        paths.append(p)
    manifest = {
        "model": result.model.as_dict(),
        "scenario": {
            "name": scn.config.name,
            "digest": scn.config.digest(),
            "config": scn.config.model_dump(mode="json"),
            "sizes": scn.sizes(),
        },
        "seed": scn.config.seed,
        "solver": {
            "status": str(o.status),
            "steps": [
                {
                    "name": s.name,
                    "status": s.status,
                    "objective_eur": s.objective_eur,
                    "solve_s": round(s.solve_s, 3),
                }
                for s in o.steps
            ],
        },
        "versions": package_versions(),
        "kpis": result.kpis,
        "files": [p.name for p in paths],
    }
    mp = out_dir / "manifest.json"
    mp.write_text(json.dumps(manifest, indent=2, default=str))
    return [*paths, mp]
