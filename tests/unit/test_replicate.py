"""Synthetic scaling for benchmarks: a scenario with every feeder copied k times is the
original k times over, so its joint optimum is exactly k times the original's."""

from __future__ import annotations

import pytest

from tests.conftest import feeder_case
from tsodso.clearing.market import clear_market
from tsodso.coordination.catalogue import get_model
from tsodso.pipeline import prepare
from tsodso.scale.replicate import replicate


@pytest.mark.parametrize("copies", [1, 3])
def test_joint_optimum_scales_exactly(copies: int) -> None:
    prep = prepare(feeder_case(periods=4))
    mech = get_model("smartnet-d").mechanism
    base = prep.ctx
    big = replicate(base, copies)
    scn = big.scn
    assert len(scn.grid.feeders) == copies * len(base.scn.grid.feeders)
    assert len(scn.ders) == copies * len(base.scn.ders)
    assert len(scn.bids) == copies * len(base.scn.bids)
    assert scn.node_injection_mw().shape[0] == scn.grid.n_nodes
    c1 = clear_market(base.problem(base.scn.bids, mech, feeders=base.all_feeders))
    ck = clear_market(big.problem(scn.bids, mech, feeders=big.all_feeders))
    assert c1.status == ck.status == "optimal"
    assert ck.objective_eur == pytest.approx(copies * c1.objective_eur, rel=1e-7)
    assert ck.accepted_mw.sum() == pytest.approx(copies * c1.accepted_mw.sum(), rel=1e-6)


def test_copies_must_be_positive() -> None:
    prep = prepare(feeder_case(periods=2))
    with pytest.raises(ValueError, match="copies = 0"):
        replicate(prep.ctx, 0)
