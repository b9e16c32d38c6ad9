"""Costs per model and actor, the net present value over a horizon, and its sensitivity.

The NPV of model m (EUR, price year of the assumptions), over years y = 1..H (H =
``horizon_years`` rounded), discount rate r, DER uptake factor ``u(y) = (1 + g)^y`` (g =
``der_growth_per_year``):

    NPV_m = - capex_m
            + sum_y [ (CtS_ref(y) - CtS_m(y))                       operational benefit
                      + (B_ref(y) - B_m(y)) * R * crf(r, L)          network benefit
                      - opex_m(y) ] / (1 + r)^y

- CtS: annual cost to serve (``annual``); ref = the reference: a selected model (by
  default ``smartnet-a``, the TSO alone with distribution flexibility unseen, today's
  status quo, when it is selected) or the uncoordinated day (no procurement, the baseline
  AC flow, the whole imbalance unmet at the penalty price; it has no delivery or forecast
  errors, which the models' realised days have, so it flatters itself where those errors
  are large: at high DER uptake).
- B: branches overloaded on the peak day (the largest, over the representative days, of the
  seed-mean count of branches above 100 % loading in any period of the AC check). Network
  benefit rule (an assumption): every branch the reference leaves overloaded and a model
  relieves (on balance) defers a reinforcement of R = ``reinforcement_per_branch`` EUR;
  the deferral is worth its annuity (capital recovery factor over L =
  ``reinforcement_life_years``) each year; a model that overloads more branches than the
  reference gets a negative benefit. The flexibility that defers it is already paid for in CtS.
- capex: items of kind capex (``assumptions.toml``) that apply to the model's mechanism,
  times their driver at the base uptake (areas, interfaces, parties ...); opex: items of
  kind opex times their driver in year y, plus staff (FTE) times ``staff_cost``.
- Every series over uptake (CtS, B, messages, bytes, parties, interfaces) is simulated at
  a few uptake factors (the variants) and linearly interpolated in u between them; beyond
  the simulated factors it is held at the nearest one (no extrapolation).

Sensitivity: the tornado sets each assumption to its low and high (the others central) and
recomputes every NPV; a switching value is the value, nearest to the central one, at which
the model first by NPV changes (searched on a grid from 0 to 100 x central on both sides,
refined by bisection), or none within that range.

Owns: those computations. Must not: run models or write files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tsodso.assess.annual import HEADLINE
from tsodso.assess.assumptions import Assumptions
from tsodso.assess.points import REFERENCE
from tsodso.schema.mechanism import Mechanism

#: the series an NPV reads, per model and uptake variant
SERIES = (HEADLINE, "messages", "message_bytes", "parties", "interfaces", "overloaded_branches")


@dataclass(frozen=True)
class Inputs:
    """What the NPV reads from the simulation."""

    models: list[str]
    mechanisms: dict[str, Mechanism]
    uptakes: np.ndarray  # (V,) uptake factor of each variant, increasing
    series: dict[str, dict[str, np.ndarray]]  # series -> model (and REFERENCE) -> (V,)
    areas: int  # distribution areas (feeders)
    reference: str = REFERENCE  # whose cost to serve and overloads the benefits are against


def inputs_from(
    rows: pd.DataFrame,
    annual: pd.DataFrame,
    mechanisms: dict[str, Mechanism],
    reference: str = REFERENCE,
) -> Inputs:
    """The NPV's inputs from the point rows and the annual table; benefits are counted
    against ``reference`` (a model of ``mechanisms`` or the uncoordinated day)."""
    variants = sorted(annual["variant"].unique())
    uptakes = np.array(
        [float(annual.loc[annual["variant"] == v, "uptake"].iloc[0]) for v in variants]
    )
    series: dict[str, dict[str, np.ndarray]] = {s: {} for s in SERIES}
    models = [m for m in mechanisms]
    peak = (
        rows.groupby(["variant", "model", "day"])["overloaded_branches"]
        .mean()
        .groupby(["variant", "model"])
        .max()
    )
    for m in [*models, REFERENCE]:
        for s in SERIES:
            vals = []
            for v in variants:
                if s == "overloaded_branches":
                    vals.append(float(peak.get((v, m), math.nan)))
                    continue
                hit = annual[
                    (annual["variant"] == v) & (annual["model"] == m) & (annual["kpi"] == s)
                ]
                vals.append(float(hit["value"].iloc[0]) if len(hit) else 0.0)
            series[s][m] = np.array(vals)
    order = np.argsort(uptakes)
    series = {s: {m: a[order] for m, a in d.items()} for s, d in series.items()}
    areas = int(rows["feeders"].max())
    return Inputs(models, mechanisms, uptakes[order], series, areas, reference)


def crf(rate: float, life: float) -> float:
    """Capital recovery factor: the annuity per EUR of capital over ``life`` years."""
    if life <= 0:
        return math.inf
    if rate == 0:
        return 1.0 / life
    return float(rate / (1.0 - (1.0 + rate) ** -life))


def _quantity(per: str, inp: Inputs, model: str, factors: np.ndarray) -> np.ndarray:
    """Driver of an item at each uptake factor."""
    if per == "once":
        return np.ones_like(factors)
    if per == "area":
        return np.full_like(factors, float(inp.areas))
    if per == "interface":
        return _interp(inp, "interfaces", model, factors)
    if per == "party":
        return _interp(inp, "parties", model, factors)
    if per == "kmessage":
        return _interp(inp, "messages", model, factors) / 1e3
    return _interp(inp, "message_bytes", model, factors) / 1e9  # gb


def _interp(inp: Inputs, series: str, model: str, factors: np.ndarray) -> np.ndarray:
    out: np.ndarray = np.interp(factors, inp.uptakes, inp.series[series][model])
    return out


def cost_items(inp: Inputs, assumptions: Assumptions, values: dict[str, float]) -> pd.DataFrame:
    """Every item each model incurs, with its actor: capex (EUR) and opex in year 1
    (EUR/year; staff included)."""
    g = values["der_growth_per_year"]
    out = []
    for m in inp.models:
        for key, a in assumptions.items.items():
            if a.kind == "parameter" or not a.applies(inp.mechanisms[m]):
                continue
            factor = np.array([1.0 if a.kind == "capex" else 1.0 + g])
            q = float(_quantity(a.per, inp, m, factor)[0])
            unit_cost = values[key] * (values["staff_cost"] if a.kind == "staff" else 1.0)
            out.append(
                {
                    "model": m,
                    "actor": a.actor,
                    "item": key,
                    "kind": a.kind,
                    "per": a.per,
                    "quantity": q,
                    "capex_eur": q * unit_cost if a.kind == "capex" else 0.0,
                    "opex_eur_year1": q * unit_cost if a.kind != "capex" else 0.0,
                }
            )
    return pd.DataFrame(out)


def npv_table(inp: Inputs, assumptions: Assumptions, values: dict[str, float]) -> pd.DataFrame:
    """Per model: capex, year-1 opex and benefits, and the NPV (EUR)."""
    r, g = values["discount_rate"], values["der_growth_per_year"]
    horizon = max(1, int(round(values["horizon_years"])))
    years = np.arange(1, horizon + 1)
    factors = (1.0 + g) ** years
    disc = (1.0 + r) ** -years
    annuity = values["reinforcement_per_branch"] * crf(r, values["reinforcement_life_years"])
    ref_cts = _interp(inp, HEADLINE, inp.reference, factors)
    ref_b = _interp(inp, "overloaded_branches", inp.reference, factors)
    base = np.array([1.0])
    out = []
    for m in inp.models:
        mech = inp.mechanisms[m]
        capex = 0.0
        opex = np.zeros(horizon)
        for key, a in assumptions.items.items():
            if a.kind == "parameter" or not a.applies(mech):
                continue
            if a.kind == "capex":
                q0 = _quantity(a.per, inp, m, base)
                capex += float(q0[0]) * values[key]
            else:
                q = _quantity(a.per, inp, m, factors)
                staff = values["staff_cost"] if a.kind == "staff" else 1.0
                opex += q * values[key] * staff
        operational = ref_cts - _interp(inp, HEADLINE, m, factors)
        network = (ref_b - _interp(inp, "overloaded_branches", m, factors)) * annuity
        npv = -capex + float(((operational + network - opex) * disc).sum())
        out.append(
            {
                "model": m,
                "capex_eur": capex,
                "opex_eur_year1": float(opex[0]),
                "operational_benefit_eur_year1": float(operational[0]),
                "network_benefit_eur_year1": float(network[0]),
                "npv_eur": npv,
            }
        )
    table = pd.DataFrame(out).sort_values("npv_eur", ascending=False, kind="stable")
    table.insert(0, "npv_rank", np.arange(1, len(table) + 1))
    return table.reset_index(drop=True)


def _leader(inp: Inputs, assumptions: Assumptions, values: dict[str, float]) -> str:
    return str(npv_table(inp, assumptions, values)["model"].iloc[0])


def tornado(inp: Inputs, assumptions: Assumptions) -> pd.DataFrame:
    """NPV per model and assumption at its low, central and high value (the others central),
    assumptions ordered by their largest swing over the models."""
    central = assumptions.values()
    mid = npv_table(inp, assumptions, central).set_index("model")["npv_eur"]
    out = []
    for key, a in assumptions.items.items():
        lo = npv_table(inp, assumptions, {**central, key: a.low}).set_index("model")["npv_eur"]
        hi = npv_table(inp, assumptions, {**central, key: a.high}).set_index("model")["npv_eur"]
        for m in inp.models:
            out.append(
                {
                    "assumption": key,
                    "model": m,
                    "low": a.low,
                    "central": a.central,
                    "high": a.high,
                    "npv_low_eur": float(lo[m]),
                    "npv_central_eur": float(mid[m]),
                    "npv_high_eur": float(hi[m]),
                    "swing_eur": abs(float(hi[m]) - float(lo[m])),
                }
            )
    table = pd.DataFrame(out)
    order = table.groupby("assumption")["swing_eur"].max().sort_values(ascending=False)
    table["order"] = table["assumption"].map({k: i for i, k in enumerate(order.index)})
    return table.sort_values(["order", "model"]).drop(columns="order").reset_index(drop=True)


def _switch(
    inp: Inputs, assumptions: Assumptions, key: str, direction: int, values: dict[str, float]
) -> tuple[float, str] | None:
    """The value of ``key`` nearest to central, on one side, where the leader changes."""
    c = values[key]
    leader = _leader(inp, assumptions, values)
    scale = c if c > 0 else max(assumptions.items[key].high, 1.0)
    if direction > 0:
        grid = c + scale * np.geomspace(1e-3, 100.0, 60)
    else:
        grid = c - min(c, scale) * np.geomspace(1e-3, 1.0, 40)
    prev = c
    for v in grid:
        who = _leader(inp, assumptions, {**values, key: float(v)})
        if who != leader:
            lo, hi = prev, float(v)
            for _ in range(30):
                mid = 0.5 * (lo + hi)
                if _leader(inp, assumptions, {**values, key: mid}) == leader:
                    lo = mid
                else:
                    hi = mid
            return hi, _leader(inp, assumptions, {**values, key: hi})
        prev = float(v)
    return None


def switching_values(inp: Inputs, assumptions: Assumptions, keys: list[str]) -> pd.DataFrame:
    """For each assumption in ``keys``: the value nearest to central (below and above) at
    which the first place by NPV changes, its ratio to central, the new leader and whether
    it lies within the assumption's low..high range."""
    values = assumptions.values()
    leader = _leader(inp, assumptions, values)
    out = []
    for key in keys:
        a = assumptions.items[key]
        found = [s for d in (-1, 1) if (s := _switch(inp, assumptions, key, d, values))]
        best = min(found, key=lambda s: abs(s[0] - a.central)) if found else None
        out.append(
            {
                "assumption": key,
                "unit": a.unit,
                "central": a.central,
                "leader": leader,
                "switching_value": best[0] if best else math.nan,
                "ratio_to_central": best[0] / a.central if best and a.central else math.nan,
                "new_leader": best[1] if best else None,
                "within_range": bool(best and a.low <= best[0] <= a.high),
            }
        )
    return pd.DataFrame(out)
