"""Central family: the TSO (or an independent operator) clears one market with the
transmission model only. Distribution bids pass the filter named by ``d_constraints``.

Owns: the central clearing and its messages. Filters live in ``coordination.filters``.
"""

from __future__ import annotations

import numpy as np

from tsodso.coordination.filters import apply_filter
from tsodso.coordination.mechanism import Mechanism
from tsodso.coordination.outcome import (
    MarketContext,
    ModelOutcome,
    Purchase,
    StepRecord,
    payments,
    platform_bills,
    scatter,
    send_activations,
    send_bids,
)
from tsodso.exchange.messages import TSO, MessageLog


def run_central(ctx: MarketContext, mech: Mechanism) -> ModelOutcome:
    scn = ctx.scn
    log = MessageLog()
    clearer = TSO if mech.operator == "tso" else "MO"
    flt = apply_filter(ctx, mech, scn.bids, log, receiver=clearer)
    keep = np.flatnonzero(flt.caps_mw > 1e-6)
    bids = scn.bids.with_caps(flt.caps_mw).subset(keep)
    send_bids(log, "central", scn, bids, clearer)
    if clearer != TSO:
        log.send("central", TSO, clearer, "needs", {"imbalance_mw": scn.imbalance_mw})
    c = ctx.clear(ctx.spec(bids, mech, feeders=()))
    send_activations(log, "central", scn, bids, c.accepted_mw, clearer)
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
        messages=log,
        steps=(StepRecord.of("central", clearer, c),),
        discarded_mwh=flt.discarded_mwh,
        extra_kpis=flt.doe_kpis(),
    )
