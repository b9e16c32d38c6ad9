"""On-load tap changers in the AC check: at high DER uptake a coordinated market must not
make distribution voltages worse than doing nothing.

Before the AC check stepped the simbench ``autoTap`` transformers, the joint market's
transmission redispatch raised the fixed-tap feeder roots by up to 0.025 pu at 1.4x uptake
on the small preset, and SmartNet D left 2,381 node-intervals out of band against 786 with
no flexibility at all: an artefact of the AC model, not of the market (the tap changers of
every HV/MV substation hold those roots in reality)."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from tsodso.assess.points import uptake_config
from tsodso.pipeline import prepare, run_model
from tsodso.scenario.build import build_scenario
from tsodso.scenario.domain import Scenario
from tsodso.schema.config import ScenarioConfig, load_config
from tsodso.validation.ac import AcCheckError, AcModel


def test_a_joint_market_at_high_uptake_improves_voltages_on_the_ac_grid() -> None:
    cfg = ScenarioConfig.model_validate(uptake_config(load_config("small"), 1.4))
    prep = prepare(build_scenario(cfg))
    base = prep.baseline
    assert base.voltage_violations() > 100  # the uptake leaves something to relieve
    run = run_model(prep, "smartnet-d")
    assert run.ac.voltage_violations() < 0.5 * base.voltage_violations()
    # the tap changers worked for it: more steps than on the baseline day
    assert run.kpis["tap_changes"] > base.tap_changes() > 0
    roots = [int(f.nodes[0]) for f in prep.scn.grid.feeders]
    # every feeder root is the regulated side of a tap-changing transformer
    ac = prep.ac_model
    lv = prep.scn.grid.bus_to_node.loc[prep.scn.net.trafo.lv_bus.loc[ac.regulated_trafos]]
    assert set(lv.to_numpy().tolist()) >= set(roots)


def test_tap_changes_count_steps_from_the_day_ahead_positions(small: Scenario) -> None:
    ac = AcModel(small.net, small.grid)
    p, q = small.node_injection_mw(), small.node_q0_mvar
    res = ac.run(p, q)
    assert res.tap_pos is not None and res.tap_start is not None
    pos = np.vstack([res.tap_start[None, :], res.tap_pos])
    assert res.tap_changes() == int(np.abs(np.diff(pos, axis=0)).sum())
    fixed = AcModel(small.net, small.grid, regulate_taps=False).run(p, q)
    assert fixed.tap_pos is None and fixed.tap_changes() == 0


def test_an_unknown_regulated_side_is_refused_with_the_transformers_named(
    small: Scenario,
) -> None:
    net = copy.deepcopy(small.net)
    auto = net.trafo.index[pd.to_numeric(net.trafo.autoTap, errors="coerce") > 0]
    net.trafo.loc[auto[:2], "autoTapSide"] = "mv"
    with pytest.raises(AcCheckError) as err:
        AcModel(net, small.grid)
    msg = str(err.value)
    assert "autoTapSide" in msg
    assert all(f"{i} ('mv')" in msg for i in auto[:2])
