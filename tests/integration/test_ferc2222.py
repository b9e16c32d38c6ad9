"""FERC Order No. 2222 aggregations in the ISO's market (``coordination.aggregation``):
the distribution utility's review, the 100 kW minimum, and the aggregator's split."""

from __future__ import annotations

import numpy as np
import pytest

from tsodso.coordination.aggregation import MIN_AGGREGATION_MW, aggregate
from tsodso.coordination.catalogue import get_model
from tsodso.pipeline import Prepared, run_model
from tsodso.schema.mechanism import Mechanism


def test_an_aggregated_clearing_is_the_per_der_clearing_of_what_it_may_offer(
    small_prepared: Prepared,
) -> None:
    scn, ctx = small_prepared.scn, small_prepared.ctx
    mech = get_model("ferc-tso").mechanism
    assert mech.aggregation == "ferc2222"
    agg = aggregate(scn, scn.bids.q_max_mw, ctx.forecast)
    run = run_model(small_prepared, get_model("ferc-tso").at_stages("single"))
    # the ISO saw aggregated offers (fewer rows than the DERs' bids) ...
    assert 0 < len(agg.bids) < int((agg.segment >= 0).sum())
    # ... and its clearing costs what clearing every eligible DER bid on its own costs: the
    # aggregation loses nothing and the aggregator's split changes no cost
    eligible = np.zeros(len(scn.bids), dtype=bool)
    eligible[agg.own] = True
    eligible |= agg.segment >= 0
    keep = np.flatnonzero(eligible)
    per_der = ctx.clear(ctx.problem(scn.bids.subset(keep), mech, feeders=()))
    assert run.outcome.steps[0].objective_eur == pytest.approx(per_der.objective_eur, rel=1e-7)
    # the aggregator splits each award among the DERs of the segment pro rata
    acc = run.outcome.accepted_mw
    member = agg.segment >= 0
    award = np.bincount(agg.segment[member], acc[member], len(agg.bids))
    offered = np.bincount(agg.segment[member], scn.bids.q_max_mw[member], len(agg.bids))
    frac = np.divide(award, offered, out=np.zeros_like(award), where=offered > 0)
    assert (award > 1e-6).any()
    np.testing.assert_allclose(acc[member], scn.bids.q_max_mw[member] * frac[agg.segment[member]])
    # nothing from a DER the review withheld or outside what it may offer
    assert agg.withheld.any()
    assert np.all(acc[agg.withheld[scn.bids.der]] == 0)
    assert np.all(acc[~eligible] == 0)
    kinds = {m.kind for m in run.messages.messages}
    assert {"aggregated_bids", "aggregation_awards", "withheld_ders"} <= kinds


def test_an_aggregation_below_100_kw_is_not_offered(small_prepared: Prepared) -> None:
    scn, ctx = small_prepared.scn, small_prepared.ctx
    full = aggregate(scn, scn.bids.q_max_mw, ctx.forecast)
    assert not full.too_small.any()
    # shrink one aggregation's offers until its DERs' largest offers sum to 90 kW
    k = int(np.argmax(np.bincount(full.aggregation)))
    aggregator, node = full.keys[k]
    b = scn.bids
    layer = scn.grid.node_layer[b.node]
    tdi = np.array([f.tdi_node for f in scn.grid.feeders])[np.maximum(layer, 0)]
    mine = (layer >= 0) & (b.aggregator == aggregator) & (tdi == node)
    ders = np.unique(b.der[mine])
    largest = np.zeros(len(scn.ders))
    np.maximum.at(largest, scn.bids.der[mine], scn.bids.q_max_mw[mine])
    caps = scn.bids.q_max_mw.copy()
    caps[mine] *= 0.9 * MIN_AGGREGATION_MW / largest[ders].sum()
    small = aggregate(scn, caps, ctx.forecast)
    assert (
        small.too_small[ders].all()
        and not small.too_small[~np.isin(np.arange(len(scn.ders)), ders)].any()
    )
    assert (small.segment[mine] == -1).all()
    # the other aggregations are offered as before
    assert (
        len(small.bids) < len(full.bids)
        and (small.segment[~mine] >= 0).sum() == (full.segment[~mine] >= 0).sum()
    )


def test_ferc_tso_and_smartnet_a_now_differ_by_the_orders_rules(
    small_prepared: Prepared,
) -> None:
    per_der = Mechanism(
        **{
            **get_model("ferc-tso").at_stages("single").mechanism.model_dump(),
            "aggregation": "per_der",
        }
    )
    assert get_model("smartnet-a").mechanism.aggregation == "per_der"
    with_rules = run_model(small_prepared, get_model("ferc-tso").at_stages("single")).kpis
    from dataclasses import replace

    without = run_model(small_prepared, replace(get_model("ferc-tso"), mechanism=per_der)).kpis
    # the review withholds DERs whose offers fail the grid check: different purchases
    assert with_rules["procurement_cost_eur"] != without["procurement_cost_eur"]
    # the ISO receives one offer per aggregation step instead of one per DER bid
    assert with_rules["message_bytes"] < without["message_bytes"]


def test_ferc_hybrid_iso_clears_aggregations_of_what_the_dso_check_lets_through(
    small_prepared: Prepared,
) -> None:
    run = run_model(small_prepared, get_model("ferc-hybrid").at_stages("single"))
    assert run.model.mechanism.aggregation == "ferc2222"
    kinds = {m.kind for m in run.messages.messages if m.step == "tso"}
    assert {"aggregated_bids", "aggregation_awards"} <= kinds
    tso = next(p for p in run.outcome.purchases if p.step == "tso market")
    # the DSO's envelopes already keep every offer within its limits: the review that
    # follows finds nothing to withhold (on FERC TSO, without envelopes, it withholds)
    assert not any(m.kind == "withheld_ders" for m in run.messages.messages)
    assert tso.accepted_mw.sum() > 0
