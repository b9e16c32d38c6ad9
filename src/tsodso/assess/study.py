"""The whole assessment from finished points: representative days, annual figures and
intervals, cost ranking and its stability, costs per model and actor, NPV, multi-criteria
scores, tornado and switching values, and the ranked summary the CLI prints.

Owns: ``assessment_tables`` (every table, by name, as DataFrames) and ``summary`` (the
ranked table). Must not: run models or write files.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from tsodso.assess import annual, criteria, economics
from tsodso.assess.assumptions import Assumptions
from tsodso.assess.days import RepresentativeDay
from tsodso.assess.points import REFERENCE
from tsodso.schema.mechanism import Mechanism

#: the default reference of the benefits: the TSO alone, distribution flexibility unseen
STATUS_QUO = "smartnet-a"
#: switching values are searched for the assumptions with the largest NPV swings
TOP_ASSUMPTIONS = 8


def assessment_tables(
    rows: pd.DataFrame,
    days: Sequence[RepresentativeDay],
    periods: int,
    mechanisms: dict[str, Mechanism],
    assumptions: Assumptions,
    reference: str | None = None,
) -> dict[str, pd.DataFrame]:
    """Every table of the assessment, by name; benefits against ``reference`` (default:
    ``smartnet-a`` when it is assessed, else the uncoordinated day)."""
    if reference is None:
        reference = STATUS_QUO if STATUS_QUO in mechanisms else REFERENCE
    annual_t = annual.annual_table(rows, periods)
    ranking = annual.ranking(rows, periods)
    inp = economics.inputs_from(rows, annual_t, mechanisms, reference)
    central = assumptions.values()
    npv = economics.npv_table(inp, assumptions, central)
    torn = economics.tornado(inp, assumptions)
    top = list(dict.fromkeys(torn["assumption"]))[:TOP_ASSUMPTIONS]
    switching = economics.switching_values(inp, assumptions, top)
    first = annual_t[(annual_t["variant"] == annual_t["variant"].min()) & ~annual_t["additive"]]
    levels: dict[str, dict[str, float]] = {}
    for r in first.itertuples():
        levels.setdefault(str(r.model), {})[str(r.kpi)] = float(r.value)
    scores = criteria.scores(mechanisms, levels, assumptions)
    mca = criteria.mca_ranking(scores)
    used = pd.DataFrame(
        [
            {k: v for k, v in vars(a).items() if k != "when"}
            | {"when": "; ".join(f"{f} in {'/'.join(v)}" for f, v in a.when.items()) or "all"}
            for a in assumptions.items.values()
        ]
    )
    return {
        "days": pd.DataFrame([vars(d) for d in days]),
        "points": rows,
        "annual": annual_t,
        "ranking": ranking,
        "costs": economics.cost_items(inp, assumptions, central),
        "npv": npv,
        "criteria": scores,
        "mca": mca,
        "tornado": torn,
        "switching": switching,
        "assumptions": used,
        "summary": summary(ranking, npv, mca),
        "reference": pd.DataFrame([{"reference": reference}]),
    }


def summary(ranking: pd.DataFrame, npv: pd.DataFrame, mca: pd.DataFrame) -> pd.DataFrame:
    """The cost ranking beside the NPV and the multi-criteria ranking."""
    out = ranking.merge(npv, on="model", how="left").merge(mca, on="model", how="left")
    return out[out["model"] != REFERENCE].reset_index(drop=True)
