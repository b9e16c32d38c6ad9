"""Why a need is unmet: for every need a run leaves unmet (imbalance per period, overload
per branch, voltage per node, as the realised day and the AC check measure them), the
reason, read off the scenario's offers, what the model's markets bought and what they saw.

Reasons, checked in this order:
- ``not a need of this model``: the model's markets do not procure it (e.g. a local
  market leaves balancing out);
- ``limit not modelled by this model's markets``: the need is the model's, but no market
  of it models the limit (a central market has no distribution model, only a filter);
- ``no bid with a useful sensitivity``: no offer in that period moves the quantity the
  right way (no up offer for a shortage; nothing downstream of an overloaded branch);
- ``volume exhausted``: every useful offer was activated in full;
- ``linear model error``: the markets' linear model (DC lines, LinDistFlow calibrated at the
  forecast) saw no violation there, the AC check of what was delivered does;
- ``lost after the clearing``: the market covered it, stacking, non-delivery or rebound
  took it away (imbalance);
- ``price above the penalty``: the useful offers left cost more than the unmet need;
- ``traded off against other needs``: one market saw every offer and this limit and left
  it, because the useful offers left would break another limit or cost more in another
  need's penalty (the joint and decomposed markets);
- ``withheld by the model's rules``: useful offers existed that the model's markets did
  not see or could not use (filters, envelopes, fragmented markets, interface curves,
  conflict rules).

Owns: the classification. Must not: change any result.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tsodso.coordination.families import family_of
from tsodso.coordination.outcome import ModelOutcome
from tsodso.grids.distflow import lindistflow
from tsodso.grids.forecast import GridForecast
from tsodso.grids.model import dc_flows
from tsodso.lifecycle import Lifecycle
from tsodso.scenario.domain import Scenario
from tsodso.schema.mechanism import Mechanism
from tsodso.validation.ac import AcResult

TOL_MW = 1e-3
COLUMNS = ["need", "where", "periods", "amount", "unit", "reason"]
# families whose markets model the distribution feeders (the central family only filters)
_SEES_FEEDERS = {"joint", "sequential", "parallel", "local", "iterative", "implicit"}
# families in which one market (or a decomposition of it) sees every offer and every limit
_SEES_ALL = {"joint", "iterative"}


def _reason(
    useful_offered: float,
    useful_used: float,
    cheapest_left: float,
    penalty: float,
    market_saw: bool,
    sees_all: bool,
) -> str:
    if useful_offered <= TOL_MW:
        return "no bid with a useful sensitivity"
    if useful_offered - useful_used <= TOL_MW:
        return "volume exhausted"
    if not market_saw:
        return "linear model error"
    if cheapest_left > penalty:
        return "price above the penalty"
    return "traded off against other needs" if sees_all else "withheld by the model's rules"


def _most_common(reasons: list[str]) -> str:
    return str(pd.Series(reasons).value_counts().index[0])


def unmet_needs(
    scn: Scenario,
    forecast: GridForecast,
    mech: Mechanism,
    outcome: ModelOutcome,
    life: Lifecycle,
    ac: AcResult,
    branches: tuple[list[str], list[int]],
) -> pd.DataFrame:
    """One row per unmet need: need, where, periods, amount, unit and reason.
    ``branches``: kind and pandapower element of each AC result branch."""
    rows: list[dict[str, object]] = []
    b, dt, pen = scn.bids, scn.dt_h, scn.config.penalties
    standing = life.stack.accepted_mw
    fam = family_of(mech)
    # ---- imbalance per period ------------------------------------------------------
    gap = scn.imbalance_mw - life.delivery.system_change_mw(scn)
    flex_gap = scn.imbalance_mw - life.delivery.realised_flex_mw()  # without the error
    for t in np.flatnonzero(np.abs(gap) > TOL_MW):
        d = 1 if gap[t] > 0 else -1
        useful = (b.period == t) & (b.direction == d)
        if "balancing" not in mech.needs:
            why = "not a need of this model"
        elif abs(outcome.unmet_imbalance_mw[t]) <= TOL_MW:
            why = (
                "lost after the clearing"
                if abs(flex_gap[t]) > TOL_MW
                else "the DERs' forecast error, after the last clearing"
            )
        else:
            left = useful & (b.q_max_mw - standing > TOL_MW)
            why = _reason(
                float(b.q_max_mw[useful].sum()),
                float(standing[useful].sum()),
                float(b.price_eur_per_mwh[left].min()) if left.any() else np.inf,
                pen.imbalance_eur_per_mwh,
                True,
                fam in _SEES_ALL,
            )
        rows.append(
            {
                "need": "imbalance",
                "where": "system",
                "periods": str(int(t)),
                "amount": round(float(abs(gap[t]) * dt), 4),
                "unit": "MWh",
                "reason": why,
            }
        )
    # the markets' linear view of what stands
    delta = np.zeros((scn.grid.n_nodes, scn.periods))
    np.add.at(delta, (b.node, b.period), b.direction * standing)
    p = scn.node_injection_mw(delta)
    rows += _transmission(scn, forecast, mech, ac, branches, p, standing)
    rows += _distribution(scn, forecast, mech, fam, ac, branches, p, standing)
    return pd.DataFrame(rows, columns=COLUMNS)


def _transmission(
    scn: Scenario,
    forecast: GridForecast,
    mech: Mechanism,
    ac: AcResult,
    branches: tuple[list[str], list[int]],
    p: np.ndarray,
    standing: np.ndarray,
) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    grid, b, dt, pen = scn.grid, scn.bids, scn.dt_h, scn.config.penalties
    tg = grid.transmission
    if not tg.n_branch:
        return rows
    pos = {
        (str(k), int(e)): i
        for i, (k, e) in enumerate(zip(tg.branch_kind, tg.branch_element, strict=True))
    }
    over = np.nan_to_num(np.maximum(ac.branch_loading - 1.0, 0.0)) * ac.branch_rating_mva
    ac_kind, ac_elem = branches
    flows = dc_flows(grid, p)
    factor = 1.0 if forecast.t_rating_factor is None else forecast.t_rating_factor
    rating = tg.branch_rating_mw[:, None] * factor
    # PTDF of each transmission node (where every bid's injection enters the DC model)
    t_nodes = tg.nodes
    base = dc_flows(grid, np.zeros((grid.n_nodes, 1)))[:, 0]
    unit = np.zeros((grid.n_nodes, len(t_nodes)))
    unit[t_nodes, np.arange(len(t_nodes))] = 1.0
    ptdf = dc_flows(grid, unit) - base[:, None]  # (m, n_t)
    t_pos = np.full(grid.n_nodes, -1)
    t_pos[t_nodes] = np.arange(len(t_nodes))
    bid_col = t_pos[grid.tdi_of_node()[b.node]]
    for i in np.flatnonzero(over.sum(axis=0) > 1e-6):
        k = pos.get((ac_kind[i], ac_elem[i]))
        if k is None or ac.branch_is_distribution[i]:
            continue
        reasons = []
        periods = np.flatnonzero(over[:, i] > 1e-6)
        for t in periods:
            s = np.sign(flows[k, t]) or 1.0
            sens = ptdf[k, bid_col] * b.direction * s
            useful = (b.period == t) & (sens < -1e-3)
            left = useful & (b.q_max_mw - standing > TOL_MW)
            if "t_congestion" not in mech.needs:
                reasons.append("not a need of this model")
                continue
            reasons.append(
                _reason(
                    float(b.q_max_mw[useful].sum()),
                    float(standing[useful].sum()),
                    float(b.price_eur_per_mwh[left].min()) if left.any() else np.inf,
                    pen.overload_eur_per_mwh,
                    bool(abs(flows[k, t]) > rating[k, t] + 1e-6),
                    family_of(mech) in _SEES_ALL,
                )
            )
        rows.append(
            {
                "need": "overload",
                "where": f"transmission {ac_kind[i]} {ac_elem[i]}",
                "periods": ",".join(str(int(t)) for t in periods),
                "amount": round(float(over[:, i].sum() * dt), 4),
                "unit": "MWh",
                "reason": _most_common(reasons),
            }
        )
    return rows


def _distribution(
    scn: Scenario,
    forecast: GridForecast,
    mech: Mechanism,
    fam: str,
    ac: AcResult,
    branches: tuple[list[str], list[int]],
    p: np.ndarray,
    standing: np.ndarray,
) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    grid, b, dt, pen = scn.grid, scn.bids, scn.dt_h, scn.config.penalties
    over = np.nan_to_num(np.maximum(ac.branch_loading - 1.0, 0.0)) * ac.branch_rating_mva
    ac_kind, ac_elem = branches
    line_of = {
        (f_pos, int(e)): j
        for f_pos, f in enumerate(grid.feeders)
        for j, e in enumerate(f.branch_element)
        if e >= 0
    }
    by_line = {e: (f_pos, j) for (f_pos, e), j in line_of.items()}
    sees = fam in _SEES_FEEDERS
    margin = scn.config.d_voltage_margin_pu
    v2 = ac.vm_pu**2
    bad_v = (v2 > ac.node_vmax**2 + 1e-9) | (v2 < ac.node_vmin**2 - 1e-9)
    for f_pos, f in enumerate(grid.feeders):
        if f.n < 2:
            continue
        local = f.local_index(grid.n_nodes)[b.node]
        in_f = local >= 0
        st = lindistflow(f, p[f.nodes], scn.node_q0_mvar[f.nodes], forecast.root_vm_pu[f_pos])
        sub = f.subtree()  # sub[i, j] = 1 when node j is in the subtree of node i
        r_path, _ = f.path_impedance()
        # ---- branch overloads -------------------------------------------------------
        for i in np.flatnonzero(over.sum(axis=0) > 1e-6):
            if ac_kind[i] != "line" or by_line.get(ac_elem[i], (-1, -1))[0] != f_pos:
                continue
            j = by_line[ac_elem[i]][1]
            periods = np.flatnonzero(over[:, i] > 1e-6)
            reasons = []
            for t in periods:
                flow = st.p_flow[j, t]
                downstream = in_f & (sub[j, np.maximum(local, 0)] > 0)
                # P_j = -(sum downstream injection): a bid relieves |P| when its injection
                # change has the sign of P
                useful = downstream & (b.period == t) & (b.direction * np.sign(flow) > 0)
                left = useful & (b.q_max_mw - standing > TOL_MW)
                if "d_congestion" not in mech.needs:
                    reasons.append("not a need of this model")
                    continue
                if not sees:
                    reasons.append("limit not modelled by this model's markets")
                    continue
                rating = f.rating_mva[j]
                reasons.append(
                    _reason(
                        float(b.q_max_mw[useful].sum()),
                        float(standing[useful].sum()),
                        float(b.price_eur_per_mwh[left].min()) if left.any() else np.inf,
                        pen.overload_eur_per_mwh,
                        bool(abs(flow) > rating + 1e-6),
                        fam in _SEES_ALL,
                    )
                )
            rows.append(
                {
                    "need": "overload",
                    "where": f"feeder {f.id} line {ac_elem[i]}",
                    "periods": ",".join(str(int(t)) for t in periods),
                    "amount": round(float(over[:, i].sum() * dt), 4),
                    "unit": "MWh",
                    "reason": _most_common(reasons),
                }
            )
        # ---- voltage -----------------------------------------------------------------
        lin_v2 = st.v2 + forecast.v2_offset[f_pos]
        for jj in range(1, f.n):
            node = f.nodes[jj]
            periods = np.flatnonzero(bad_v[:, node])
            if not len(periods):
                continue
            reasons = []
            for t in periods:
                high = v2[t, node] > ac.node_vmax[node] ** 2
                # a unit injection at node m raises v2 at jj by 2 r(jj, m) > 0: a high
                # voltage needs less injection there, a low one more
                sens = r_path[jj, np.maximum(local, 0)]
                want = -1 if high else 1
                useful = in_f & (b.period == t) & (sens > 1e-9) & (b.direction == want)
                left = useful & (b.q_max_mw - standing > TOL_MW)
                if "voltage" not in mech.needs:
                    reasons.append("not a need of this model")
                    continue
                if not sees:
                    reasons.append("limit not modelled by this model's markets")
                    continue
                lim = (f.vmax_pu[jj] - margin) ** 2 if high else (f.vmin_pu[jj] + margin) ** 2
                saw = lin_v2[jj, t] > lim if high else lin_v2[jj, t] < lim
                reasons.append(
                    _reason(
                        float(b.q_max_mw[useful].sum()),
                        float(standing[useful].sum()),
                        float(b.price_eur_per_mwh[left].min()) if left.any() else np.inf,
                        pen.voltage_eur_per_pu2h,
                        bool(saw),
                        fam in _SEES_ALL,
                    )
                )
            rows.append(
                {
                    "need": "voltage",
                    "where": f"feeder {f.id} bus {int(grid.node_bus[node])}",
                    "periods": ",".join(str(int(t)) for t in periods),
                    "amount": int(len(periods)),
                    "unit": "node-intervals",
                    "reason": _most_common(reasons),
                }
            )
    return rows


def summary(table: pd.DataFrame) -> str:
    """One line: per need, how much is unmet and the reasons by count."""
    if not len(table):
        return "every need met"
    parts = []
    for need, g in table.groupby("need", sort=False):
        why = ", ".join(f"{r} {n}" for r, n in g.reason.value_counts().items())
        unit = g.unit.iloc[0]
        parts.append(f"{need} {g.amount.sum():g} {unit} in {len(g)} place(s) ({why})")
    return "; ".join(parts)
