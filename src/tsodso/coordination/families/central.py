"""Central family: the TSO (or an independent operator) clears one market with the
transmission model only. Distribution bids pass the filter named by ``d_constraints``.

With ``aggregation = ferc2222`` the DERs in feeders take part as FERC Order 2222
aggregations (``coordination.aggregation``).

Owns: the central clearing. Filters live in ``coordination.filters``.
"""

from __future__ import annotations

import numpy as np

from tsodso.clearing.market import Clearing
from tsodso.clearing.pricing import payments
from tsodso.coordination.aggregation import aggregate
from tsodso.coordination.context import MarketContext, scatter
from tsodso.coordination.filters import apply_filter
from tsodso.coordination.outcome import ModelOutcome, Purchase, StepRecord, platform_bills
from tsodso.coordination.protocol import Protocol
from tsodso.schema.actors import MO, TSO
from tsodso.schema.mechanism import Mechanism
from tsodso.schema.tables import BidTable


def run_central(ctx: MarketContext, mech: Mechanism) -> ModelOutcome:
    """One clearing by the TSO (operator ``tso``) or a market operator for it."""
    scn = ctx.scn
    proto = Protocol()
    clearer = TSO if mech.operator == "tso" else MO
    flt = apply_filter(ctx, mech, scn.bids, proto, receiver=clearer)
    n = len(scn.bids)
    if mech.aggregation == "ferc2222":
        if clearer != TSO:
            proto.data("central", TSO, clearer, "needs", {"imbalance_mw": scn.imbalance_mw})
        accepted, pay, c = clear_aggregations(ctx, mech, flt.caps_mw, proto, clearer, "central")
    else:
        keep = np.flatnonzero(flt.caps_mw > 1e-6)
        bids = scn.bids.with_caps(flt.caps_mw).subset(keep)
        proto.bids("central", bids, clearer)
        if clearer != TSO:
            proto.data("central", TSO, clearer, "needs", {"imbalance_mw": scn.imbalance_mw})
        c = ctx.clear(ctx.problem(bids, mech, feeders=()))
        proto.activations("central", bids, c.accepted_mw, clearer)
        accepted = scatter(n, keep, c.accepted_mw)
        pay = scatter(n, keep, payments(c, mech.pricing))
    total = float(pay.sum())
    return ModelOutcome(
        status=c.status,
        purchases=(Purchase(clearer, "central", accepted, pay),),
        # a market operator clearing for the TSO bills it everything
        transfers=platform_bills(clearer, total, {TSO: total}),
        unmet_imbalance_mw=c.unmet_imbalance_mw,
        exchanges=proto.frozen(),
        steps=(StepRecord.of("central", clearer, c),),
        discarded_mwh=flt.discarded_mwh,
        extra_kpis=flt.doe_kpis(),
    )


def clear_aggregations(
    ctx: MarketContext,
    mech: Mechanism,
    caps: np.ndarray,
    proto: Protocol,
    clearer: str,
    step: str,
    imbalance_mw: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, Clearing]:
    """The ISO/RTO (``clearer``) clears DER aggregations (``coordination.aggregation``) of
    the scenario's bids capped at ``caps``: the utilities' review, the aggregators' offers
    per pricing node, the ISO's awards per aggregation and each aggregator's split among
    its DERs. Returns accepted MW and payments per scenario bid, and the clearing."""
    scn = ctx.scn
    agg = aggregate(scn, caps, ctx.forecast)
    layer = scn.grid.node_layer[scn.bids.node]
    for fpos, f in enumerate(scn.grid.feeders):
        ders = np.unique(scn.bids.der[(layer == fpos)])
        out = ders[agg.withheld[ders]]
        if len(out):
            proto.data(
                "aggregation review",
                scn.dsos.of_feeder(fpos),
                clearer,
                "withheld_ders",
                {"feeder": f.id, "der": scn.ders.id[out]},
            )
    own = scn.bids.with_caps(caps).subset(agg.own)
    proto.bids(step, own, clearer)
    for a in np.unique(agg.bids.aggregator):
        m = agg.bids.aggregator == a
        proto.data(
            step,
            scn.aggregator_names[a],
            clearer,
            "aggregated_bids",
            {
                "node": agg.bids.node[m],
                "period": agg.bids.period[m],
                "direction": agg.bids.direction[m],
                "q_max_mw": agg.bids.q_max_mw[m],
                "price": agg.bids.price_eur_per_mwh[m],
            },
        )
    both = BidTable.concat(own, agg.bids)
    c = ctx.clear(ctx.problem(both, mech, feeders=(), imbalance_mw=imbalance_mw))
    k = len(own)
    acc_own, acc_agg = c.accepted_mw[:k], c.accepted_mw[k:]
    pay_all = payments(c, mech.pricing)
    proto.activations(step, own, acc_own, clearer)
    for a in np.unique(agg.bids.aggregator):
        m = (agg.bids.aggregator == a) & (acc_agg > 1e-6)
        if m.any():
            proto.data(
                step,
                clearer,
                scn.aggregator_names[a],
                "aggregation_awards",
                {
                    "node": agg.bids.node[m],
                    "period": agg.bids.period[m],
                    "direction": agg.bids.direction[m],
                    "accepted_mw": acc_agg[m],
                },
            )
    n = len(scn.bids)
    accepted = scatter(n, agg.own, acc_own) + agg.disaggregate(caps, acc_agg)
    pay = scatter(n, agg.own, pay_all[:k]) + agg.disaggregate(caps, pay_all[k:])
    return accepted, pay, c
