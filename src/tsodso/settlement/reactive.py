"""Settlement of the reactive power the DSOs bought (issue 14, item 4): the buying DSO pays
the DER's aggregator the offer's price for each MVArh delivered, injected or absorbed
(pay-as-bid, as the Obligatory Reactive Power Service pays a utilisation price per MVArh;
no availability payment and no penalty beyond not paying what was not delivered:
assumptions). Ledger rows are kind ``reactive utilisation``.

Owns: ``settle_reactive``. Must not: settle active power (``settlement.settle``).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from tsodso.coordination.outcome import ReactivePurchase
from tsodso.dispatch.reactive import ReactiveDelivery
from tsodso.scenario.domain import Scenario
from tsodso.settlement.ledger import Ledger, to_cents
from tsodso.settlement.settle import Settlement

EPS = 1e-9


def settle_reactive(
    stl: Settlement,
    scn: Scenario,
    purchases: tuple[ReactivePurchase, ...],
    delivery: ReactiveDelivery,
) -> tuple[Settlement, pd.DataFrame]:
    """``stl`` with the reactive payments added to its ledger, and their line items (one
    per DSO, step, DER and period bought)."""
    r = scn.reactive
    cols = [
        "buyer",
        "step",
        "der",
        "aggregator",
        "period",
        "ordered_mvarh",
        "delivered_mvarh",
        "price_eur_per_mvarh",
        "utilisation_cents",
    ]
    parts = []
    for p in purchases:
        k = np.flatnonzero(np.abs(p.q_mvar) > EPS)
        if r is None or not len(k):
            continue
        der, t = r.der[k], r.period[k]
        sp = delivery.setpoint_mvar[der, t]
        got = delivery.delivered_mvar[der, t]
        ratio = np.clip(np.divide(got, sp, out=np.ones_like(sp), where=np.abs(sp) > EPS), 0, 1)
        parts.append(
            pd.DataFrame(
                {
                    "buyer": p.buyer,
                    "step": p.step,
                    "der": scn.ders.id[der],
                    "aggregator": np.array(scn.aggregator_names)[r.aggregator[k]],
                    "period": t,
                    "ordered_mvarh": np.abs(p.q_mvar[k]) * scn.dt_h,
                    "delivered_mvarh": np.abs(p.q_mvar[k]) * ratio * scn.dt_h,
                    "price_eur_per_mvarh": r.price_eur_per_mvarh[k],
                    "utilisation_cents": to_cents(p.payments_eur[k] * ratio),
                }
            )
        )
    lines = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)
    if not len(lines):
        return stl, lines
    rows = [
        (str(a), str(b), str(kind), int(c))
        for a, b, kind, c in stl.ledger.postings.itertuples(index=False)
    ]
    for (buyer, agg), cents in (
        lines.groupby(["buyer", "aggregator"], sort=True)["utilisation_cents"].sum().items()
    ):
        rows.append((str(buyer), str(agg), "reactive utilisation", int(cents)))
    return dataclasses.replace(stl, ledger=Ledger.of(rows)), lines
