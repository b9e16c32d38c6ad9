"""Central family: the TSO (or an independent operator) clears one market with the
transmission model only. Distribution bids pass the filter named by ``d_constraints``.

Owns: the central clearing. Filters live in ``coordination.filters``.
"""

from __future__ import annotations

import numpy as np

from tsodso.clearing.pricing import payments
from tsodso.coordination.context import MarketContext, scatter
from tsodso.coordination.filters import apply_filter
from tsodso.coordination.outcome import ModelOutcome, Purchase, StepRecord, platform_bills
from tsodso.coordination.protocol import Protocol
from tsodso.schema.actors import MO, TSO
from tsodso.schema.mechanism import Mechanism


def run_central(ctx: MarketContext, mech: Mechanism) -> ModelOutcome:
    """One clearing by the TSO (operator ``tso``) or a market operator for it."""
    scn = ctx.scn
    proto = Protocol()
    clearer = TSO if mech.operator == "tso" else MO
    flt = apply_filter(ctx, mech, scn.bids, proto, receiver=clearer)
    keep = np.flatnonzero(flt.caps_mw > 1e-6)
    bids = scn.bids.with_caps(flt.caps_mw).subset(keep)
    proto.bids("central", bids, clearer)
    if clearer != TSO:
        proto.data("central", TSO, clearer, "needs", {"imbalance_mw": scn.imbalance_mw})
    c = ctx.clear(ctx.problem(bids, mech, feeders=()))
    proto.activations("central", bids, c.accepted_mw, clearer)
    pay = payments(c, mech.pricing)
    n = len(scn.bids)
    total = float(pay.sum())
    return ModelOutcome(
        status=c.status,
        purchases=(
            Purchase(clearer, "central", scatter(n, keep, c.accepted_mw), scatter(n, keep, pay)),
        ),
        # a market operator clearing for the TSO bills it everything
        transfers=platform_bills(clearer, total, {TSO: total}),
        unmet_imbalance_mw=c.unmet_imbalance_mw,
        exchanges=proto.frozen(),
        steps=(StepRecord.of("central", clearer, c),),
        discarded_mwh=flt.discarded_mwh,
        extra_kpis=flt.doe_kpis(),
    )
