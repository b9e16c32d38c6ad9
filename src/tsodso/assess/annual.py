"""Weighted annual figures with 90 % intervals, and the stability of the ranking.

How a KPI becomes annual (per uptake variant and model): with representative days d of
weight w_d (days they stand for, summing to 366) and seeds s = 1..S per day,

- an additive KPI (costs, energies, counts of violations, messages, bytes, times) is
  ``A = sum_d w_d * f * mean_s x(d, s)`` where ``f = 96 / periods`` scales a run of fewer
  quarter-hours to its day (1 for full days);
- a level KPI (hosting MW, Jain index, parties, interfaces, branches, iterations) is the
  weighted mean ``sum_d w_d * mean_s x(d, s) / sum_d w_d``.

The 90 % interval is over the randomness of delivery and forecast errors: a resample picks
one seed for every day (independently; seeds are the same draws for every model, so a
resample keeps models comparable) and gives ``A* = sum_d a_d x(d, s_d)``; the interval is
the 5th and 95th percentile (numpy's ``inverted_cdf``, no interpolation) of A* over every
combination of seeds when there are at most 4,096 of them (all equally likely; exact), else
over 2,000 random combinations (seeded: the same every time). It does not cover the error
of representing a cluster of days by its medoid. The ranking's stability is the share of
the same resamples in which each model ranks first and in the top three by annual
``cost_to_serve_eur`` (lower is better; tied models share the better rank; a model
without a result ranks last).

Owns: those computations. Must not: run models or write files.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from tsodso.assess.points import REFERENCE

#: most seed combinations enumerated exactly; beyond, a seeded sample of RESAMPLES
EXACT_LIMIT = 4096
RESAMPLES = 2000
HEADLINE = "cost_to_serve_eur"
ADDITIVE_SUFFIXES = ("_eur", "_mwh", "_cents", "_s")
ADDITIVE_KEYS = (
    "messages",
    "market_messages",
    "message_bytes",
    "voltage_violations",
    "voltage_violations_distribution",
    "voltage_violations_transmission",
    "ac_unconverged_periods",
    "failed_ders",
)
#: columns of a point row that are keys, not KPIs
KEY_COLUMNS = ("id", "variant", "uptake", "day", "weight", "seed", "model", "status")


def additive(kpi: str) -> bool:
    """Whether ``kpi`` adds up over days (else it is a level, averaged)."""
    return kpi in ADDITIVE_KEYS or kpi.endswith(ADDITIVE_SUFFIXES)


def resamples(n_days: int, n_seeds: int) -> np.ndarray:
    """(C, n_days) seed indices: every combination when at most EXACT_LIMIT, else a
    seeded random sample of RESAMPLES."""
    if n_seeds**n_days <= EXACT_LIMIT:
        return np.array(list(itertools.product(range(n_seeds), repeat=n_days)), dtype=int)
    rng = np.random.default_rng(0)
    return rng.integers(0, n_seeds, size=(RESAMPLES, n_days))


def _cube(rows: pd.DataFrame, kpi: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Models, day weights and the (models, days, seeds) array of one variant's KPI."""
    pivot = rows.pivot_table(index=["model", "day"], columns="seed", values=kpi, dropna=False)
    models = sorted(rows["model"].unique())
    days = sorted(rows["day"].unique())
    seeds = sorted(rows["seed"].unique())
    full = pd.MultiIndex.from_product([models, days], names=["model", "day"])
    pivot = pivot.reindex(index=full, columns=seeds)
    cube = pivot.to_numpy(dtype=float).reshape(len(models), len(days), len(seeds))
    weights = rows.groupby("day")["weight"].first().reindex(days).to_numpy(dtype=float)
    return models, weights, cube


def _factors(kpi: str, weights: np.ndarray, periods: int) -> np.ndarray:
    out: np.ndarray = weights * (96.0 / periods) if additive(kpi) else weights / weights.sum()
    return out


def annual_samples(
    rows: pd.DataFrame, kpi: str, periods: int
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Models, the annual value of each and its (models, C) resampled annual values (one
    variant's rows)."""
    models, weights, cube = _cube(rows, kpi)
    a = _factors(kpi, weights, periods)
    value = (cube.mean(axis=2) * a).sum(axis=1)
    combos = resamples(cube.shape[1], cube.shape[2])
    days = np.arange(cube.shape[1])
    samples = (cube[:, days[None, :], combos] * a).sum(axis=2)  # (models, C)
    return models, value, samples


def annual_table(rows: pd.DataFrame, periods: int) -> pd.DataFrame:
    """Every numeric KPI's annual value with its 90 % interval, per variant and model."""
    kpis = [
        c for c in rows.columns if c not in KEY_COLUMNS and pd.api.types.is_numeric_dtype(rows[c])
    ]
    out = []
    for _, part in rows.groupby("variant"):
        for kpi in kpis:
            if part[kpi].isna().all():
                continue
            models, value, samples = annual_samples(part, kpi, periods)
            lo, hi = np.percentile(samples, [5, 95], axis=1, method="inverted_cdf")
            for i, m in enumerate(models):
                out.append(
                    {
                        "variant": int(part["variant"].iloc[0]),
                        "uptake": float(part["uptake"].iloc[0]),
                        "model": m,
                        "kpi": kpi,
                        "additive": additive(kpi),
                        "value": float(value[i]),
                        "p05": float(lo[i]),
                        "p95": float(hi[i]),
                    }
                )
    return pd.DataFrame(out)


def ranking(rows: pd.DataFrame, periods: int, kpi: str = HEADLINE) -> pd.DataFrame:
    """The models of the first variant ranked by annual ``kpi`` (lower is better) with the
    interval and the share of resamples in which each ranks first and in the top three."""
    part = rows[(rows["variant"] == rows["variant"].min()) & (rows["model"] != REFERENCE)]
    models, value, samples = annual_samples(part, kpi, periods)
    filled = np.where(np.isfinite(samples), samples, math.inf)
    # 1 = best in each resample; tied models (presets of one mechanism) share the best rank
    ranks = rankdata(filled, method="min", axis=0)
    lo, hi = np.percentile(samples, [5, 95], axis=1, method="inverted_cdf")
    table = pd.DataFrame(
        {
            "model": models,
            kpi: value,
            "p05": lo,
            "p95": hi,
            "share_first": (ranks == 1).mean(axis=1),
            "share_top3": (ranks <= 3).mean(axis=1),
        }
    )
    table = table.sort_values(kpi, na_position="last", kind="stable").reset_index(drop=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table
