"""Cost to serve: what a model's way of meeting the needs costs, with every need it leaves
unmet valued the same way for every model (MODELS.md section 6), so that a model never
looks cheaper because it bought less.

Two valuations of the same idea:

- ``cost_to_serve`` (the headline, realised): procurement as the markets cleared, plus what
  the realised day leaves unmet at the scenario's penalty prices: the imbalance the
  delivered flexibility did not cover (value of lost load), the overload and the squared-
  voltage excess the AC check of what was delivered finds. Split by payer: the TSO pays for
  balancing and transmission overload, the DSOs for distribution overload and voltage,
  commercial parties for their own unmet positions.
- ``market_valuation`` (the markets' own view): the standing activations (after stacking)
  evaluated on the joint market's linear model: their bid cost plus the slack penalties of
  every need in the LinDistFlow and DC models at the operators' forecast. The joint market
  minimises exactly this, so no model can be below it (the catalogue property test).

Owns: both valuations and their components. Must not: change any result.
"""

from __future__ import annotations

import numpy as np

from tsodso.grids.distflow import lindistflow
from tsodso.grids.forecast import GridForecast
from tsodso.grids.model import dc_flows
from tsodso.scenario.domain import Scenario
from tsodso.schema.actors import TSO, is_dso
from tsodso.validation.ac import AcResult


def voltage_excess_pu2h(ac: AcResult, distribution: bool | None = None) -> float:
    """Sum over node-intervals of the squared-voltage distance outside the band, times dt."""
    v2 = ac.vm_pu**2
    ex = np.maximum(v2 - ac.node_vmax**2, 0.0) + np.maximum(ac.node_vmin**2 - v2, 0.0)
    if distribution is not None:
        ex = ex[:, ac.node_is_distribution == distribution]
    return float(np.nansum(ex) * ac.dt_h)


def unmet_by_dso(scn: Scenario, ac: AcResult) -> dict[str, dict[str, float]]:
    """Each DSO's distribution needs left unmet after the AC check, in its own area: overload
    (MWh, its feeders' lines and TDI transformers), voltage violations (node-intervals) and
    their value at the scenario's penalty prices (EUR); over every DSO they add up to the
    distribution part of ``cost_to_serve``."""
    pen = scn.config.penalties
    node_area = scn.dsos.node_area(scn.grid)
    v2 = ac.vm_pu**2
    ex = np.maximum(v2 - ac.node_vmax**2, 0.0) + np.maximum(ac.node_vmin**2 - v2, 0.0)
    with np.errstate(invalid="ignore"):
        bad = (ac.vm_pu < ac.node_vmin - 1e-6) | (ac.vm_pu > ac.node_vmax + 1e-6)
    over = np.nan_to_num(np.maximum(ac.branch_loading - 1.0, 0.0)) * ac.branch_rating_mva
    d_node = ac.branch_d_node
    if d_node is None:
        raise ValueError("the AC result does not say which feeder each branch belongs to")
    branch_area = np.where(d_node >= 0, node_area[np.maximum(d_node, 0)], -1)
    out = {}
    for k, name in enumerate(scn.dsos.names):
        o_mwh = float(over[:, branch_area == k].sum() * ac.dt_h)
        v_pu2h = float(np.nansum(ex[:, node_area == k]) * ac.dt_h)
        out[name] = {
            "overload_mwh": round(o_mwh, 4),
            "voltage_violations": int(bad[:, node_area == k].sum()),
            "unmet_eur": o_mwh * pen.overload_eur_per_mwh + v_pu2h * pen.voltage_eur_per_pu2h,
        }
    return out


def imbalance_split(
    scn: Scenario, market_left_mw: np.ndarray, system_left_mw: np.ndarray
) -> tuple[float, float]:
    """(MWh at the value of lost load, MWh the reserves cover) of a day's realised
    imbalance. ``market_left_mw`` (T,): what the markets left of the need they were asked
    to meet; ``system_left_mw`` (T,): what the system really lacks, the DERs' forecast
    error included. Per period, what the markets left is lost load up to what the system
    lacks; what the forecast error adds beyond it the TSO covers with its balancing
    reserves (``penalties.reserve_eur_per_mwh``); an error that happens to close the gap
    is no cost."""
    lost = np.minimum(np.abs(market_left_mw), np.abs(system_left_mw))
    reserve = np.abs(system_left_mw) - lost
    return float(lost.sum() * scn.dt_h), float(reserve.sum() * scn.dt_h)


def cost_to_serve(
    scn: Scenario,
    procurement_by_payer: dict[str, float],
    unresolved_imbalance_mwh: float,
    ac: AcResult,
    commercial_unmet_eur: float = 0.0,
    reserve_mwh: float = 0.0,
) -> dict[str, float]:
    """The realised cost to serve and its components (EUR).

    ``procurement_by_payer``: what each party pays for flexibility in the end (after
    transfers between operators); ``unresolved_imbalance_mwh``: the realised imbalance, of
    which ``reserve_mwh`` is covered by the TSO's reserves (``imbalance_split``) and the
    rest is lost load; ``commercial_unmet_eur``: commercial positions left open, valued at
    what their owners said they were worth."""
    pen = scn.config.penalties
    lost = unresolved_imbalance_mwh - reserve_mwh
    imbalance = lost * pen.imbalance_eur_per_mwh + reserve_mwh * pen.reserve_eur_per_mwh
    t_over = ac.overload_mwh(distribution=False) * pen.overload_eur_per_mwh
    d_over = ac.overload_mwh(distribution=True) * pen.overload_eur_per_mwh
    volt = voltage_excess_pu2h(ac) * pen.voltage_eur_per_pu2h
    proc_tso = procurement_by_payer.get(TSO, 0.0)
    proc_dso = sum(v for k, v in procurement_by_payer.items() if is_dso(k))
    proc_other = sum(procurement_by_payer.values()) - proc_tso - proc_dso
    unmet = imbalance + t_over + d_over + volt + commercial_unmet_eur
    return {
        "cost_to_serve_eur": round(sum(procurement_by_payer.values()) + unmet, 2),
        "cost_to_serve_tso_eur": round(proc_tso + imbalance + t_over, 2),
        "cost_to_serve_dso_eur": round(proc_dso + d_over + volt, 2),
        "cost_to_serve_commercial_eur": round(proc_other + commercial_unmet_eur, 2),
        "unmet_needs_eur": round(unmet, 2),
        "unmet_imbalance_eur": round(imbalance, 2),
        "unmet_overload_eur": round(t_over + d_over, 2),
        "unmet_voltage_eur": round(volt, 2),
    }


def market_valuation(scn: Scenario, forecast: GridForecast, standing_mw: np.ndarray) -> float:
    """The joint market's objective at activations ``standing_mw`` (per scenario bid): bid
    cost plus the penalties of the imbalance, DC line overloads and LinDistFlow voltage and
    thermal violations they leave at the operators' forecast (EUR)."""
    b, dt, pen = scn.bids, scn.dt_h, scn.config.penalties
    cost = float((standing_mw * b.price_eur_per_mwh).sum() * dt)
    delta = np.zeros((scn.grid.n_nodes, scn.periods))
    np.add.at(delta, (b.node, b.period), b.direction * standing_mw)
    signed = delta.sum(axis=0)
    cost += float(np.abs(scn.imbalance_mw - signed).sum()) * pen.imbalance_eur_per_mwh * dt
    p = scn.node_injection_mw(delta)
    tg = scn.grid.transmission
    if tg.n_branch:
        flow = dc_flows(scn.grid, p)
        factor = 1.0 if forecast.t_rating_factor is None else forecast.t_rating_factor
        rating = tg.branch_rating_mw[:, None] * factor
        cost += float(np.maximum(np.abs(flow) - rating, 0.0).sum()) * pen.overload_eur_per_mwh * dt
    margin = scn.config.d_voltage_margin_pu
    for k, f in enumerate(scn.grid.feeders):
        if f.n < 2:
            continue
        st = lindistflow(f, p[f.nodes], scn.node_q0_mvar[f.nodes], forecast.root_vm_pu[k])
        v2 = (st.v2 + forecast.v2_offset[k])[1:]
        vmax2 = ((f.vmax_pu[1:] - margin) ** 2)[:, None]
        vmin2 = ((f.vmin_pu[1:] + margin) ** 2)[:, None]
        slack = np.maximum(np.maximum(v2 - vmax2, vmin2 - v2), 0.0)
        cost += float(slack.sum()) * pen.voltage_eur_per_pu2h * dt
        rating = f.rating_mva[1:]
        fin = np.isfinite(rating)
        if fin.any():
            q = st.q_flow[1:][fin]
            pmax = np.sqrt(np.maximum(rating[fin][:, None] ** 2 - q**2, 0.0))
            over = np.maximum(np.abs(st.p_flow[1:][fin]) - pmax, 0.0)
            cost += float(over.sum()) * pen.overload_eur_per_mwh * dt
    return cost
