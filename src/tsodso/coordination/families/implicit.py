"""Implicit family (MODELS.md section 3.6): no explicit procurement. The DSO (ENA Future
World C: price-driven flexibility) publishes a dynamic network price per node and period,
and every DER self-dispatches against it.

(interpretation) The published price is the day-ahead forecast DLMP of a joint clearing on
the forecast (the best tariff a DSO could compute). Each DER then maximises its own profit
(price times signed quantity minus its bid cost) subject only to its own limits and energy
coupling: nobody coordinates quantities, so marginal units respond all at once, which the
realised imbalance and the AC check expose. Each DER is paid the price for its response;
the TSO pays the balancing component (the system price), the DSO the network component.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from tsodso.coordination.context import MarketContext
from tsodso.coordination.outcome import ModelOutcome, Purchase, StepRecord, Transfer
from tsodso.coordination.protocol import Protocol
from tsodso.schema.actors import TSO
from tsodso.schema.mechanism import Mechanism


def run_implicit(ctx: MarketContext, mech: Mechanism) -> ModelOutcome:
    """Forecast DLMPs published as a tariff; every DER self-dispatches against it."""
    scn = ctx.scn
    proto = Protocol()
    b = scn.bids
    forecast = ctx.clear(ctx.problem(b, mech, feeders=ctx.all_feeders))
    price = np.nan_to_num(forecast.node_price_eur_per_mwh)  # (N, T), value of injection
    system = np.nan_to_num(forecast.balance_price_eur_per_mwh)  # (T,)
    area = scn.dsos.node_area(scn.grid)[b.node]
    # each DSO publishes its own tariff (its area's DLMPs) to the aggregators with units
    # there; the TSO sends each DSO the system price
    for k, dso in enumerate(scn.dsos.names):
        for a, name in enumerate(scn.aggregator_names):
            mine = (b.aggregator == a) & ((area == k) | ((area < 0) & (k == 0)))
            if scn.dsos.n > 1 and not mine.any():
                continue
            nodes = np.unique(b.node[mine])
            proto.data("tariff", dso, name, "price_signal", {"node": nodes, "price": price[nodes]})
    for dso in scn.dsos.names:
        proto.data("tariff", TSO, dso, "system_price", {"price": system})
    pi = price[b.node, b.period]
    # self-dispatch: each DER's own problem (no network, no balance), cost = bid - revenue
    own = dataclasses.replace(b, price_eur_per_mwh=b.price_eur_per_mwh - b.direction * pi)
    resp = ctx.clear(ctx.problem(own, mech, balance=False, transmission=False, feeders=()))
    acc = resp.accepted_mw
    for k, dso in enumerate(scn.dsos.names):
        mine = (area == k) | ((area < 0) & (k == 0))
        if scn.dsos.n == 1:
            proto.activations("self-dispatch", b, acc, dso)
        elif mine.any():
            idx = np.flatnonzero(mine)
            proto.activations("self-dispatch", b.subset(idx), acc[idx], dso)
    pay = b.direction * pi * acc * scn.dt_h
    tso = b.direction * system[b.period] * acc * scn.dt_h
    # (assumption) a transmission-connected unit responds to the tariff the first DSO
    # publishes (the transmission node's price): that DSO pays it, as the one DSO did
    # before there were several
    area = np.where(area < 0, 0, area)
    by_dso = {k: float(tso[area == k].sum()) for k in range(scn.dsos.n)}
    signed = np.bincount(b.period, b.direction * acc, scn.periods)
    return ModelOutcome(
        status=resp.status,
        # the DSO pays each response its published price; the TSO pays the DSO the
        # balancing (system price) component of it
        purchases=tuple(
            Purchase(
                dso, "self-dispatch", np.where(area == k, acc, 0.0), np.where(area == k, pay, 0.0)
            )
            for k, dso in enumerate(scn.dsos.names)
        ),
        transfers=tuple(
            Transfer(TSO, dso, "system price component", by_dso[k])
            for k, dso in enumerate(scn.dsos.names)
        ),
        unmet_imbalance_mw=scn.imbalance_mw - signed,
        exchanges=proto.frozen(),
        steps=(
            StepRecord.of(
                "forecast prices", scn.dsos.names[0] if scn.dsos.n == 1 else "DSOs", forecast
            ),
            StepRecord.of("self-dispatch", "DERs", resp),
        ),
    )
