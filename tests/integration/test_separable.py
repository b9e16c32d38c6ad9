"""Per-period bounds of a DSO's cost (``clearing.separable``): below the cost at every
schedule, equal to it at the schedule whose multipliers they use."""

from __future__ import annotations

import numpy as np

from tsodso.clearing.lp import Status
from tsodso.clearing.market import MarketSession
from tsodso.clearing.separable import PeriodBounds, PeriodRelaxation
from tsodso.coordination.catalogue import get_model
from tsodso.coordination.context import distribution_bids
from tsodso.pipeline import Prepared
from tsodso.schema.tables import BidTable


def _model_at(b: PeriodBounds, s: np.ndarray) -> float:
    """K + sum_t max_k tangent_kt(s_t): what the bounds say of schedule ``s``."""
    tangents = b.values + b.slopes * (s[None, :] - b.probes)
    return b.constant + float(tangents.max(axis=0).sum())


def test_period_bounds_lie_below_the_cost_and_touch_it(small_prepared: Prepared) -> None:
    ctx, scn = small_prepared.ctx, small_prepared.scn
    mech = get_model("smartnet-d-decentralised").mechanism
    layer = scn.grid.node_layer[scn.bids.node]
    d = distribution_bids(scn)
    p_now = scn.node_injection_mw()
    rng = np.random.default_rng(7)
    checked = sharper = 0
    for f in ctx.all_feeders:
        idx = np.flatnonzero(d & (layer == f))
        if not len(idx):
            continue
        bids = scn.bids.subset(idx)
        imp0 = scn.feeder_import_mw(f, p_now)

        def session_at(s: np.ndarray, bids: BidTable = bids, f: int = f) -> MarketSession:
            return MarketSession(ctx.dso_problem(bids, mech, feeders=(f,), tdi_schedule_mw={f: s}))

        session = session_at(imp0)
        c = session.clear()
        assert c.status == Status.OPTIMAL and session.last is not None
        lp = session.solver.lp
        if "DER-storage_soc" not in lp.constraints:
            continue  # nothing joins periods here: the bound would be trivially exact
        relax = PeriodRelaxation(session, f)
        assert relax.separable
        step = 0.5 * np.maximum(np.abs(imp0), 0.1)
        b = relax.bounds(session.last, np.vstack([imp0 - step, imp0 + step]))
        assert b is not None and b.probes.shape == (3, scn.periods)
        # tight at the solved schedule (strong duality), and the market left as it was
        assert abs(_model_at(b, imp0) - c.objective_eur) <= 1e-6 * max(1.0, c.objective_eur)
        again = session.clear()
        assert abs(again.objective_eur - c.objective_eur) <= 1e-6 * max(1.0, c.objective_eur)
        # below the cost at other schedules (weak duality), each solved cold on its own
        for _ in range(3):
            s = imp0 + rng.uniform(-1.0, 1.0, scn.periods) * step
            v = session_at(s).clear()
            assert v.status == Status.OPTIMAL
            assert _model_at(b, s) <= v.objective_eur + 1e-6 * max(1.0, v.objective_eur)
            # and never below the one cut over all periods a single solve gives
            single = c.objective_eur + float(b.slopes[0] @ (s - imp0))
            assert _model_at(b, s) >= single - 1e-6 * max(1.0, abs(single))
            sharper += _model_at(b, s) > single + 1e-3 * max(1.0, abs(single))
        checked += 1
    assert checked >= 3  # the small preset has batteries on several feeders
    assert sharper >= checked  # the per-period bounds know more than one cut
