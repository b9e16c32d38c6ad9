"""Our DC transmission model against pandapower's DC power flow (rundcpp)."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pandapower as pp
import pandapower.networks as pn

from tsodso.grids.model import build_coupled_grid, dc_flows
from tsodso.scenario.domain import Scenario


def test_case118_flows_match_rundcpp(tolerances: dict[str, Any]) -> None:
    net = pn.case118()
    pp.rundcpp(net, trafo_model="pi")
    grid = build_coupled_grid(net, transmission_min_kv=0.0)
    p = np.zeros(grid.n_nodes)
    np.add.at(p, grid.bus_to_node.loc[net.res_bus.index].to_numpy(), -net.res_bus.p_mw.to_numpy())
    flows = dc_flows(grid, p)[:, 0]
    tg = grid.transmission
    ref = np.where(
        tg.branch_kind == "line",
        net.res_line.p_from_mw.reindex(tg.branch_element).to_numpy(),
        net.res_trafo.p_hv_mw.reindex(tg.branch_element).to_numpy(),
    )
    tol = tolerances["dc_flows_case118"]["max_abs_flow_diff_mw"]
    assert np.max(np.abs(flows - ref)) < tol
    assert np.max(np.abs(ref)) > 100  # a loaded case, not a trivial one


def test_simbench_hv_flows_match_rundcpp(small: Scenario, tolerances: dict[str, Any]) -> None:
    """Distribution feeders lumped at their TDI give the same HV flows as pandapower's DC
    power flow of the whole grid (radial feeders carry their injections losslessly)."""
    scn = small
    p = scn.node_injection_mw()[:, 3]
    net = copy.deepcopy(scn.net)
    net.load.drop(net.load.index, inplace=True)
    net.sgen.drop(net.sgen.index, inplace=True)
    for i, bus in enumerate(scn.grid.node_bus):
        pp.create_sgen(net, int(bus), p_mw=float(p[i]))
    pp.rundcpp(net, trafo_model="pi")
    flows = dc_flows(scn.grid, p)[:, 0]
    tg = scn.grid.transmission
    ref = np.where(
        tg.branch_kind == "line",
        net.res_line.p_from_mw.reindex(tg.branch_element).to_numpy(),
        net.res_trafo.p_hv_mw.reindex(tg.branch_element).to_numpy(),
    )
    tol = tolerances["dc_flows_simbench_hv"]["max_abs_flow_diff_mw"]
    assert np.max(np.abs(flows - ref)) < tol
    assert np.max(np.abs(ref)) > 50
