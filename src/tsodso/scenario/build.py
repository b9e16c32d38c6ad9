"""Build a Scenario from a ScenarioConfig: grid + profiles -> baseline, DERs, bids, needs.

Owns: the (seeded, synthetic where the data has no answer) choices that turn a grid into a
flexibility market: which DERs exist, their baselines, headroom and bid prices, and the TSO
imbalance. Prices and the imbalance are synthetic and labelled so; grids and profiles are
simbench's 2016 data. Runs AC power flows only to fix each transformer's tap for the day
(``_set_daily_taps``: the operators' day-ahead OLTC schedule). Must not: clear markets.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandapower.auxiliary import pandapowerNet

from tsodso.grids.dso_areas import DsoAreaError, dso_areas
from tsodso.grids.model import CoupledGrid, build_coupled_grid
from tsodso.grids.sources import (
    ElementProfiles,
    GridSourceError,
    load_net,
    unsupported_elements,
    window_profiles,
)
from tsodso.grids.topology import transmission_buses
from tsodso.scenario.domain import Scenario
from tsodso.scenario.reactive import reactive_offers
from tsodso.scenario.wholesale import clear_wholesale, rescheduled
from tsodso.schema.config import ScenarioConfig, ScenarioConfigError
from tsodso.schema.streams import BRP_POSITIONS, SILENT_GENERATORS
from tsodso.schema.tables import (
    COUPLING_NONE,
    COUPLING_SHIFT,
    COUPLING_STORAGE,
    BidTable,
    DerTable,
)

DT_H = 0.25
MIN_BID_MW = 1e-3

# Synthetic bid price ranges (EUR/MWh): (up low, up high, down low, down high)
PRICE_RANGES: dict[str, tuple[float, float, float, float]] = {
    "pv": (0, 0, 15, 45),
    "wind": (0, 0, 10, 40),
    "hydro": (0, 0, 20, 50),
    "biomass": (70, 110, 20, 40),
    "other_gen": (80, 130, 25, 45),
    "battery": (45, 75, 30, 55),
    "ev": (40, 80, 20, 40),
    "flex_load": (110, 250, 35, 70),
}


def _sgen_kind(sgen_type: str) -> str:
    t = sgen_type.lower()
    if "pv" in t or "res" in t:
        return "pv"
    if "wind" in t:
        return "wind"
    if "hydro" in t:
        return "hydro"
    if "biomass" in t:
        return "biomass"
    return "other_gen"


@dataclass
class _DerRows:
    """Accumulates DER rows before they are frozen into a DerTable."""

    ids: list[str]
    kind: list[str]
    node: list[int]
    base: list[np.ndarray]
    up: list[np.ndarray]
    down: list[np.ndarray]
    coupling: list[str]
    energy: list[float]
    soc0: list[float]
    synthetic: list[bool]
    rated: list[float]
    element: list[tuple[str, int]]

    @classmethod
    def empty(cls) -> _DerRows:
        return cls([], [], [], [], [], [], [], [], [], [], [], [])

    def add(
        self,
        der_id: str,
        kind: str,
        node: int,
        base: np.ndarray,
        up: np.ndarray,
        down: np.ndarray,
        coupling: str = COUPLING_NONE,
        energy: float = 0.0,
        soc0: float = 0.0,
        synthetic: bool = False,
        rated: float = 0.0,
        element: tuple[str, int] = ("", -1),
    ) -> None:
        self.ids.append(der_id)
        self.kind.append(kind)
        self.node.append(node)
        self.base.append(base)
        self.up.append(np.maximum(up, 0.0))
        self.down.append(np.maximum(down, 0.0))
        self.coupling.append(coupling)
        self.energy.append(energy)
        self.soc0.append(soc0)
        self.synthetic.append(synthetic)
        self.rated.append(rated)
        self.element.append(element)


def _ev_window(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Arrival/departure quarter-hours: half workplace hubs (8-17h), half home (17-24h)."""
    work = rng.random(n) < 0.5
    arr = np.where(work, rng.integers(30, 38, n), rng.integers(66, 78, n))
    dep = np.where(work, rng.integers(64, 72, n), 96)
    return arr, dep


def _add_synthetic(
    rows: _DerRows,
    cfg: ScenarioConfig,
    grid: CoupledGrid,
    net: pandapowerNet,
    prof: ElementProfiles,
    window: slice,
    rng: np.random.Generator,
) -> None:
    mix = cfg.ders
    load_node = grid.bus_to_node.loc[net.load.bus].to_numpy()
    dist_load = grid.node_layer[load_node] >= 0
    nodes = np.unique(load_node[dist_load])
    t_all = 96
    for i, nd in enumerate(nodes[rng.random(len(nodes)) < mix.battery_share]):
        p, e = mix.battery_mw, mix.battery_mw * mix.battery_hours
        z = np.zeros(t_all)[window]
        rows.add(
            f"bat-{i}",
            "battery",
            int(nd),
            z,
            z + p,
            z + p,
            COUPLING_STORAGE,
            e,
            0.5 * e,
            True,
            rated=p,
        )
    ev_nodes = nodes[rng.random(len(nodes)) < mix.ev_share]
    arr, dep = _ev_window(rng, len(ev_nodes))
    for i, nd in enumerate(ev_nodes):
        present = np.zeros(t_all, dtype=bool)
        present[arr[i] : dep[i]] = True
        need_q = int(rng.uniform(0.3, 0.6) * present.sum())  # quarter-hours at full power
        base = np.zeros(t_all)
        base[arr[i] : arr[i] + need_q] = -mix.ev_mw  # plug in and charge at full power
        up = -base  # can delay what it would charge
        down = np.where(present, mix.ev_mw + base, 0.0)  # can charge more while present
        rows.add(
            f"ev-{i}",
            "ev",
            int(nd),
            base[window],
            up[window],
            down[window],
            COUPLING_SHIFT,
            synthetic=True,
            rated=mix.ev_mw,
        )
    flex = np.flatnonzero(dist_load & (rng.random(len(net.load)) < mix.flex_load_share))
    lp = prof.load_p_mw.to_numpy()
    for j in flex:
        share = mix.flex_load_fraction * np.maximum(lp[:, j], 0.0)
        if share.max() < MIN_BID_MW:
            continue
        rows.add(
            f"load-{net.load.index[j]}",
            "flex_load",
            int(load_node[j]),
            -share,
            share,
            share,
            rated=float(share.max()),
            element=("load", int(net.load.index[j])),
        )


#: markup on a transmission generator's marginal cost (a fraction): it offers up at the
#: marginal cost at its dispatch point times (1 + markup) and down at the marginal cost times
#: the markup (the margin it gives up; the fuel it saves stays with it, as in cost-based
#: redispatch). An interpretation of the case's cost curve, not data.
GEN_MARKUP = 0.10


def _marginal_cost(net: pandapowerNet, gen_idx: int, p_mw: float) -> float | None:
    """Marginal cost (EUR/MWh) of pandapower generator ``gen_idx`` at ``p_mw`` from its
    polynomial cost (``poly_cost``: MATPOWER ``gencost`` model 2), or None if it has none
    (piecewise-linear costs are not read: the generator then gets the synthetic price)."""
    pc = net.get("poly_cost", None)
    if pc is None or pc.empty:
        return None
    row = pc[(pc.et == "gen") & (pc.element == gen_idx)]
    if row.empty:
        return None
    c1, c2 = float(row.cp1_eur_per_mw.iloc[0]), float(row.cp2_eur_per_mw2.iloc[0])
    return max(c1 + 2.0 * c2 * p_mw, 0.0)


def _add_generators(
    rows: _DerRows, grid: CoupledGrid, net: pandapowerNet, prof: ElementProfiles
) -> dict[str, tuple[float, float]]:
    """Every in-service voltage-controlled generator (pandapower ``gen``) offers redispatch
    up to its ``max_p_mw`` and down to ``max(min_p_mw, 0)`` around its dispatch; returns the
    (up, down) prices of those with a cost curve (``GEN_MARKUP``)."""
    gen = net.get("gen", None)
    cost: dict[str, tuple[float, float]] = {}
    if gen is None or gen.empty:
        return cost
    node = grid.bus_to_node.loc[gen.bus].to_numpy()
    gp = prof.gen_p_mw.to_numpy()
    for j, idx in enumerate(gen.index):
        if not bool(gen.in_service.iloc[j]):
            continue
        p = gp[:, j]
        pmax = float(gen.max_p_mw.iloc[j]) if "max_p_mw" in gen else float(p.max())
        pmin = max(float(gen.min_p_mw.iloc[j]), 0.0) if "min_p_mw" in gen else 0.0
        pmax = pmax if np.isfinite(pmax) else float(p.max())
        der_id = f"gen-{idx}"
        rows.add(
            der_id,
            "other_gen",
            int(node[j]),
            p,
            pmax - p,
            p - pmin,
            rated=max(pmax, float(p.max())),
            element=("gen", int(idx)),
        )
        mc = _marginal_cost(net, int(idx), float(np.mean(p)))
        if mc is not None:
            cost[der_id] = (round(mc * (1 + GEN_MARKUP), 2), round(mc * GEN_MARKUP, 2))
    return cost


def _build_ders(
    cfg: ScenarioConfig,
    grid: CoupledGrid,
    net: pandapowerNet,
    prof: ElementProfiles,
    window: slice,
    rng: np.random.Generator,
) -> DerTable:
    rows = _DerRows.empty()
    if cfg.ders.curtailable_generation:
        sp = prof.sgen_p_mw.to_numpy()
        sgen_node = grid.bus_to_node.loc[net.sgen.bus].to_numpy()
        types = net.sgen.type.astype(str).to_numpy() if "type" in net.sgen else None
        # transmission-connected generators that do not offer (a draw of its own, so that
        # the share leaves every other draw of the scenario as it was)
        share = cfg.ders.transmission_flex_share
        silent = np.zeros(len(net.sgen), dtype=bool)
        if share < 1.0:
            in_t = grid.node_layer[sgen_node] < 0
            draw = np.random.default_rng([cfg.seed, SILENT_GENERATORS]).random(len(net.sgen))
            silent = in_t & (draw >= share)
        for j, idx in enumerate(net.sgen.index):
            if not bool(net.sgen.in_service.iloc[j]) or net.sgen.p_mw.iloc[j] <= 0:
                continue
            if silent[j]:
                continue
            kind = _sgen_kind(types[j]) if types is not None else "other_gen"
            p = sp[:, j]
            dispatchable = kind in ("biomass", "other_gen")
            head = (net.sgen.p_mw.iloc[j] * cfg.renewable_scale - p) if dispatchable else 0 * p
            rated = float(net.sgen.p_mw.iloc[j] * cfg.renewable_scale)
            rows.add(
                f"sgen-{idx}",
                kind,
                int(sgen_node[j]),
                p,
                head,
                p,
                rated=max(rated, float(p.max())),
                element=("sgen", int(idx)),
            )
    gen_cost = _add_generators(rows, grid, net, prof)
    _add_synthetic(rows, cfg, grid, net, prof, window, rng)
    n = len(rows.ids)
    kinds = np.array(rows.kind, dtype=str)  # str also when there is no DER
    price_up, price_down = np.zeros(n), np.zeros(n)
    for k, (ul, uh, dl, dh) in PRICE_RANGES.items():
        m = kinds == k
        price_up[m] = rng.uniform(ul, uh, m.sum())
        price_down[m] = rng.uniform(dl, dh, m.sum())
    for der_id, (up, down) in gen_cost.items():  # cost curves, not draws, where the case has them
        row = rows.ids.index(der_id)
        price_up[row], price_down[row] = up, down
    coupling = np.array(rows.coupling, dtype=str)
    return DerTable(
        id=np.array(rows.ids, dtype=str),
        kind=kinds,
        node=np.array(rows.node, dtype=int),
        aggregator=rng.integers(0, cfg.aggregators, n),
        p_base_mw=np.vstack(rows.base) if n else np.zeros((0, cfg.periods)),
        up_mw=np.vstack(rows.up) if n else np.zeros((0, cfg.periods)),
        down_mw=np.vstack(rows.down) if n else np.zeros((0, cfg.periods)),
        price_up_eur_per_mwh=np.round(price_up, 2),
        price_down_eur_per_mwh=np.round(price_down, 2),
        coupling=coupling,
        energy_mwh=np.array(rows.energy),
        soc0_mwh=np.array(rows.soc0),
        efficiency=np.where(coupling == COUPLING_STORAGE, 0.95, 1.0),
        soc_base_mwh=np.outer(rows.soc0, np.ones(cfg.periods)) if n else np.zeros((0, cfg.periods)),
        synthetic=np.array(rows.synthetic, dtype=bool),
        curtailable=np.isin(kinds, ["pv", "wind", "hydro"]),
        p_rated_mw=np.array(rows.rated, dtype=float),
        element_table=np.array([e[0] for e in rows.element], dtype=object).astype(str),
        element_index=np.array([e[1] for e in rows.element], dtype=int),
    )


def bids_from_ders(ders: DerTable) -> BidTable:
    """One divisible bid per DER, direction and period where headroom exceeds 1 kW."""
    parts = []
    for direction, cap, price in (
        (1, ders.up_mw, ders.price_up_eur_per_mwh),
        (-1, ders.down_mw, ders.price_down_eur_per_mwh),
    ):
        d, t = np.nonzero(cap > MIN_BID_MW)
        parts.append((d, np.full(len(d), direction), t, cap[d, t], price[d]))
    der = np.concatenate([p[0] for p in parts])
    order = np.lexsort(
        (np.concatenate([p[2] for p in parts]), -np.concatenate([p[1] for p in parts]), der)
    )
    cat = [np.concatenate([p[i] for p in parts])[order] for i in range(5)]
    return BidTable(
        der=cat[0],
        direction=cat[1],
        period=cat[2],
        q_max_mw=cat[3],
        price_eur_per_mwh=cat[4],
        node=ders.node[cat[0]],
        aggregator=ders.aggregator[cat[0]],
    )


def _imbalance(cfg: ScenarioConfig, rng: np.random.Generator) -> np.ndarray:
    """Synthetic TSO imbalance over the whole day (AR(1), 1 h correlation), then windowed."""
    e = rng.normal(0.0, 1.0, 96)
    x = np.zeros(96)
    phi = 0.8
    for t in range(96):
        x[t] = (phi * x[t - 1] if t else 0.0) + np.sqrt(1 - phi**2) * e[t]
    return cfg.imbalance_std_mw * x


def _scale_ratings(net: pandapowerNet, cfg: ScenarioConfig) -> pandapowerNet:
    """Apply rating factors and the voltage band overrides to a copy."""
    if (
        cfg.t_rating_scale == 1.0
        and cfg.d_rating_scale == 1.0
        and cfg.d_vmin_pu is None
        and cfg.d_vmax_pu is None
        and cfg.t_vmin_pu is None
        and cfg.t_vmax_pu is None
        and not cfg.t_line_derate
    ):
        return net
    t_bus = transmission_buses(net, cfg.transmission_min_kv)
    hv_all = t_bus.loc[net.line.from_bus].to_numpy()
    bad = [
        f"t_line_derate.{k}: expected the pandapower index of a transmission line "
        f"(>= {cfg.transmission_min_kv} kV)"
        for k in cfg.t_line_derate
        if not k.isdigit()
        or int(k) not in net.line.index
        or not hv_all[net.line.index.get_loc(int(k))]
    ]
    bad += [
        f"t_line_derate.{k} = {v}: expected a factor in (0, 1]"
        for k, v in cfg.t_line_derate.items()
        if not 0 < v <= 1
    ]
    if bad:
        raise ScenarioConfigError(cfg.name, bad)
    net = copy.deepcopy(net)
    mv = ~t_bus
    if cfg.d_vmin_pu is not None:
        net.bus.loc[mv, "min_vm_pu"] = cfg.d_vmin_pu
    if cfg.d_vmax_pu is not None:
        net.bus.loc[mv, "max_vm_pu"] = cfg.d_vmax_pu
    if cfg.t_vmin_pu is not None:
        net.bus.loc[~mv, "min_vm_pu"] = cfg.t_vmin_pu
    if cfg.t_vmax_pu is not None:
        net.bus.loc[~mv, "max_vm_pu"] = cfg.t_vmax_pu
    hv = hv_all
    net.line.loc[hv, "max_i_ka"] *= cfg.t_rating_scale
    net.line.loc[~hv, "max_i_ka"] *= cfg.d_rating_scale
    for k, v in cfg.t_line_derate.items():
        net.line.loc[int(k), "max_i_ka"] *= v
    return net


def _set_daily_taps(
    net: pandapowerNet, grid: CoupledGrid, p: np.ndarray, q: np.ndarray, rounds: int = 3
) -> pandapowerNet:
    """Set each transformer's starting tap so that its LV node's median voltage in the
    baseline AC power flow (taps held) is closest to the tap setpoint (simbench
    ``autoTapSetp``, else 1.0 pu): the day-ahead positions the on-load tap changers start
    from; the AC check steps them in every period where simbench marks them ``autoTap``.
    Returns a changed copy. A transformer without tap limits (a fixed off-nominal ratio, as
    in pandapower's copies of the IEEE cases) keeps its tap."""
    from tsodso.validation.ac import AcModel

    tr = net.trafo
    step = tr.tap_step_percent.fillna(0).to_numpy(float) / 100
    if not len(tr) or not (step > 0).any():
        return net
    oltc = (step > 0) & tr.tap_min.notna().to_numpy() & tr.tap_max.notna().to_numpy()
    net = copy.deepcopy(net)
    tr = net.trafo
    # pandapower ignores tap_pos unless a tap changer type is set (simbench leaves it None)
    tr.loc[step > 0, "tap_changer_type"] = "Ratio"
    setpoint = (
        pd.to_numeric(tr.autoTapSetp, errors="coerce").fillna(1.0).to_numpy(float)
        if "autoTapSetp" in tr
        else np.ones(len(tr))
    )
    lv = grid.bus_to_node.loc[tr.lv_bus].to_numpy()
    sign = np.where(tr.tap_side.fillna("hv").to_numpy() == "hv", 1.0, -1.0)
    for _ in range(rounds):
        vm = AcModel(net, grid, regulate_taps=False).run(p, q).vm_pu
        v = np.nan_to_num(np.nanmedian(vm[:, lv], axis=0), nan=1.0) if len(vm) else np.ones(len(lv))
        delta = np.where(oltc, np.round(sign * (v - setpoint) / np.where(oltc, step, 1)), 0)
        if not delta.any():
            break
        pos = tr.tap_pos.fillna(0).to_numpy(float) + delta
        tr["tap_pos"] = np.where(
            oltc, np.clip(pos, tr.tap_min.fillna(0), tr.tap_max.fillna(0)), pos
        )
    return net


def scenario_net(cfg: ScenarioConfig) -> pandapowerNet:
    """The scenario's grid: ``cfg.grid``, with distribution feeders attached where
    ``cfg.feeders`` asks for them."""
    net = load_net(cfg.grid)
    if cfg.feeders is None:
        return net
    from tsodso.grids.couple import attach_feeders, largest_load_buses

    f = cfg.feeders
    buses = list(f.buses) or largest_load_buses(net, f.count)
    coupled, _ = attach_feeders(net, f.grid, buses, cfg.transmission_min_kv)
    return coupled


def build_scenario(cfg: ScenarioConfig) -> Scenario:
    """Build the scenario ``cfg`` describes (deterministic for a given config)."""
    if cfg.settlement.baseline == "historical":
        from tsodso.scenario.history import previous_days_of_type

        try:
            previous_days_of_type(cfg.day, cfg.settlement.history_days)
        except ValueError as e:
            raise ScenarioConfigError(
                repr(cfg.name), [f"settlement.baseline = 'historical': {e}"]
            ) from None
    net = _scale_ratings(scenario_net(cfg), cfg)
    if unsupported := unsupported_elements(net):
        raise GridSourceError(
            f"grid {cfg.grid!r} has elements the models do not take: {'; '.join(unsupported)}"
            " (scenario grids take buses, lines, 2-winding transformers, switches, loads, static"
            " and voltage-controlled generators, shunts and external grids: simbench grids,"
            " MATPOWER cases, case33bw, CIGRE MV)"
        )
    grid = build_coupled_grid(net, transmission_min_kv=cfg.transmission_min_kv)
    # the DSO's band at each feeder node below the root (the root's voltage is given)
    narrow = [
        f"d_voltage_margin_pu = {cfg.d_voltage_margin_pu}: leaves no voltage band at feeder "
        f"{f.id} (its band {float(f.vmin_pu[1:].max()):g}..{float(f.vmax_pu[1:].min()):g} "
        "pu; expected 2 x margin < the band's width)"
        for f in grid.feeders
        if len(f.vmin_pu) > 1
        and float((f.vmax_pu[1:] - f.vmin_pu[1:]).min()) <= 2 * cfg.d_voltage_margin_pu
    ]
    if narrow:
        raise ScenarioConfigError(repr(cfg.name), narrow)
    try:
        areas = dso_areas(grid, cfg.dsos)
    except DsoAreaError as err:
        raise ScenarioConfigError(f"{cfg.name!r} (dsos)", err.problems) from None
    if cfg.events:  # checked before the day's taps are set (topology only)
        from tsodso.grids.outage import outage_problems

        problems = outage_problems(net, grid, cfg.events, cfg.transmission_min_kv, cfg.periods)
        problems += _unknown_dsos(cfg, areas.names)
        if problems:
            raise ScenarioConfigError(f"{cfg.name!r} (events)", problems)
    window = slice(cfg.first_period, cfg.first_period + cfg.periods)
    full = window_profiles(net, cfg.day, 0, 96)
    prof = ElementProfiles(
        load_p_mw=full.load_p_mw.iloc[window].reset_index(drop=True) * cfg.load_scale,
        load_q_mvar=full.load_q_mvar.iloc[window].reset_index(drop=True) * cfg.load_scale,
        sgen_p_mw=full.sgen_p_mw.iloc[window].reset_index(drop=True) * cfg.renewable_scale,
        gen_p_mw=full.gen_p_mw.iloc[window].reset_index(drop=True),
    )
    rng = np.random.default_rng(cfg.seed)
    imbalance = _imbalance(cfg, rng)[window]
    ders = _build_ders(cfg, grid, net, prof, window, rng)
    n, t = grid.n_nodes, cfg.periods
    p0 = np.zeros((n, t))
    q0 = np.zeros((n, t))
    in_l = net.load.in_service.to_numpy(dtype=bool)
    in_s = net.sgen.in_service.to_numpy(dtype=bool)
    ln = grid.bus_to_node.loc[net.load.bus].to_numpy()
    sn = grid.bus_to_node.loc[net.sgen.bus].to_numpy()
    np.add.at(p0, ln[in_l], -prof.load_p_mw.to_numpy().T[in_l])
    np.add.at(q0, ln[in_l], -prof.load_q_mvar.to_numpy().T[in_l])
    np.add.at(p0, sn[in_s], prof.sgen_p_mw.to_numpy().T[in_s])
    if len(net.gen):  # voltage-controlled generators: nodal injections at their dispatch
        in_g = net.gen.in_service.to_numpy(dtype=bool)
        gn = grid.bus_to_node.loc[net.gen.bus].to_numpy()
        np.add.at(p0, gn[in_g], prof.gen_p_mw.to_numpy().T[in_g])
    if "q_mvar" in net.sgen:
        np.add.at(q0, sn[in_s], np.outer(net.sgen.q_mvar.to_numpy()[in_s], np.ones(t)))
    wholesale = None
    if cfg.wholesale.market == "day_ahead":
        # the zone's net import before the aggregators schedule their units there
        day = _residual_demand(net, full, cfg)
        wholesale = clear_wholesale(ders, -p0.sum(axis=0), day, cfg.wholesale, DT_H)
        ders = rescheduled(ders, wholesale)
    syn = ders.synthetic
    np.add.at(p0, ders.node[syn], ders.p_base_mw[syn])
    demand = pd.Series(prof.load_p_mw.to_numpy().clip(min=0).sum(0)[in_l]).groupby(ln[in_l]).sum()
    share = np.zeros(n)
    share[demand.index.to_numpy()] = demand.to_numpy()
    share = share / share.sum() if share.sum() > 0 else np.full(n, 1.0 / n)
    net = _set_daily_taps(net, grid, p0 - np.outer(share, imbalance), q0)
    # taps change transformer reactances in the DC model: rebuild (same nodes and feeders)
    grid = build_coupled_grid(net, transmission_min_kv=cfg.transmission_min_kv)
    return Scenario(
        config=cfg,
        net=net,
        grid=grid,
        dt_h=DT_H,
        node_p0_mw=p0,
        node_q0_mvar=q0,
        imbalance_mw=imbalance,
        imbalance_share=share,
        ders=ders,
        bids=bids_from_ders(ders),
        aggregator_names=tuple(f"dera-{i + 1}" for i in range(cfg.aggregators)),
        **_brp_positions(cfg, imbalance),
        dso_areas=areas,
        wholesale=wholesale,
        reactive=reactive_offers(ders, grid.node_layer[ders.node] >= 0, cfg.seed),
    )


def _residual_demand(net: pandapowerNet, full: ElementProfiles, cfg: ScenarioConfig) -> np.ndarray:
    """(96,) the zone's net import over the whole day before any DER is scheduled: loads
    minus static and voltage-controlled generation (the arithmetic of ``build_scenario``)."""
    in_l = net.load.in_service.to_numpy(dtype=bool)
    in_s = net.sgen.in_service.to_numpy(dtype=bool)
    out = full.load_p_mw.to_numpy()[:, in_l].sum(axis=1) * cfg.load_scale
    out = out - full.sgen_p_mw.to_numpy()[:, in_s].sum(axis=1) * cfg.renewable_scale
    if len(net.gen):
        in_g = net.gen.in_service.to_numpy(dtype=bool)
        out = out - full.gen_p_mw.to_numpy()[:, in_g].sum(axis=1)
    return np.asarray(out)


def _unknown_dsos(cfg: ScenarioConfig, names: tuple[str, ...]) -> list[str]:
    """Every message-loss event that names a DSO the scenario does not have."""
    return [
        f"events[{i}].{field} = {who!r}: no such DSO; the scenario's DSOs are {', '.join(names)}"
        for i, e in enumerate(cfg.events)
        if e.kind == "message_loss"
        for field, who in (("sender", e.sender), ("receiver", e.receiver))
        if who.startswith("DSO-") and who not in names
    ]


def _brp_positions(cfg: ScenarioConfig, imbalance: np.ndarray) -> dict[str, np.ndarray]:
    """Each BRP's share of the imbalance (fixed weights for the day) and its value of
    closing it, from a draw of their own (every other draw of the scenario is unchanged).
    Synthetic, labelled so in the config's description."""
    rng = np.random.default_rng([cfg.seed, BRP_POSITIONS])
    c = cfg.commercial
    weights = rng.dirichlet(np.ones(cfg.aggregators))
    value = rng.uniform(c.value_low_eur_per_mwh, c.value_high_eur_per_mwh, cfg.aggregators)
    position = np.outer(weights, imbalance) * c.brp_share_of_imbalance
    return {"brp_position_mw": position, "brp_value_eur_per_mwh": value}
