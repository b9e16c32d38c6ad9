"""Coupled T+D grids from a transmission case (issue 17): distribution feeders attached at
load buses of a MATPOWER case, scaled to replace those loads, and every named model run end
to end on the case14-feeders preset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tsodso.grids.couple import TRAFO_MARGIN, attach_feeders, largest_load_buses
from tsodso.grids.model import build_coupled_grid
from tsodso.grids.sources import GridSourceError, load_net

MV_RURAL = "simbench:1-MV-rural--0-sw"


def test_feeders_replace_the_loads_of_the_largest_load_buses() -> None:
    t = load_net("matpower:case14")
    buses = largest_load_buses(t, 3)
    assert buses == [2, 3, 8]  # case14's loads: 94.2, 47.8, 29.5 MW
    net, att = attach_feeders(t, MV_RURAL, buses)
    grid = build_coupled_grid(net)
    assert [f.id for f in grid.feeders] == ["MV1.101.T2", "MV1.101.T3", "MV1.101.T8"]
    feeder_grid = load_net(MV_RURAL)
    for a, f in zip(att, grid.feeders, strict=True):
        assert f.tdi_node == grid.bus_to_node.loc[a.bus]
        assert not (net.load.bus == a.bus).any()  # the bus's own load is gone
        members = net.bus.index[net.bus.subnet == a.feeder]
        # the feeder's nominal load equals the load it replaces; its generation scales alike
        assert net.load.p_mw[net.load.bus.isin(members)].sum() == pytest.approx(a.load_mw)
        assert net.sgen.p_mw[net.sgen.bus.isin(members)].sum() == pytest.approx(
            feeder_grid.sgen.p_mw.sum() * a.scale
        )
        assert f.n == len(set(grid.bus_to_node.loc[members]))  # busbars fused by switches
        sn = float(net.trafo.sn_mva.at[a.trafo])
        fl = feeder_grid.load
        s_load = np.hypot(fl.p_mw.sum(), fl.q_mvar.sum())
        peak = max(feeder_grid.sgen.p_mw.sum(), s_load) * a.scale
        assert TRAFO_MARGIN * peak <= sn < TRAFO_MARGIN * peak + 5
    # the transmission loads left are the case's other loads
    assert net.load.p_mw.sum() == pytest.approx(t.load.p_mw.sum())


def test_cigre_feeders_attach_each_of_its_two_feeders() -> None:
    t = load_net("matpower:case14")
    net, att = attach_feeders(t, "pandapower:create_cigre_network_mv", [2])
    grid = build_coupled_grid(net)
    assert sorted(f.id for f in grid.feeders) == ["CIGRE-MV.T2.1", "CIGRE-MV.T2.2"]
    assert len(att) == 2 and {a.bus for a in att} == {2}


def test_bad_attachments_are_named_together() -> None:
    t = load_net("matpower:case14")
    with pytest.raises(GridSourceError) as e:
        attach_feeders(t, MV_RURAL, [0, 99, 2, 2])
    msg = str(e.value)
    for part in (
        "bus 0 has no load",
        "bus 99 is not in the transmission case",
        "bus 2 is named twice",
    ):
        assert part in msg, msg
    with pytest.raises(GridSourceError, match="expected 'simbench:CODE' of an MV grid"):
        attach_feeders(t, "pandapower:case33bw", [2])
    with pytest.raises(GridSourceError, match="distribution buses"):
        attach_feeders(load_net(MV_RURAL), MV_RURAL, [5])


def test_every_model_runs_on_the_case14_feeders_preset() -> None:
    from tsodso import api

    prep = api.prepare("case14-feeders")
    scn = prep.scn
    assert len(scn.grid.feeders) == 3 and scn.config.grid == "matpower:case14"
    assert (scn.ders.element_table == "gen").sum() == 4  # case14's generators offer
    table = api.compare(prep, "all").table()
    assert len(table) == 34
    assert (table.status == "optimal").all(), table.status.to_dict()
    assert (table.ac_unconverged_periods == 0).all()
    # the baseline has feeder overloads and voltage problems; a joint market removes them
    # all, a TSO-only market (smartnet-a) leaves them: the case tells models apart
    assert table.loc["smartnet-a", "overload_mwh"] > 1.0
    assert table.loc["smartnet-d", "overload_mwh"] == 0.0
    assert table.loc["smartnet-d", "voltage_violations"] == 0
    assert (
        table.loc["smartnet-d", "cost_to_serve_eur"] < table.loc["smartnet-a", "cost_to_serve_eur"]
    )


def test_feeder_fields_are_checked_together() -> None:
    from tsodso.schema.config import ScenarioConfigError, config_from_dict

    with pytest.raises(ScenarioConfigError) as e:
        config_from_dict(
            {"grid": "matpower:case14", "feeders": {"count": 0, "buses": [-1], "foo": 1}}
        )
    text = str(e.value)
    for field in ("feeders.count", "feeders.buses", "feeders.foo"):
        assert field in text, text


def test_cli_names_bad_feeders_without_a_traceback(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from tsodso.cli.main import app

    f = tmp_path / "bad.toml"
    f.write_text('grid = "matpower:case14"\nperiods = 2\n[feeders]\nbuses = [0, 99]\n')
    for cmd in (["compare", "-s", str(f)], ["assess", "-s", str(f)]):
        res = CliRunner().invoke(app, cmd)
        assert res.exit_code != 0 and "Traceback" not in res.output, res.output
        text = " ".join(res.output.split())
        assert "bus 0 has no load" in text and "bus 99 is not in the transmission case" in text
