"""The real-time traffic light of each feeder, and what a red light lets the DSO do.

A feeder is **red** in a period of a scenario event when the real-time AC power flow (what
would be delivered, with the outages) has one of its nodes outside its voltage band or one
of its branches (its TDI transformers included) overloaded. Which activations push a broken
limit further is read from LinDistFlow sensitivities (voltage) and from the exchange
direction at the TDI (overloads): those are what a DSO override cancels and what a
``block`` light refuses to the TSO's emergency redispatch.

The DSO's own action on a red light (``schema.operating``: ``red_light``):

- ``curtail``: its emergency redispatch of the feeder's bids that are left (both
  directions), the least-cost set at the bids' own prices, paid by the DSO, that brings
  the feeder back within limits (an overload or a voltage violation weighs
  ``SECURITY_WEIGHT`` times the scenario's penalty prices);
- ``envelope``: it tightens the dynamic operating envelopes of the feeder's DERs: export
  limits lower injections (generation, batteries discharging) and import limits lower
  consumption. The tightening is the OPF-based envelope that keeps most hosting (MODELS.md
  section 5: maximise the total): the least MWh that brings the feeder back within limits,
  every bid at the same weight. Envelopes are conditions of connection and are not paid
  (interpretation, after the Australian DOE practice). Only DERs with bids are modelled:
  an envelope on a DER without flexibility offered is not.

Both solve the DSO's LinDistFlow model calibrated to the real-time AC state (the
feeders' root voltages and the AC minus linear squared-voltage offsets at the real-time
injections), so the linear model is exact where it starts. What they cannot fix stays in
the AC check. Owns: the light, the worsening sets and the DSO's action. Must not: clear
day-ahead markets or route messages (``operation.instructions``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from tsodso.clearing.market import clear_market
from tsodso.clearing.problem import MarketProblem, PenaltyPrices
from tsodso.grids.distflow import lindistflow, sensitivities
from tsodso.grids.forecast import GridForecast
from tsodso.grids.model import CoupledGrid
from tsodso.scenario.domain import Scenario
from tsodso.schema.tables import COUPLING_STORAGE
from tsodso.validation.ac import AcModel, AcResult

GENERATION = ("pv", "wind", "hydro", "biomass", "other_gen")
SECURITY_WEIGHT = 10.0  # emergency: violation penalty / the scenario's penalty price
ENVELOPE_WEIGHT_EUR_PER_MWH = 1.0  # every tightened MWh weighs the same (max hosting)


@dataclass(frozen=True)
class FeederLimits:
    """One feeder's broken limits in real time, in event periods only."""

    over: np.ndarray  # (T, n) node above its band
    under: np.ndarray  # (T, n) node below its band
    hot: np.ndarray  # (T,) a feeder branch or TDI transformer overloaded

    @property
    def red(self) -> np.ndarray:
        """(T,) the feeder is red."""
        out: np.ndarray = self.over.any(axis=1) | self.under.any(axis=1) | self.hot
        return out


def feeder_branches(scn: Scenario, ac_model: AcModel, fpos: int) -> np.ndarray:
    """Result branches of one feeder: its lines and the transformers into its root."""
    f = scn.grid.feeders[fpos]
    lines = set(f.branch_element[1:].tolist())
    lv = scn.grid.bus_to_node.loc[scn.net.trafo.lv_bus].to_numpy()
    trafos = set(scn.net.trafo.index[lv == f.nodes[0]].tolist())
    return np.array(
        [
            (k == "line" and int(e) in lines) or (k == "trafo" and int(e) in trafos)
            for k, e in zip(ac_model.branch_kind, ac_model.branch_element, strict=True)
        ]
    )


def feeder_limits(
    scn: Scenario, ac_model: AcModel, active: np.ndarray, ac: AcResult
) -> list[FeederLimits]:
    """Each feeder's broken limits in the periods where ``active`` (T,) is set."""
    out = []
    for fpos, f in enumerate(scn.grid.feeders):
        vm = ac.vm_pu[:, f.nodes]
        with np.errstate(invalid="ignore"):
            over = (vm > ac.node_vmax[f.nodes] + 1e-6) & active[:, None]
            under = (vm < ac.node_vmin[f.nodes] - 1e-6) & active[:, None]
            loading = np.nan_to_num(ac.branch_loading[:, feeder_branches(scn, ac_model, fpos)])
        hot = (loading > 1.0 + 1e-6).any(axis=1) & active
        out.append(FeederLimits(over, under, hot))
    return out


def red_lights(limits: list[FeederLimits]) -> np.ndarray:
    """(n_feeders, T) bool: red feeders per period."""
    return np.array([x.red for x in limits]).reshape(len(limits), -1)


def worsening(
    scn: Scenario, limits: list[FeederLimits], import_of: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per bid: whether activating it pushes a broken limit of its feeder further, and
    why (``'voltage in F'`` / ``'overload in F'``). ``import_of`` (n_feeders, T): each
    feeder's TDI import at the state the limits were read from."""
    b = scn.bids
    layer = scn.grid.node_layer[b.node]
    worsens = np.zeros(len(b), dtype=bool)
    why = np.full(len(b), "", dtype=object)
    for fpos, f in enumerate(scn.grid.feeders):
        lim = limits[fpos]
        in_f = layer == fpos
        if not in_f.any() or not lim.red.any():
            continue
        dv2, _ = sensitivities(f)
        local = f.local_index(scn.grid.n_nodes)
        k = np.flatnonzero(in_f)
        j, t, d = local[b.node[k]], b.period[k], b.direction[k]
        # a unit up-injection at j raises v at i where dv2[i, j] > 0
        raises = (dv2[:, j] > 1e-12).T  # (bids, n)
        v_bad = np.where(
            d > 0, (raises & lim.over[t]).any(axis=1), (raises & lim.under[t]).any(axis=1)
        )
        imp = import_of[fpos][t]
        # an overloaded TDI or line carries the import: consumption (down) worsens an
        # importing feeder, injection (up) an exporting one
        th = lim.hot[t] & (((d < 0) & (imp > 0)) | ((d > 0) & (imp < 0)))
        worsens[k[v_bad | th]] = True
        why[k[v_bad]] = f"voltage in {f.id}"
        why[k[th]] = f"overload in {f.id}"
    return worsens, why


def realtime_forecast(
    grid: CoupledGrid, ac: AcResult, p_mw: np.ndarray, q_mvar: np.ndarray, t_margin: float
) -> GridForecast:
    """The operators' models calibrated to the real-time AC state at injections ``p_mw``:
    root voltages, LinDistFlow offsets, DC ratings times ``t_margin``."""
    roots = [f.nodes[0] for f in grid.feeders]
    root = np.nan_to_num(ac.vm_pu[:, roots].T, nan=1.0)
    offsets = tuple(
        np.nan_to_num(
            ac.vm_pu[:, f.nodes].T ** 2
            - lindistflow(f, p_mw[f.nodes], q_mvar[f.nodes], root[k]).v2,
            nan=0.0,
        )
        for k, f in enumerate(grid.feeders)
    )
    return GridForecast(
        root, offsets, np.full((grid.transmission.n_branch, p_mw.shape[1]), t_margin)
    )


def envelope_candidates(scn: Scenario) -> np.ndarray:
    """Per bid: whether it tightens an envelope (less injection from generation or a
    battery; less consumption from a load or a battery)."""
    b, d = scn.bids, scn.ders
    gen = np.isin(d.kind[b.der], GENERATION)
    store = d.coupling[b.der] == COUPLING_STORAGE
    out: np.ndarray = ((b.direction < 0) & (gen | store)) | ((b.direction > 0) & ~gen)
    return out


def feeder_redispatch(
    scn: Scenario,
    grid: CoupledGrid,
    ac: AcResult,
    p_mw: np.ndarray,
    candidates: np.ndarray,
    left_mw: np.ndarray,
    feeders: tuple[int, ...],
    uniform: bool,
) -> np.ndarray:
    """MW per bid of the DSO's real-time redispatch of ``feeders`` from the ``candidates``
    bids (at most ``left_mw`` each): least cost at bid prices, or (``uniform``) the least
    MWh. Distribution limits only; the LP is calibrated to the real-time state."""
    b = scn.bids
    acc = np.zeros(len(b))
    idx = np.flatnonzero(candidates & (left_mw > 1e-9))
    if not len(idx) or not feeders:
        return acc
    bids = b.with_caps(left_mw).subset(idx)
    if uniform:
        bids = replace(bids, price_eur_per_mwh=np.full(len(idx), ENVELOPE_WEIGHT_EUR_PER_MWH))
    base = scn.config.penalties
    problem = MarketProblem(
        grid=grid,
        bids=bids,
        ders=scn.ders,
        injection_mw=p_mw,
        q_mvar=scn.node_q0_mvar,
        penalties=PenaltyPrices(
            base.imbalance_eur_per_mwh,
            SECURITY_WEIGHT * base.overload_eur_per_mwh,
            SECURITY_WEIGHT * base.voltage_eur_per_pu2h,
        ),
        dt_h=scn.dt_h,
        imbalance_mw=None,
        transmission=False,
        feeders=feeders,
        forecast=realtime_forecast(grid, ac, p_mw, scn.node_q0_mvar, 1.0),
    )
    c = clear_market(problem)
    acc[idx] = c.accepted_mw
    return acc
