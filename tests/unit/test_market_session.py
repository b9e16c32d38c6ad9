"""A market kept warm in the solver gives the clearing a cold build gives, for every TDI
schedule of a sweep (the interface curves and the decomposition rely on it)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import feeder_case
from tsodso.clearing.market import MarketSession, clear_market, split_by_feeder
from tsodso.coordination.catalogue import get_model
from tsodso.pipeline import Prepared, prepare


def test_warm_sweep_equals_cold_clearings() -> None:
    prep = prepare(feeder_case(periods=4))
    scn, ctx = prep.scn, prep.ctx
    mech = get_model("smartnet-b").mechanism
    f = 0
    e0 = scn.feeder_import_mw(f, scn.node_injection_mw())
    sweep = [e0, e0 - 0.5, e0 - 1.0, e0 + 0.5, e0 + 1.0]
    session = MarketSession(ctx.dso_problem(scn.bids, mech, tdi_schedule_mw={f: sweep[0]}))
    for sched in sweep:
        session.set_schedule(f, sched)
        warm = session.clear()
        cold = clear_market(ctx.dso_problem(scn.bids, mech, tdi_schedule_mw={f: sched}))
        assert warm.status == cold.status == "optimal"
        assert warm.objective_eur == pytest.approx(cold.objective_eur, rel=1e-9, abs=1e-6)
        # the interface prices that cuts and curves are made of agree too
        name = f"Feeder-{scn.grid.feeders[f].id}-tdi_schedule"
        assert np.allclose(warm.row_duals[name], cold.row_duals[name], atol=1e-6)
    assert session.solver.solves == len(sweep)


def test_a_dso_clearing_split_per_feeder_equals_the_one_lp(small_prepared: Prepared) -> None:
    """Without system balance and DC lines no row joins two feeders: the context clears
    each feeder alone (in parallel) and the merged result is the one LP's, to the cent."""
    scn, ctx = small_prepared.scn, small_prepared.ctx
    mech = get_model("smartnet-b").mechanism
    spec = ctx.dso_problem(scn.bids, mech)
    parts = split_by_feeder(spec)
    assert len(parts) > len(scn.grid.feeders) // 2  # one per feeder with bids, plus the rest
    assert sorted(np.concatenate([idx for idx, _ in parts])) == list(range(len(scn.bids)))
    one = clear_market(spec)
    split = ctx.clear(spec)
    assert split.status == one.status == "optimal"
    assert split.objective_eur == pytest.approx(one.objective_eur, rel=1e-9, abs=1e-6)
    assert np.allclose(split.accepted_mw, one.accepted_mw, atol=1e-6)
    assert np.allclose(split.node_price_eur_per_mwh, one.node_price_eur_per_mwh, atol=1e-6)
    assert (split.n_variables, split.n_constraints) == (one.n_variables, one.n_constraints)
    # a market with system balance does not separate
    assert len(split_by_feeder(ctx.problem(scn.bids, mech, feeders=ctx.all_feeders))) == 1
