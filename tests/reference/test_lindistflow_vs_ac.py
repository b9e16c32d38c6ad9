"""LinDistFlow (our DSO model) against pandapower's AC power flow on Baran-Wu case33bw."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandapower as pp
import pandapower.networks as pn

from tsodso.grids.distflow import lindistflow
from tsodso.grids.model import build_coupled_grid


def test_case33bw_voltages_within_tolerance(tolerances: dict[str, Any]) -> None:
    net = pn.case33bw()
    pp.runpp(net)
    grid = build_coupled_grid(net, transmission_min_kv=100.0)
    (f,) = grid.feeders
    p = np.zeros((grid.n_nodes, 1))
    q = np.zeros((grid.n_nodes, 1))
    nodes = grid.bus_to_node.loc[net.load.bus].to_numpy()
    np.add.at(p[:, 0], nodes, -net.load.p_mw.to_numpy())
    np.add.at(q[:, 0], nodes, -net.load.q_mvar.to_numpy())
    vroot = net.ext_grid.vm_pu.to_numpy()[:1]
    st = lindistflow(f, p[f.nodes], q[f.nodes], vroot)
    vm_ac = net.res_bus.vm_pu.loc[grid.node_bus[f.nodes]].to_numpy()
    err = np.abs(st.vm_pu[:, 0] - vm_ac)
    assert err.max() < tolerances["lindistflow_case33bw"]["max_abs_vm_diff_pu"]
    # the case is not trivial: the far end sags by more than 5 %
    assert vm_ac.min() < 0.95
    # losses neglected: LinDistFlow is optimistic about the sag
    assert (st.vm_pu[:, 0] >= vm_ac - 1e-9).all()
    # head flow equals total load (no losses) and matches AC minus losses
    assert np.isclose(st.p_flow[f.parent == 0].sum(), net.load.p_mw.sum())
