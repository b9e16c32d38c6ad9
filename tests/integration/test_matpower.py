"""MATPOWER cases as scenario grids (issue 17): read through pandapower's converter, bad
files refused with one message, generators offering at their cost curves."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandapower as pp
import pandapower.networks as pn
import pytest

from tsodso.grids.sources import GridSourceError, load_net, unsupported_elements
from tsodso.scenario.build import GEN_MARKUP, build_scenario
from tsodso.schema.config import config_from_dict


def _runpp_vm(net: pp.pandapowerNet) -> np.ndarray:
    pp.runpp(net, calculate_voltage_angles=True)
    return np.asarray(net.res_bus.vm_pu.to_numpy())


def test_bundled_case14_is_the_ieee_case_pandapower_ships() -> None:
    net = load_net("matpower:case14")
    ref = pn.case14()
    assert len(net.bus) == 14 and len(net.gen) == 4 and len(net.shunt) == 1
    assert len(net.line) + len(net.trafo) == len(ref.line) + len(ref.trafo) == 20
    assert (net.bus.tsodso_layer == "transmission").all()
    assert unsupported_elements(net) == []
    # the same operating point: the fixed ratios and the ratio-1 branches (pandapower
    # impedances, replaced by transformers) are converted without changing the physics
    assert np.abs(_runpp_vm(net) - _runpp_vm(ref)).max() < 1e-8


def test_mat_file_round_trip(tmp_path: Path) -> None:
    from pandapower.converter.matpower import to_mpc

    ref = pn.case30()
    path = tmp_path / "case30.mat"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        to_mpc(ref, str(path), init="flat")
    net = load_net(str(path))
    assert len(net.bus) == 30 and len(net.gen) == len(ref.gen)
    assert load_net(f"matpower:{path}").bus.shape == net.bus.shape
    assert np.abs(_runpp_vm(net) - _runpp_vm(ref)).max() < 1e-6


def test_bad_matpower_specs_are_refused_with_their_reason(tmp_path: Path) -> None:
    bad = tmp_path / "bad.m"
    bad.write_text("function mpc = bad\nmpc.version = '2';\nmpc.bus = [1 3 0;\n")
    cases = {
        "matpower:nope": "a case tsodso ships (case14)",
        str(tmp_path / "missing.m"): "no such file",
        str(bad): "not a MATPOWER case",
        f"matpower:{tmp_path}.m": "no such file",
    }
    for spec, why in cases.items():
        with pytest.raises(GridSourceError) as e:
            load_net(spec)
        assert why in str(e.value), (spec, str(e.value))


def test_case14_scenario_generators_offer_at_their_cost_curves() -> None:
    scn = build_scenario(config_from_dict({"name": "c14", "grid": "matpower:case14", "periods": 2}))
    d = scn.ders
    gens = np.flatnonzero(d.element_table == "gen")
    assert len(gens) == 4
    g0 = gens[d.element_index[gens] == 0][0]
    # case14 gen at bus 2: 40 MW, cost 0.25 p^2 + 20 p -> marginal cost 40 EUR/MWh at 40 MW
    assert d.p_base_mw[g0, 0] == pytest.approx(40.0)
    assert d.up_mw[g0, 0] == pytest.approx(100.0)  # up to Pmax 140
    assert d.down_mw[g0, 0] == pytest.approx(40.0)  # down to 0
    assert d.price_up_eur_per_mwh[g0] == pytest.approx(40 * (1 + GEN_MARKUP))
    assert d.price_down_eur_per_mwh[g0] == pytest.approx(40 * GEN_MARKUP)
    # the generators' dispatch is in the node injections (loads 259 MW, gens 40 MW)
    assert scn.node_p0_mw.sum(axis=0) == pytest.approx(np.full(2, 40.0 - 259.0))
