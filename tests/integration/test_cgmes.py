"""CGMES grids as scenario grids (issue 17): a model written by PowSyBl (IEEE 57-bus, EQ,
TP, SSH and SV profiles; ``scripts/make_cgmes_ieee57.py``) read through pandapower's
converter reproduces PowSyBl's own solved state, the angle reference follows the model's
priorities, bad files are refused with every problem named, and models run on it coupled
with feeders."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandapower as pp
import pytest
from lxml import etree

from tsodso.grids.cgmes import UNRATED_MVA, cross_voltage_lines
from tsodso.grids.sources import GridSourceError, load_net, unsupported_elements

IEEE57 = Path(__file__).parent.parent / "reference/cases/cgmes/ieee57.zip"
_RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"


def _sv_voltages(zip_path: Path) -> dict[str, tuple[float, float]]:
    """PowSyBl's solved state: (kV, degrees) per topological node."""
    with zipfile.ZipFile(zip_path) as zf:
        name = next(n for n in zf.namelist() if n.endswith("_SV.xml"))
        root = etree.fromstring(zf.read(name))
    out = {}
    for el in root:
        if isinstance(el.tag, str) and el.tag.endswith("SvVoltage"):
            f = {c.tag.split("}")[1]: c.text or c.get(f"{_RDF}resource") for c in el}
            node = str(f["SvVoltage.TopologicalNode"]).lstrip("#")
            out[node] = (float(str(f["SvVoltage.v"])), float(str(f["SvVoltage.angle"])))
    return out


def _edited(tmp_path: Path, edits: dict[str, list[tuple[str, str]]]) -> Path:
    """A copy of the IEEE 57 model with text replaced in the named profiles."""
    out = tmp_path / "edited.zip"
    with zipfile.ZipFile(IEEE57) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            text = src.read(name).decode()
            for profile, subs in edits.items():
                if name.endswith(f"_{profile}.xml"):
                    for old, new in subs:
                        assert old in text, (name, old)
                        text = text.replace(old, new)
            dst.writestr(name, text)
    return out


def test_import_reproduces_powsybls_solved_state(tolerances: dict[str, Any]) -> None:
    net = load_net(f"cgmes:{IEEE57}")
    assert len(net.bus) == 57 and len(net.line) == 63 and len(net.trafo) == 17
    assert len(net.ext_grid) == 1 and len(net.gen) == 6 and len(net.shunt) == 3
    assert (net.bus.tsodso_layer == "transmission").all()
    assert unsupported_elements(net) == []
    # the SV profile names bus 1 as the angle reference; its machine became the slack
    assert net.bus.origin_id.at[int(net.ext_grid.bus.iloc[0])] == "_B1"
    assert net.load.p_mw.sum() == pytest.approx(1250.8)
    pp.runpp(net, calculate_voltage_angles=True)
    sv = _sv_voltages(IEEE57)
    ref = np.array([sv[str(o)] for o in net.bus.origin_id])
    tol = tolerances["cgmes_ieee57"]
    vm = ref[:, 0] / net.bus.vn_kv.to_numpy(dtype=float)
    assert np.abs(net.res_bus.vm_pu.to_numpy() - vm).max() < tol["max_abs_vm_diff_pu"]
    assert np.abs(net.res_bus.va_degree.to_numpy() - ref[:, 1]).max() < tol["max_abs_va_diff_deg"]
    # the lines carry no current limit in the model: unrated, as MATPOWER's rateA = 0
    s_mva = np.sqrt(3) * net.line.max_i_ka * net.bus.vn_kv.loc[net.line.from_bus].to_numpy()
    assert np.allclose(s_mva, UNRATED_MVA)


def test_reference_priority_beats_the_solved_states_reference(tmp_path: Path) -> None:
    # B3-G (bus 3) gets reference priority 1 in SSH: it is the slack, not bus 1's machine
    path = _edited(
        tmp_path,
        {
            "SSH": [
                (
                    '<cim:SynchronousMachine rdf:about="#_B3-G">',
                    '<cim:SynchronousMachine rdf:about="#_B3-G"><cim:SynchronousMachine.'
                    "referencePriority>1</cim:SynchronousMachine.referencePriority>",
                )
            ]
        },
    )
    net = load_net(f"cgmes:{path}")
    assert [net.bus.origin_id.at[int(b)] for b in net.ext_grid.bus] == ["_B3"]
    assert "B3-G" not in set(net.gen.name) and "B1-G" in set(net.gen.name)


def test_a_model_without_angle_reference_is_refused(tmp_path: Path) -> None:
    path = _edited(
        tmp_path,
        {
            "SV": [
                (
                    '<cim:TopologicalIsland.AngleRefTopologicalNode rdf:resource="#_B1"/>',
                    "",
                )
            ]
        },
    )
    with pytest.raises(GridSourceError, match="names no angle reference"):
        load_net(f"cgmes:{path}")


def test_bad_cgmes_specs_name_every_problem(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "bad.zip").write_text("not a zip")
    spec = f"{tmp_path / 'missing.zip'},{tmp_path / 'empty'},{tmp_path / 'notes.txt'}, ,"
    with pytest.raises(GridSourceError) as e:
        load_net(f"cgmes:{spec}")
    msg = str(e.value)
    for part in (
        "missing.zip",
        "a folder without .zip or .xml files",
        "notes.txt: expected",
        "an empty path",
    ):
        assert part in msg, msg
    with pytest.raises(GridSourceError, match="not a CGMES model pandapower can convert"):
        load_net(f"cgmes:{tmp_path / 'bad.zip'}")


def test_lines_across_voltage_levels_are_named() -> None:
    net = pp.create_empty_network()
    a, b, c = (pp.create_bus(net, vn_kv=v) for v in (110.0, 110.0, 20.0))
    pp.create_line(net, a, b, 1.0, "149-AL1/24-ST1A 110.0", name="ok")
    pp.create_line(net, b, c, 1.0, "149-AL1/24-ST1A 110.0", name="L7-8")
    assert cross_voltage_lines(net) == ["L7-8 (110 kV - 20 kV)"]


def test_models_run_on_a_cgmes_grid_coupled_with_feeders() -> None:
    from tsodso import api
    from tsodso.schema.config import config_from_dict

    cfg = config_from_dict(
        {
            "name": "ieee57-cgmes-feeders",
            "grid": f"cgmes:{IEEE57}",
            "feeders": {"count": 3},
            "renewable_scale": 2.0,
            "periods": 4,
            "first_period": 44,
        }
    )
    prep = api.prepare(cfg)
    assert len(prep.scn.grid.feeders) == 3
    assert (prep.scn.ders.element_table == "gen").sum() == 6  # IEEE 57's machines offer
    table = api.compare(prep, ["smartnet-a", "smartnet-d", "oen-hybrid"]).table()
    assert (table.status == "optimal").all(), table.status.to_dict()
    assert (table.ac_unconverged_periods == 0).all()
    # the feeders' problems tell the models apart: TSO-only clearing leaves the voltage
    # violations, the joint market removes most of them at a lower cost to serve
    a, d = table.loc["smartnet-a"], table.loc["smartnet-d"]
    assert d.voltage_violations < a.voltage_violations
    assert d.cost_to_serve_eur < a.cost_to_serve_eur
