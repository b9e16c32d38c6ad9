"""The reactive-power product's offers (``scenario.reactive``), its place in the mechanism
space (``reactive`` dimension, ``coordination.families.check``) and its clearing split
per feeder (``clearing.market``)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tsodso.clearing.market import clear_market, split_by_feeder
from tsodso.coordination.catalogue import get_model
from tsodso.coordination.context import reactive_bought
from tsodso.coordination.families import check
from tsodso.pipeline import Prepared
from tsodso.scenario.domain import Scenario
from tsodso.scenario.reactive import (
    CATEGORY_B_SHARE,
    FULL_CAPABILITY_FROM,
    INVERTER_KINDS,
    PRICE_EUR_PER_MVARH,
    capability_mvar,
    reactive_offers,
)
from tsodso.schema.streams import REACTIVE_PRICES


def test_offers_follow_the_category_b_capability(small: Scenario) -> None:
    d, r = small.ders, small.reactive
    assert r is not None and len(r)
    cap = capability_mvar(d)
    s = d.p_rated_mw[:, None]
    p = np.abs(d.p_base_mw)
    # never beyond 44 % of the rating, nor beyond what the rating leaves at the baseline
    assert np.all(cap <= CATEGORY_B_SHARE * s + 1e-12)
    assert np.all(cap**2 + p**2 <= s**2 + 1e-9)
    # only inverter-based kinds; PV and wind only from 20 % of rated output
    assert not cap[~np.isin(d.kind, INVERTER_KINDS)].any()
    ren = np.isin(d.kind, ("pv", "wind"))[:, None] & (p < FULL_CAPABILITY_FROM * s)
    assert not cap[ren].any()
    assert (cap[d.kind == "battery"] > 0).all()
    # offers: every DER-period with capability inside a feeder, and only those
    in_feeder = small.grid.node_layer[d.node] >= 0
    want = (cap > 1e-3) & in_feeder[:, None]
    assert len(r) == int(want.sum())
    np.testing.assert_allclose(r.q_max_mvar, cap[r.der, r.period])
    assert (small.grid.node_layer[r.node] >= 0).all()
    assert np.array_equal(r.node, d.node[r.der])


def test_prices_are_a_stream_of_their_own(small: Scenario) -> None:
    r = small.reactive
    assert r is not None
    lo, hi = PRICE_EUR_PER_MVARH
    assert (r.price_eur_per_mvarh >= lo).all() and (r.price_eur_per_mvarh <= hi).all()
    # one price per DER, drawn from a stream of its own: the other draws do not move it
    seed = small.config.seed
    stream = np.random.default_rng([seed, REACTIVE_PRICES])
    draw = np.round(stream.uniform(lo, hi, len(small.ders)), 2)
    np.testing.assert_array_equal(r.price_eur_per_mvarh, draw[r.der])
    again = reactive_offers(small.ders, small.grid.node_layer[small.ders.node] >= 0, seed)
    np.testing.assert_array_equal(again.price_eur_per_mvarh, r.price_eur_per_mvarh)


def test_only_dso_markets_buy_reactive_power() -> None:
    for mid, ok in (
        ("coordinet-local", True),
        ("smartnet-b", True),
        ("smartnet-c", True),
        ("smartnet-a", False),  # central: the TSO clears
        ("smartnet-d", False),  # joint: one platform for every need
        ("coordinet-distributed", False),  # iterative: no DSO market of its own
    ):
        single = get_model(mid).at_stages("single").mechanism
        mech = single.model_copy(update={"reactive": "dso"})
        assert (check(mech) == []) is ok, (mid, check(mech))
    local = get_model("coordinet-local").at_stages("single").mechanism
    (p,) = check(local.model_copy(update={"reactive": "dso", "needs": ("d_congestion",)}))
    assert p.startswith("reactive = 'dso' without the 'voltage' need")
    (p,) = check(local.model_copy(update={"reactive": "dso", "stages": "da_rt"}))
    assert p.startswith("reactive = 'dso' with stages = 'da_rt'")


def test_reactive_offers_enter_only_dso_clearings(small_prepared: Prepared) -> None:
    scn, ctx = small_prepared.scn, small_prepared.ctx
    mech = get_model("smartnet-b").mechanism
    on = mech.model_copy(update={"reactive": "dso"})
    assert ctx.dso_problem(scn.bids, mech).reactive is None
    assert ctx.problem(scn.bids, on, feeders=()).reactive is None  # the TSO's
    full = ctx.dso_problem(scn.bids, on).reactive
    assert full is not None and scn.reactive is not None
    # every offer below a feeder root (a root's voltage is given: no offer helps there)
    roots = {int(f.nodes[0]) for f in scn.grid.feeders}
    assert len(full) == int((~np.isin(scn.reactive.node, list(roots))).sum())


def test_a_dso_clearing_with_reactive_power_split_per_feeder_equals_the_one_lp(
    small_prepared: Prepared,
) -> None:
    scn, ctx = small_prepared.scn, small_prepared.ctx
    mech = get_model("smartnet-b").mechanism.model_copy(update={"reactive": "dso"})
    spec = ctx.dso_problem(scn.bids, mech)
    assert len(split_by_feeder(spec)) > 1
    one = clear_market(spec)
    split = ctx.clear(spec)
    assert split.status == one.status == "optimal"
    assert split.objective_eur == pytest.approx(one.objective_eur, rel=1e-9, abs=1e-6)
    # reactive power is bought (cheaper than active power for these voltages) and lands on
    # the same offers, and the objective is bids + reactive power + penalties
    assert np.abs(one.reactive_mvar).sum() > 0
    assert np.allclose(split.reactive_mvar, one.reactive_mvar, atol=1e-6)
    bids = float((one.accepted_mw * one.bids.price_eur_per_mwh).sum() * one.dt_h)
    total = bids + one.reactive_eur_by_period().sum() + one.penalty_eur_by_period.sum()
    assert total == pytest.approx(one.objective_eur, rel=1e-7, abs=1e-6)
    # back onto the scenario's offers, each within its capability
    q = reactive_bought(scn, one)
    assert scn.reactive is not None
    assert np.all(np.abs(q) <= scn.reactive.q_max_mvar + 1e-9)
    assert np.abs(q).sum() == pytest.approx(np.abs(one.reactive_mvar).sum())


def test_without_the_product_the_problem_is_the_one_before(small_prepared: Prepared) -> None:
    scn, ctx = small_prepared.scn, small_prepared.ctx
    mech = get_model("coordinet-local").mechanism
    spec = ctx.dso_problem(scn.bids, mech)
    assert spec.reactive is None
    # a scenario without reactive offers and a model with the product: the same LP
    bare = dataclasses.replace(ctx, scn=dataclasses.replace(scn, reactive=None))
    on = mech.model_copy(update={"reactive": "dso"})
    assert bare.dso_problem(scn.bids, on).digest() == spec.digest()
