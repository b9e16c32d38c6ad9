"""Capacity reserved day-ahead and activated in real time (``stages = 'reserve_rt'``,
``operation.stages.run_reserved``; issue 14's Done-when "reserved capacity being activated
in real time")."""

from __future__ import annotations

import numpy as np
import pytest

from tsodso.coordination.catalogue import get_model
from tsodso.pipeline import Prepared, RunResult, prepare, run_model
from tsodso.scenario.build import build_scenario
from tsodso.schema.config import load_config
from tsodso.schema.mechanism import Stages


def _run(prep: Prepared, model: str, stages: Stages) -> RunResult:
    return run_model(prep, get_model(model).at_stages(stages))


@pytest.mark.parametrize("model", ["smartnet-d", "coordinet-fragmented"])
def test_reserved_capacity_is_activated_in_real_time(small_prepared: Prepared, model: str) -> None:
    scn = small_prepared.scn
    rules = scn.config.reservation
    single = _run(small_prepared, model, "single")
    r = _run(small_prepared, model, "reserve_rt")
    out = r.outcome
    reserved = out.reserved_mw
    assert reserved is not None
    # what the day-ahead clearing bought is what is reserved, each buyer its own
    np.testing.assert_allclose(reserved, single.outcome.accepted_mw, atol=1e-9)
    assert {x.buyer for x in out.reservations} <= {p.buyer for p in single.outcome.purchases}
    # paid per MW and hour whether activated or not
    cost = float(reserved.sum() * rules.price_eur_per_mw_h * scn.dt_h)
    assert r.kpis["reservation_cost_eur"] == pytest.approx(cost, abs=0.01)
    posted = r.life.settlement.ledger.postings
    paid = posted[posted.kind == "reservation"].cents.sum() / 100.0
    assert paid == pytest.approx(cost, abs=0.01 * len(out.reservations) * len(scn.aggregator_names))
    # real time activates only what is offered: the reserved MW and a share of the rest
    rt = out.accepted_mw
    assert all(p.step.startswith("real-time") for p in out.purchases)
    offered = reserved + rules.free_bid_share * (scn.bids.q_max_mw - reserved)
    assert (rt <= offered + 1e-6).all()
    used = np.minimum(rt, reserved)
    assert used.sum() > 0.1 * reserved.sum()  # reserved capacity really is activated
    assert r.kpis["reserved_activated_mwh"] == pytest.approx(used.sum() * scn.dt_h, abs=1e-3)
    # not every reserved MW is needed once the day is known (an option, not an order)
    assert used.sum() < reserved.sum()
    assert r.kpis["ledger_total_cents"] == 0
    assert r.kpis["settled_mo_eur"] == pytest.approx(0.0, abs=0.05)


def test_without_free_bids_real_time_activates_only_reserved_capacity() -> None:
    cfg = load_config("small")
    cfg = cfg.model_copy(
        update={"reservation": cfg.reservation.model_copy(update={"free_bid_share": 0.0})}
    )
    prep = prepare(build_scenario(cfg))
    r = _run(prep, "smartnet-d", "reserve_rt")
    reserved = r.outcome.reserved_mw
    assert reserved is not None
    rt = r.outcome.accepted_mw
    assert rt.sum() > 0 and (rt <= reserved + 1e-6).all()
