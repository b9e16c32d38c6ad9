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
        "3-winding transformers",
        "impedances",
        "wards",
        "extended wards",
    ):
        assert what in text, text
    # generators and shunts are taken (issue 17): not named
    assert "voltage-controlled generators" not in text and "shunts" not in text
    net.trafo3w["in_service"] = False
    assert "3-winding transformers" not in "; ".join(unsupported_elements(net))


def test_multivoltage_example_is_refused_naming_every_kind_and_count() -> None:
    cfg = config_from_dict({"name": "mv", "grid": "pandapower:example_multivoltage"})
    with pytest.raises(GridSourceError) as e:
        build_scenario(cfg)
    msg = str(e.value)
    for what in ("1 3-winding transformers", "1 impedances", "2 extended wards"):
        assert what in msg, msg


def test_slack_generators_are_refused() -> None:
    net = pn.case14()
    net.gen.loc[0, "slack"] = True
    assert "1 slack generators (pandapower 'gen' with slack=True: 0)" in unsupported_elements(net)


def test_simbench_default_grid_has_none() -> None:
    from tsodso.grids.sources import load_net

    assert unsupported_elements(load_net("simbench:1-HVMV-mixed-all-0-sw")) == []
