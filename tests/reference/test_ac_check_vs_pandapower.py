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


def test_automatic_taps_match_pandapowers_discrete_tap_control(small: Scenario) -> None:
    """simbench marks its HV/MV transformers ``autoTap`` (LV side held at ``autoTapSetp``):
    the AC check steps their taps in every period. Against pandapower's own controller
    (DiscreteTapControl, an independent implementation) on an operating point where the
    transmission voltage is raised so far that fixed taps leave every feeder root high."""
    from pandapower.control import DiscreteTapControl

    from tsodso.validation.ac import OLTC_BAND_STEPS

    scn, t = small, 2
    net = copy.deepcopy(scn.net)
    net.ext_grid["vm_pu"] = 1.06  # the TSO's voltage 0.04 pu above the simbench setting
    p, q = scn.node_injection_mw(), scn.node_q0_mvar
    fixed = AcModel(net, scn.grid, regulate_taps=False).run(p[:, t : t + 1], q[:, t : t + 1])
    ours = AcModel(net, scn.grid).run(p[:, t : t + 1], q[:, t : t + 1])
    assert ours.converged.all()
    auto = net.trafo.index[net.trafo.autoTap.astype(float) > 0]
    lv_nodes = scn.grid.bus_to_node.loc[net.trafo.lv_bus.loc[auto]].to_numpy()
    half_band = OLTC_BAND_STEPS * net.trafo.tap_step_percent.loc[auto].to_numpy() / 200
    setp = net.trafo.autoTapSetp.loc[auto].astype(float).to_numpy()
    # without tap control the roots leave the band; with it every root is inside
    assert (np.abs(fixed.vm_pu[0, lv_nodes] - setp) > half_band).any()
    assert (np.abs(ours.vm_pu[0, lv_nodes] - setp) <= half_band + 1e-6).all()

    ref = copy.deepcopy(net)
    ref.load.drop(ref.load.index, inplace=True)
    ref.sgen.drop(ref.sgen.index, inplace=True)
    for i, bus in enumerate(scn.grid.node_bus):
        pp.create_sgen(ref, int(bus), p_mw=float(p[i, t]), q_mvar=float(q[i, t]))
    for k, lo, hi in zip(auto, setp - half_band, setp + half_band, strict=True):
        DiscreteTapControl(ref, element_index=int(k), vm_lower_pu=lo, vm_upper_pu=hi, side="lv")
    pp.runpp(ref, calculate_voltage_angles=True, trafo_model="pi", run_control=True)
    vm_ref = ref.res_bus.vm_pu.loc[scn.grid.node_bus].to_numpy()
    # both controllers end inside the band, which can hold two taps: the positions agree
    # within one step
    assert (np.abs(vm_ref[lv_nodes] - setp) <= half_band + 1e-6).all()
    assert ours.tap_pos is not None
    assert ours.tap_pos.shape == (1, len(auto))
    pos_ref = ref.trafo.tap_pos.loc[auto].to_numpy(float)
    assert (pos_ref != net.trafo.tap_pos.loc[auto].to_numpy(float)).any()  # taps moved
    assert np.abs(ours.tap_pos[0] - pos_ref).max() <= 1
    # pandapower at our taps (no controller): the same voltages, every one inside its band
    ref.controller.drop(ref.controller.index, inplace=True)
    ref.trafo.loc[auto, "tap_pos"] = ours.tap_pos[0]
    pp.runpp(ref, calculate_voltage_angles=True, trafo_model="pi")
    vm_at_ours = ref.res_bus.vm_pu.loc[scn.grid.node_bus].to_numpy()
    assert np.abs(ours.vm_pu[0] - vm_at_ours).max() < 2e-3
    assert (np.abs(vm_at_ours[lv_nodes] - setp) <= half_band + 1e-6).all()


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
