"""Our AC check (power-grid-model on fused nodes) against pandapower's runpp."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pandapower as pp

from tsodso.scenario.domain import Scenario
from tsodso.validation.ac import AcModel


def test_default_grid_voltages_and_loadings_match_runpp(
    small: Scenario, tolerances: dict[str, Any]
) -> None:
    scn, t = small, 2
    p, q = scn.node_injection_mw(), scn.node_q0_mvar
    res = AcModel(scn.net, scn.grid).run(p, q)
    assert res.converged.all()
    net = copy.deepcopy(scn.net)
    net.load.drop(net.load.index, inplace=True)
    net.sgen.drop(net.sgen.index, inplace=True)
    for i, bus in enumerate(scn.grid.node_bus):
        pp.create_sgen(net, int(bus), p_mw=float(p[i, t]), q_mvar=float(q[i, t]))
    pp.runpp(net, calculate_voltage_angles=True, trafo_model="pi")
    vm_ref = net.res_bus.vm_pu.loc[scn.grid.node_bus].to_numpy()
    assert (
        np.abs(res.vm_pu[t] - vm_ref).max() < tolerances["ac_check_simbench"]["max_abs_vm_diff_pu"]
    )
    # the operating point is stressed (the check has something to find)
    assert vm_ref.max() > 1.05
    # line loadings (current over rated current in both tools) agree within 1 point
    from tsodso.grids.topology import line_in_operation

    ln = net.line[line_in_operation(net)]
    b2n = scn.grid.bus_to_node
    ln = ln[b2n.loc[ln.from_bus].to_numpy() != b2n.loc[ln.to_bus].to_numpy()]
    line_ref = net.res_line.loading_percent.loc[ln.index].to_numpy() / 100
    assert np.abs(res.branch_loading[t, : len(line_ref)] - line_ref).max() < 0.01
    # transformer loading: power-grid-model divides apparent power by the rating,
    # pandapower current times rated voltage; they differ by the per-unit voltage (< 6 %)
    tr_ref = net.res_trafo.loading_percent.to_numpy() / 100
    tr_ours = res.branch_loading[t, -len(tr_ref) :]
    assert np.abs(tr_ours / tr_ref - 1).max() < 0.06


def test_generators_and_shunts_match_runpp() -> None:
    """case14 has four voltage-controlled generators (PV nodes; power-grid-model has none,
    the AC check holds them by an outer loop) and a capacitor shunt: the check's voltages
    match pandapower's runpp (which has PV buses) at every period."""
    from tsodso.scenario.build import build_scenario
    from tsodso.schema.config import config_from_dict

    scn = build_scenario(config_from_dict({"name": "c14", "grid": "matpower:case14", "periods": 3}))
    assert len(scn.net.gen) == 4 and len(scn.net.shunt) == 1
    p, q = scn.node_injection_mw(), scn.node_q0_mvar
    p = p * np.array([0.8, 1.0, 1.2])  # three different operating points
    res = AcModel(scn.net, scn.grid).run(p, q)
    assert res.converged.all()
    for t in range(3):
        net = copy.deepcopy(scn.net)
        net.load.drop(net.load.index, inplace=True)
        net.gen["p_mw"] = 0.0  # the generators' power is in the node injections
        for i, bus in enumerate(scn.grid.node_bus):
            pp.create_sgen(net, int(bus), p_mw=float(p[i, t]), q_mvar=float(q[i, t]))
        pp.runpp(net, calculate_voltage_angles=True, trafo_model="pi")
        ref = net.res_bus.vm_pu.loc[scn.grid.node_bus].to_numpy()
        assert np.abs(res.vm_pu[t] - ref).max() < 1e-5
        # without the shunt, the voltages move by more than the tolerance (it is modelled)
        net.shunt["in_service"] = False
        pp.runpp(net, calculate_voltage_angles=True, trafo_model="pi")
        assert np.abs(net.res_bus.vm_pu.loc[scn.grid.node_bus].to_numpy() - ref).max() > 1e-3


def test_case118_falls_back_to_runpp_where_the_pv_loop_cannot_start() -> None:
    """Without its 53 generators' reactive power case118 has no power flow solution, so the
    PV loop diverges from its start; those periods are solved by runpp (PV buses)."""
    from tsodso.scenario.build import build_scenario
    from tsodso.schema.config import config_from_dict

    scn = build_scenario(
        config_from_dict({"name": "c118", "grid": "pandapower:case118", "periods": 2})
    )
    model = AcModel(scn.net, scn.grid)
    res = model.run(scn.node_injection_mw(), scn.node_q0_mvar)
    assert res.converged.all() and model.fallback_periods == 2
    net = copy.deepcopy(scn.net)
    pp.runpp(net, calculate_voltage_angles=True, trafo_model="pi")
    ref = net.res_bus.vm_pu.loc[scn.grid.node_bus].to_numpy()
    assert np.abs(res.vm_pu[0] - ref).max() < 1e-5
