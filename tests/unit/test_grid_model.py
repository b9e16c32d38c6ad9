from __future__ import annotations

import numpy as np
import pandapower as pp
import pytest

from tsodso.grids.model import GridModelError, build_coupled_grid
from tsodso.grids.topology import fused_bus_map
from tsodso.scenario.domain import Scenario


def _tiny() -> pp.pandapowerNet:
    net = pp.create_empty_network()
    hv = [pp.create_bus(net, 110) for _ in range(2)]
    mv = [pp.create_bus(net, 20) for _ in range(4)]
    pp.create_ext_grid(net, hv[0])
    pp.create_line(net, hv[0], hv[1], 10, "149-AL1/24-ST1A 110.0")
    pp.create_transformer(net, hv[1], mv[0], "25 MVA 110/20 kV")
    pp.create_switch(net, mv[0], mv[1], et="b", closed=True)  # busbar coupler
    pp.create_line(net, mv[1], mv[2], 1, "NA2XS2Y 1x185 RM/25 12/20 kV")
    pp.create_line(net, mv[2], mv[3], 1, "NA2XS2Y 1x185 RM/25 12/20 kV")
    loop = pp.create_line(net, mv[3], mv[0], 1, "NA2XS2Y 1x185 RM/25 12/20 kV")
    pp.create_switch(net, mv[3], loop, et="l", closed=False)  # open ring point
    return net


def test_fusion_and_radial_feeder_from_switch_states() -> None:
    net = _tiny()
    fm = fused_bus_map(net)
    assert fm.loc[3] == fm.loc[2]  # coupled busbars are one node
    g = build_coupled_grid(net)
    assert g.n_nodes == 5
    assert len(g.transmission.nodes) == 2 and g.transmission.n_branch == 1
    (f,) = g.feeders
    assert f.n == 3 and f.parent.tolist() == [-1, 0, 1]
    assert np.all(np.isfinite(f.rating_mva[1:]))


def test_closed_ring_is_rejected_with_the_area_named() -> None:
    net = _tiny()
    net.switch.loc[net.switch.et == "l", "closed"] = True
    with pytest.raises(GridModelError, match="not radial"):
        build_coupled_grid(net)


def test_default_grid_sizes(small: Scenario) -> None:
    s = small.sizes()
    assert s["feeders"] >= 10
    assert s["ders"] >= 1000
    for f in small.grid.feeders:
        assert (f.parent[1:] < np.arange(1, f.n)).all()  # parents come first
