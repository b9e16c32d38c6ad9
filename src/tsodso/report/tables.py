"""Result tables of one run as Parquet files plus a manifest (an edge: file formats).

Owns: the on-disk layout of ``tsodso run --out DIR``. Must not: compute results.
"""

from __future__ import annotations

import json
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

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


def write_run(
    out_dir: Path, scn: Any, prep: Any, result: Any, extra: dict[str, pd.DataFrame] | None = None
) -> list[Path]:
    """Write every table of one run (clearing, registration, lifecycle, settlement) as
    Parquet plus a manifest; return the paths. ``extra`` adds tables (e.g. DOEs)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    scn = prep.scn  # the registered scenario: bids are the prequalified offers
    o = result.outcome
    files = {**result.tables(), **(extra or {})}
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
