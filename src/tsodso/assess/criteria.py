"""Multi-criteria ranking: each model scored 1..5 on the criteria of ``criteria.toml``
(from its mechanism parameters or from the annual value of one run KPI), combined as the
weighted mean ``sum_c w_c s_c / sum_c w_c`` with the user's weights (a criterion without a
score is left out of both sums for that model). Higher is better.

Owns: the score table and the ranking. Must not: run models or write files.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from tsodso.assess.assumptions import Assumptions
from tsodso.schema.mechanism import Mechanism


def scores(
    mechanisms: dict[str, Mechanism], levels: dict[str, dict[str, float]], assumptions: Assumptions
) -> pd.DataFrame:
    """One row per model and criterion: what was read, the score and the weight
    (``levels``: model -> KPI -> annual value)."""
    out = []
    for m, mech in mechanisms.items():
        for key, c in assumptions.criteria.items():
            read = str(getattr(mech, c.field)) if c.field else levels.get(m, {}).get(c.kpi or "")
            out.append(
                {
                    "model": m,
                    "criterion": key,
                    "reads": c.field or c.kpi,
                    "value": str(read),
                    "score": c.score(mech, levels.get(m, {})),
                    "weight": assumptions.weights.get(key, 0.0),
                }
            )
    return pd.DataFrame(out)


def mca_ranking(table: pd.DataFrame) -> pd.DataFrame:
    """The weighted score per model, ranked (highest first)."""
    rows = []
    for m, part in table.groupby("model", sort=False):
        ok = part[np.isfinite(part["score"]) & (part["weight"] > 0)]
        w = float(ok["weight"].sum())
        value = float((ok["score"] * ok["weight"]).sum() / w) if w > 0 else math.nan
        rows.append({"model": m, "mca_score": value})
    ranked = pd.DataFrame(rows).sort_values("mca_score", ascending=False, kind="stable")
    ranked.insert(0, "mca_rank", np.arange(1, len(ranked) + 1))
    return ranked.reset_index(drop=True)
