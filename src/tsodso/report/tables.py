"""Result tables of one run as Parquet files plus a manifest (an edge: file formats).

Owns: the on-disk layout of ``tsodso run --out DIR`` (with the report's compact tables in
``details/``, see ``report.details``). Must not: compute results.
"""

from __future__ import annotations

import json
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tsodso.report.details import write_details

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


def _stacking(scn: Any, life: Any) -> pd.DataFrame:
    from tsodso.dispatch.stacking import stacking_report

    return stacking_report(scn, life.stack, life.settlement.paid_eur_by_buyer(len(scn.bids)))


def _messages(*logs: Any) -> pd.DataFrame:
    return pd.concat([log.table() for log in logs], ignore_index=True)


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = "not installed"
    return out


def _long(scn: Any, **series: np.ndarray) -> pd.DataFrame:
    """(D, T) arrays as one long table: der, period, one column per series."""
    D, T = len(scn.ders), scn.periods
    cols = {"der": np.repeat(scn.ders.id, T), "period": np.tile(np.arange(T), D)}
    return pd.DataFrame({**cols, **{k: v.ravel() for k, v in series.items()}})


def write_run(
    out_dir: Path, scn: Any, prep: Any, result: Any, extra: dict[str, pd.DataFrame] | None = None
) -> list[Path]:
    """Write every table of one run (clearing, registration, lifecycle, settlement) as
    Parquet plus a manifest; return the paths. ``extra`` adds tables (e.g. DOEs)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    scn = prep.scn  # the registered scenario: bids are the prequalified offers
    b, o, life = scn.bids, result.outcome, result.life
    dl, stl = life.delivery, life.settlement
    names = np.array(scn.aggregator_names)
    acts = []
    for p in life.stack.purchases:
        k = np.flatnonzero(p.accepted_mw > 1e-9)
        acts.append(
            pd.DataFrame(
                {
                    "buyer": p.buyer,
                    "step": p.step,
                    "der": scn.ders.id[b.der[k]],
                    "kind": scn.ders.kind[b.der[k]],
                    "aggregator": names[b.aggregator[k]],
                    "node_bus": scn.grid.node_bus[b.node[k]],
                    "period": b.period[k],
                    "direction": np.where(b.direction[k] > 0, "up", "down"),
                    "q_max_mw": b.q_max_mw[k],
                    "accepted_mw": p.accepted_mw[k],
                    "price_eur_per_mwh": b.price_eur_per_mwh[k],
                    "payment_eur": p.payments_eur[k],
                }
            )
        )
    files: dict[str, pd.DataFrame] = {
        "registrations": prep.registry.table,
        "grid_prequalification": prep.grid_check.reasons.drop(columns="der_pos"),
        "activations": pd.concat(acts, ignore_index=True),
        "stacking_cuts": life.stack.cuts,
        "stacking": _stacking(scn, life),
        "setpoints": _long(scn, nominated_mw=scn.ders.p_base_mw, setpoint_mw=dl.setpoint_mw),
        "metered": _long(
            scn,
            metered_mw=dl.metered_mw,
            true_baseline_mw=dl.true_base_mw,
            rebound_mw=dl.rebound_mw,
        ),
        "baselines": _long(scn, **{f"{m}_mw": v for m, v in life.baselines.items()}),
        "baseline_errors": pd.DataFrame(
            [{"method": m, **e} for m, e in life.baseline_errors.items()]
        ),
        "settlement_lines": stl.lines.drop(columns="bid"),
        "ledger": stl.ledger.postings,
        "statements": stl.ledger.statements(),
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
                "realised_flex_mw": dl.realised_flex_mw(),
                "der_baseline_error_mw": dl.baseline_error_mw(scn),
            }
        ),
        "messages": _messages(o.messages, life.messages),
        "steps": pd.DataFrame([s.__dict__ for s in o.steps]),
        "kpis": pd.DataFrame([result.kpis]),
        **(extra or {}),
    }
    paths = []
    for name, df in files.items():
        p = out_dir / f"{name}.parquet"
        df.to_parquet(p, index=False)
        paths.append(p)
    paths += write_details(out_dir, prep, [result])  # what `tsodso report` draws
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
        "files": [p.relative_to(out_dir).as_posix() for p in paths],
    }
    mp = out_dir / "manifest.json"
    mp.write_text(json.dumps(manifest, indent=2, default=str))
    return [*paths, mp]
