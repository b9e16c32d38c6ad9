"""A single-period clearing on case118 with generator offers equals pandapower's DC OPF."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandapower as pp
import pandapower.networks as pn

from tsodso.clearing.lp import Status
from tsodso.clearing.market import clear_market
from tsodso.coordination.context import MarketContext
from tsodso.grids.model import build_coupled_grid
from tsodso.scenario.build import bids_from_ders
from tsodso.scenario.domain import Scenario
from tsodso.schema.config import ScenarioConfig
from tsodso.schema.tables import COUPLING_NONE, DerTable


def case118_market(line_rating_mw: float | None = None) -> tuple[Any, Scenario]:
    """case118 with linear offers (quadratic terms dropped) as a tsodso scenario: every
    generator bids up from 0 to its maximum at its linear cost; the imbalance is the load.
    ``line_rating_mw`` sets every line's rating (case118's own are not binding)."""
    net = pn.case118()
    net.poly_cost["cp2_eur_per_mw2"] = 0.0
    if line_rating_mw is not None:
        vn = net.bus.vn_kv.loc[net.line.from_bus].to_numpy()
        net.line["max_i_ka"] = line_rating_mw / (np.sqrt(3) * vn)
    grid = build_coupled_grid(net, transmission_min_kv=0.0)
    units = [
        ("gen", i, b, pmax)
        for i, b, pmax in zip(net.gen.index, net.gen.bus, net.gen.max_p_mw, strict=True)
    ]
    units += [
        ("ext_grid", i, b, pmax)
        for i, b, pmax in zip(
            net.ext_grid.index, net.ext_grid.bus, net.ext_grid.max_p_mw, strict=True
        )
    ]
    cost = net.poly_cost.set_index(["et", "element"]).cp1_eur_per_mw
    n = len(units)
    price = np.array([cost.loc[(et, i)] for et, i, _, _ in units])
    cap = np.array([[u[3]] for u in units], dtype=float)
    ders = DerTable(
        id=np.array([f"{et}-{i}" for et, i, _, _ in units]),
        kind=np.full(n, "other_gen"),
        node=grid.bus_to_node.loc[[u[2] for u in units]].to_numpy(),
        aggregator=np.zeros(n, dtype=int),
        p_base_mw=np.zeros((n, 1)),
        up_mw=cap,
        down_mw=np.zeros((n, 1)),
        price_up_eur_per_mwh=price,
        price_down_eur_per_mwh=np.zeros(n),
        coupling=np.full(n, COUPLING_NONE),
        energy_mwh=np.zeros(n),
        soc0_mwh=np.zeros(n),
        efficiency=np.ones(n),
        soc_base_mwh=np.zeros((n, 1)),
        synthetic=np.zeros(n, dtype=bool),
        curtailable=np.zeros(n, dtype=bool),
        p_rated_mw=cap[:, 0],
        element_table=np.full(n, ""),
        element_index=np.full(n, -1),
    )
    load = np.zeros(grid.n_nodes)
    np.add.at(load, grid.bus_to_node.loc[net.load.bus].to_numpy(), net.load.p_mw.to_numpy())
    scn = Scenario(
        config=ScenarioConfig(name="case118", grid="pandapower:case118", periods=1),
        net=net,
        grid=grid,
        dt_h=1.0,
        node_p0_mw=np.zeros((grid.n_nodes, 1)),
        node_q0_mvar=np.zeros((grid.n_nodes, 1)),
        imbalance_mw=np.array([load.sum()]),
        imbalance_share=load / load.sum(),
        ders=ders,
        bids=bids_from_ders(ders),
        aggregator_names=("gencos",),
    )
    return net, scn


def test_case118_objective_equals_rundcopp(tolerances: dict[str, Any]) -> None:
    # 175 MW line ratings make the case congested, so the network constraints matter
    net, scn = case118_market(line_rating_mw=175.0)
    pp.rundcopp(net, trafo_model="pi")
    ctx = MarketContext.uncalibrated(scn)
    c = clear_market(ctx.problem(scn.bids, feeders=()))
    assert c.status == Status.OPTIMAL
    assert abs(c.unmet_imbalance_mw).sum() < 1e-6
    assert c.lp_overload_mw < 1e-6
    rel = abs(c.objective_eur - net.res_cost) / net.res_cost
    assert rel < tolerances["dcopf_case118"]["rel_objective_diff"]
    # congestion is real: LMPs differ across nodes
    lmp = c.node_price_eur_per_mwh[:, 0]
    assert lmp.max() - lmp.min() > 1.0
    # and match pandapower's LMPs (res_bus.lam_p) up to its interior-point accuracy; a node
    # behind a binding radial line has a degenerate dual (any price in a range is optimal),
    # so one node (bus 8) may differ
    ref = net.res_bus.lam_p.loc[scn.grid.node_bus].to_numpy()
    close = np.abs(lmp - ref) < tolerances["dcopf_case118"]["lmp_abs_diff_eur_per_mwh"]
    assert close.sum() >= len(close) - 1
