"""A market kept warm in the solver gives the clearing a cold build gives, for every TDI
schedule of a sweep (the interface curves and the decomposition rely on it)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import feeder_case
from tsodso.clearing.market import MarketSession, clear_market
from tsodso.coordination.catalogue import get_model
from tsodso.pipeline import prepare


def test_warm_sweep_equals_cold_clearings() -> None:
    prep = prepare(feeder_case(periods=4))
    scn, ctx = prep.scn, prep.ctx
    mech = get_model("smartnet-b").mechanism
    f = 0
    e0 = scn.feeder_import_mw(f, scn.node_injection_mw())
    sweep = [e0, e0 - 0.5, e0 - 1.0, e0 + 0.5, e0 + 1.0]
    session = MarketSession(scn, ctx.dso_spec(scn.bids, mech, tdi_schedule_mw={f: sweep[0]}))
    for sched in sweep:
        session.set_schedule(f, sched)
        warm = session.clear()
        cold = clear_market(scn, ctx.dso_spec(scn.bids, mech, tdi_schedule_mw={f: sched}))
        assert warm.status == cold.status == "optimal"
        assert warm.objective_eur == pytest.approx(cold.objective_eur, rel=1e-9, abs=1e-6)
        # the interface prices that cuts and curves are made of agree too
        name = f"Feeder-{scn.grid.feeders[f].id}-tdi_schedule"
        assert np.allclose(warm.row_duals[name], cold.row_duals[name], atol=1e-6)
    assert session.solver.solves == len(sweep)
