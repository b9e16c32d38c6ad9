"""Grids with elements the models do not take are refused with every such element listed,
never dropped silently (issue 17)."""

from __future__ import annotations

import pandapower.networks as pn
import pytest

from tsodso.grids.sources import GridSourceError, unsupported_elements
from tsodso.scenario.build import build_scenario
from tsodso.schema.config import config_from_dict


def test_every_unsupported_table_is_named() -> None:
    net = pn.example_multivoltage()
    found = unsupported_elements(net)
    text = "; ".join(found)
    for what in (
        "voltage-controlled generators",
        "shunts",
        "3-winding transformers",
        "impedances",
        "wards",
        "extended wards",
    ):
        assert what in text, text
    net.shunt["in_service"] = False
    assert "shunts" not in "; ".join(unsupported_elements(net))


def test_case118_is_refused_with_its_generators_and_shunts() -> None:
    cfg = config_from_dict({"name": "ieee118", "grid": "pandapower:case118", "periods": 2})
    with pytest.raises(GridSourceError) as e:
        build_scenario(cfg)
    msg = str(e.value)
    assert "voltage-controlled generators (pandapower 'gen'" in msg
    assert "shunts (pandapower 'shunt'" in msg


def test_simbench_default_grid_has_none() -> None:
    from tsodso.grids.sources import load_net

    assert unsupported_elements(load_net("simbench:1-HVMV-mixed-all-0-sw")) == []
