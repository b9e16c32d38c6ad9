"""Normal and contingency operation (issue 4 item 7). In normal operation the activations
of the model stand as cleared. In the periods of a scenario event (an outage, a forecast
error spike: ``ScenarioConfig.events``), real-time monitoring switches the operators to
two contingency rules, applied in this order to the real-time state (the AC power flow of
what would be delivered, with the outage):

1. **DSO override.** Where a feeder node is outside its voltage band or a feeder branch
   (its TDI transformers included) is overloaded, the DSO cancels every activation bought
   by another operator (TSO or platform) at a DER of that feeder that pushes the broken
   limit further (LinDistFlow sensitivities; the exchange direction at the TDI). Those
   MW are not delivered and not paid; the TSO's need they served goes unmet.
2. **TSO emergency curtailment.** Where a transmission branch is still overloaded, the
   TSO curtails generation outside the market, with up activations elsewhere to keep the
   system balanced where it can (a redispatch): the least-cost set (at the units' own
   prices, paid as compensation) that brings the DC flows of the outage grid within 95 %
   of the ratings. Security comes first: where no counter-activation is left, the
   curtailment stands and its imbalance goes to the realised-imbalance KPI (an overload
   weighs ``SECURITY_WEIGHT`` times the value of lost load in this LP). What it cannot
   fix stays in the AC check.

Every override and curtailment is a message in the log (who acted, on whom, why), and the
KPIs count what each rule cost. Owns: the two rules. Must not: clear the day-ahead
markets or settle (settlement pays the emergency purchase like any other).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tsodso.clearing.market import clear_market
from tsodso.clearing.problem import MarketProblem, PenaltyPrices
from tsodso.coordination.outcome import Purchase
from tsodso.dispatch.delivery import deliver, setpoints
from tsodso.dispatch.stacking import EPS, Stack, by_der, cut_table
from tsodso.exchange.messages import MessageLog
from tsodso.grids.distflow import sensitivities
from tsodso.grids.forecast import GridForecast
from tsodso.grids.model import CoupledGrid, build_coupled_grid
from tsodso.grids.outage import OUTAGE_KINDS, event_periods, outage_net
from tsodso.scenario.domain import Scenario
from tsodso.schema.actors import TSO, is_dso
from tsodso.validation.ac import AcModel, AcResult

GENERATION = ("pv", "wind", "hydro", "biomass", "other_gen")
EMERGENCY_RATING_MARGIN = 0.95
SECURITY_WEIGHT = 10.0  # emergency: overload penalty / imbalance penalty


@dataclass(frozen=True)
class RealTime:
    """The events of a scenario as the AC check and the rules need them."""

    active: np.ndarray  # (T,) bool: some event is on (contingency rules apply)
    out_of_service: np.ndarray | None  # (T, branches of the AC model) or None
    outage_grid: CoupledGrid | None  # the grid with every outage element out (DC model)

    @classmethod
    def of(cls, scn: Scenario, ac_model: AcModel) -> RealTime:
        T = scn.periods
        active = np.zeros(T, dtype=bool)
        oos = np.zeros((T, len(ac_model.branch_kind)), dtype=bool)
        outages = []
        for e in scn.config.events:
            on = event_periods(e, T)
            active |= on
            if e.kind in OUTAGE_KINDS:
                assert e.element is not None
                oos[on, ac_model.branch_index(OUTAGE_KINDS[e.kind], e.element)] = True
                outages.append(e)
        grid = None
        if outages:
            net = outage_net(scn.net, tuple(outages))
            grid = build_coupled_grid(net, scn.config.transmission_min_kv)
        return cls(active, oos if oos.any() else None, grid)


@dataclass(frozen=True)
class Contingency:
    """What the rules did: overridden activations, the emergency purchase, messages."""

    overrides: pd.DataFrame  # buyer, step, der, period, direction, cut_mw, reason
    emergency: pd.DataFrame  # der, period, direction, mw, price_eur_per_mwh
    messages: MessageLog

    def kpis(self, dt_h: float) -> dict[str, float]:
        e = self.emergency
        down = e.direction == "down"
        return {
            "dso_override_mwh": round(float(self.overrides.cut_mw.sum() * dt_h), 4),
            "dso_override_activations": len(self.overrides),
            "emergency_curtailment_mwh": round(float(e.mw[down].sum() * dt_h), 4),
            "emergency_counter_mwh": round(float(e.mw[~down].sum() * dt_h), 4),
            "emergency_cost_eur": round(float((e.mw * e.price_eur_per_mwh).sum() * dt_h), 2),
        }


def real_time_ac(scn: Scenario, ac_model: AcModel, rt: RealTime, st: Stack) -> AcResult:
    """The AC power flow of what ``st`` would deliver, with the outages of ``rt``."""
    sp, clipped = setpoints(scn, st)
    dl = deliver(scn, sp, clipped)
    p = scn.node_injection_mw(dl.node_delta_mw(scn))
    return ac_model.run(p, scn.node_q0_mvar, out_of_service=rt.out_of_service)


def _feeder_branches(scn: Scenario, ac_model: AcModel, fpos: int) -> np.ndarray:
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


def _override(
    scn: Scenario, ac_model: AcModel, rt: RealTime, st: Stack, ac: AcResult, log: MessageLog
) -> tuple[Stack, pd.DataFrame]:
    """Rule 1: the DSO cancels other operators' activations that worsen a broken limit."""
    b = scn.bids
    layer = scn.grid.node_layer[b.node]
    worsens = np.zeros(len(b), dtype=bool)
    why = np.full(len(b), "", dtype=object)
    total = scn.node_injection_mw(by_der_to_nodes(scn, st))
    for fpos, f in enumerate(scn.grid.feeders):
        in_f = layer == fpos
        if not in_f.any():
            continue
        vm = ac.vm_pu[:, f.nodes]
        with np.errstate(invalid="ignore"):
            over = (vm > ac.node_vmax[f.nodes] + 1e-6) & rt.active[:, None]
            under = (vm < ac.node_vmin[f.nodes] - 1e-6) & rt.active[:, None]
        branches = _feeder_branches(scn, ac_model, fpos)
        with np.errstate(invalid="ignore"):
            hot = (np.nan_to_num(ac.branch_loading[:, branches]) > 1.0 + 1e-6).any(axis=1)
        hot &= rt.active
        if not (over.any() or under.any() or hot.any()):
            continue
        dv2, _ = sensitivities(f)
        local = f.local_index(scn.grid.n_nodes)
        k = np.flatnonzero(in_f)
        j, t, d = local[b.node[k]], b.period[k], b.direction[k]
        # a unit up-injection at j raises v at i where dv2[i, j] > 0
        raises = (dv2[:, j] > 1e-12).T  # (bids, n)
        v_up = (raises & over[t]).any(axis=1)
        v_dn = (raises & under[t]).any(axis=1)
        imp = scn.feeder_import_mw(fpos, total)[t]
        # an overloaded TDI or line carries the import: consumption (down) worsens an
        # importing feeder, injection (up) an exporting one
        th = hot[t] & (((d < 0) & (imp > 0)) | ((d > 0) & (imp < 0)))
        bad = np.where(d > 0, v_up, v_dn) | th
        worsens[k[bad]] = True
        why[k[bad & (np.where(d > 0, v_up, v_dn))]] = f"DSO override: voltage in {f.id}"
        why[k[bad & th]] = f"DSO override: overload in {f.id}"
    purchases, rows = [], []
    area = scn.dsos.node_area(scn.grid)[b.node]  # overrides are in feeders: area >= 0
    for p in st.purchases:
        if is_dso(p.buyer):
            purchases.append(p)
            continue
        lost = np.where(worsens, p.accepted_mw, 0.0)
        keep = np.where(worsens, 0.0, 1.0)
        purchases.append(
            dataclasses.replace(
                p, accepted_mw=p.accepted_mw * keep, payments_eur=p.payments_eur * keep
            )
        )
        rows.append(cut_table(scn, p, lost, why))
        hit = lost > EPS
        for period in np.unique(b.period[hit]):
            for k in np.unique(area[hit & (b.period == period)]):  # each feeder's own DSO
                dso = scn.dsos.names[int(k)]
                m = hit & (b.period == period) & (area == k)
                log.send(
                    "contingency",
                    dso,
                    p.buyer,
                    "override",
                    {"der": scn.ders.id[b.der[m]], "mw": lost[m], "reason": why[m].astype(str)},
                    period=int(period),
                )
                for a in np.unique(b.aggregator[m]):
                    log.send(
                        "contingency",
                        dso,
                        scn.aggregator_names[a],
                        "override",
                        {"der": scn.ders.id[b.der[m & (b.aggregator == a)]]},
                        period=int(period),
                    )
    overrides = (
        pd.concat(rows, ignore_index=True)
        if rows
        else cut_table(scn, st.purchases[0], np.zeros(len(b)), why)
    )
    cuts = pd.concat([st.cuts, overrides], ignore_index=True)
    return Stack(tuple(purchases), cuts), overrides


def by_der_to_nodes(scn: Scenario, st: Stack) -> np.ndarray:
    """(N, T) injection change of the standing activations as ordered."""
    out = np.zeros((scn.grid.n_nodes, scn.periods))
    np.add.at(out, scn.ders.node, by_der(scn, scn.bids.direction * st.accepted_mw))
    return out


def _emergency(
    scn: Scenario, rt: RealTime, st: Stack, ac: AcResult, log: MessageLog
) -> tuple[Stack, pd.DataFrame]:
    """Rule 2: least-cost curtailment of generation that relieves transmission overload."""
    b = scn.bids
    t_branch = ~ac.branch_is_distribution
    with np.errstate(invalid="ignore"):
        over = (np.nan_to_num(ac.branch_loading[:, t_branch]) > 1.0 + 1e-6).any(axis=1)
    need = over & rt.active
    empty = pd.DataFrame(columns=["der", "period", "direction", "mw", "price_eur_per_mwh"])
    if not need.any():
        return st, empty
    grid = rt.outage_grid if rt.outage_grid is not None else scn.grid
    used = st.accepted_mw
    gen = np.isin(scn.ders.kind[b.der], GENERATION)
    # curtailment of generation, and up activations that keep the system balanced
    curtail = (b.direction < 0) & gen
    cand = (curtail | (b.direction > 0)) & need[b.period] & (b.q_max_mw - used > EPS)
    idx = np.flatnonzero(cand)
    bids = b.with_caps(b.q_max_mw - used).subset(idx)
    T = scn.periods
    base = scn.config.penalties
    problem = MarketProblem(
        grid=grid,
        bids=bids,
        ders=scn.ders,
        injection_mw=scn.node_injection_mw() + by_der_to_nodes(scn, st),
        q_mvar=scn.node_q0_mvar,
        # security first: an overload weighs more than the imbalance a curtailment leaves
        penalties=PenaltyPrices(
            base.imbalance_eur_per_mwh,
            SECURITY_WEIGHT * base.imbalance_eur_per_mwh,
            base.voltage_eur_per_pu2h,
        ),
        dt_h=scn.dt_h,
        imbalance_mw=np.zeros(T),
        transmission=True,
        feeders=(),
        forecast=GridForecast(
            np.ones((len(grid.feeders), T)),
            tuple(np.zeros((f.n, T)) for f in grid.feeders),
            np.full((grid.transmission.n_branch, T), EMERGENCY_RATING_MARGIN),
        ),
    )
    c = clear_market(problem)
    acc = np.zeros(len(b))
    acc[idx] = c.accepted_mw
    pay = acc * b.price_eur_per_mwh * scn.dt_h
    hit = acc > EPS
    area = scn.dsos.node_area(scn.grid)[b.node]
    for period in np.unique(b.period[hit]):
        for a in np.unique(b.aggregator[hit & (b.period == period)]):
            m = hit & (b.period == period) & (b.aggregator == a)
            log.send(
                "contingency",
                TSO,
                scn.aggregator_names[a],
                "emergency_curtailment",
                {"der": scn.ders.id[b.der[m]], "mw": acc[m]},
                period=int(period),
            )
        # the TSO notifies the DSO (with several, each DSO with curtailments in its area)
        notified = (
            scn.dsos.names
            if scn.dsos.n == 1
            else tuple(
                scn.dsos.names[int(k)]
                for k in np.unique(area[hit & (b.period == period)])
                if k >= 0
            )
        )
        for dso in notified:
            mine = b.period == period
            if scn.dsos.n > 1:
                mine &= area == scn.dsos.names.index(dso)
            log.send(
                "contingency",
                TSO,
                dso,
                "emergency_notice",
                {"mwh": float(acc[mine].sum() * scn.dt_h)},
                period=int(period),
            )
    purchase = Purchase(TSO, "emergency curtailment", acc, pay)
    table = pd.DataFrame(
        {
            "der": scn.ders.id[b.der[hit]],
            "period": b.period[hit],
            "direction": np.where(b.direction[hit] > 0, "up", "down"),
            "mw": acc[hit],
            "price_eur_per_mwh": b.price_eur_per_mwh[hit],
        }
    )
    return Stack((*st.purchases, purchase), st.cuts), table


def apply_rules(
    scn: Scenario, ac_model: AcModel, rt: RealTime, st: Stack
) -> tuple[Stack, Contingency]:
    """The standing activations after the contingency rules, and what the rules did."""
    log = MessageLog()
    ac = real_time_ac(scn, ac_model, rt, st)
    st, overrides = _override(scn, ac_model, rt, st, ac, log)
    ac = real_time_ac(scn, ac_model, rt, st)
    st, emergency = _emergency(scn, rt, st, ac, log)
    return st, Contingency(overrides, emergency, log)
