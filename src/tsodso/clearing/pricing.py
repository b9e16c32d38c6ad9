"""What a cleared bid is paid under a pricing rule (MODELS.md section 5): pay-as-bid,
pay-as-clear or nodal (LMP / DLMP from the clearing's duals).

Owns: the pricing rules. Must not: decide who pays (``coordination`` and ``settlement``).
"""

from __future__ import annotations

import numpy as np

from tsodso.clearing.market import Clearing
from tsodso.schema.mechanism import Pricing


def payments(c: Clearing, pricing: Pricing | str, market: np.ndarray | None = None) -> np.ndarray:
    """What each bid of ``c.bids`` is paid (EUR) under a pricing rule.

    pay_as_bid: own price; pay_as_clear: the highest accepted price of the same direction
    and period (in the same ``market``: an int per bid, e.g. its DSO's market when each
    DSO clears its own; default one market); nodal: the LMP/DLMP of its node times its
    signed quantity."""
    b, q, dt = c.bids, c.accepted_mw, c.dt_h
    if pricing == "pay_as_bid":
        return np.asarray(q * b.price_eur_per_mwh * dt)
    if pricing == "pay_as_clear":
        acc = q > 1e-6
        key = (b.direction > 0).astype(int) * 100000 + b.period
        if market is not None:
            key = key + np.asarray(market, dtype=np.int64) * 200000
        clear = np.zeros(len(b))
        for k in np.unique(key[acc]):
            m = key == k
            clear[m] = b.price_eur_per_mwh[m & acc].max()
        return q * clear * dt
    if pricing == "nodal":
        lmp = c.node_price_eur_per_mwh[b.node, b.period]
        return np.asarray(np.nan_to_num(q * b.direction * lmp * dt))
    raise ValueError(f"unknown pricing {pricing!r}")
