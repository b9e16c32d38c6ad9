"""Distribution limits that no combination of bids can reach are left out of the LP
(``clearing.market``): the pruned market has the full market's optimum, prices and
slacks, on a preset built for distribution congestion where many limits do bind."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tsodso.clearing import market
from tsodso.coordination.catalogue import get_model
from tsodso.pipeline import prepare
from tsodso.scenario.build import build_scenario
from tsodso.schema.config import load_config


@pytest.mark.parametrize("model", ["smartnet-d", "ferc-dso"])
def test_pruned_market_equals_the_full_one(model: str, monkeypatch: pytest.MonkeyPatch) -> None:
    prep = prepare(build_scenario(load_config("heavy-d-congestion")))
    scn, ctx = prep.scn, prep.ctx
    mech = get_model(model).mechanism
    spec = ctx.problem(scn.bids, mech, feeders=ctx.all_feeders)
    pruned = market.clear_market(spec)
    monkeypatch.setattr(market, "V2_TOL", np.inf)  # every limit row kept
    monkeypatch.setattr(market, "P_TOL", np.inf)
    full = market.clear_market(spec)
    assert pruned.status == full.status == "optimal"
    assert pruned.n_constraints < 0.5 * full.n_constraints
    assert pruned.objective_eur == pytest.approx(full.objective_eur, rel=1e-9)
    assert np.allclose(pruned.node_price_eur_per_mwh, full.node_price_eur_per_mwh, atol=1e-6)
    assert pruned.lp_overload_mw == pytest.approx(full.lp_overload_mw, abs=1e-6)
    assert pruned.lp_voltage_slack_pu2 == pytest.approx(full.lp_voltage_slack_pu2, abs=1e-9)
    # the case is congested: without distribution limits the market is cheaper, so rows
    # that bind were among those kept
    free = market.clear_market(dataclasses.replace(spec, voltage=False, d_thermal=False))
    assert free.objective_eur < full.objective_eur - 1.0
