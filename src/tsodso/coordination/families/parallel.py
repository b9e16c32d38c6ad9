"""Parallel family (MODELS.md section 3.3) and the local market: operators clear at the same
time, each for its own needs, without seeing the other's result.

- ``d_path = schedule`` (shared balancing responsibility, SmartNet C): the DSO holds each
  TDI to its agreed schedule (the baseline exchange) with distribution resources, so it
  also covers the part of the imbalance that materialises in its feeders; the TSO balances
  the rest and relieves transmission congestion with transmission resources.
- ``d_path = none`` (fragmented, CoordiNet fragmented and local): the DSO buys for its own
  limits from distribution resources, the TSO from transmission resources only (a model
  whose needs leave out the TSO's, CoordiNet local, runs the DSO's market alone).
- ``d_path = direct`` (FERC hybrid, Gridworks hybrid A-C): both may buy distribution
  resources (the TSO's view filtered by ``d_constraints``; ``full``: the DSO checks the
  TSO's purchases in its grid, caps under which any combination of them keeps its limits
  at its forecast); when both claim the same DER in
  the same period beyond its capacity, or in opposite directions, the priority operator
  keeps it (``priority`` tso or dso), otherwise ``conflict_rule`` decides:
  ``dso_override`` (the DSO's activation stands, the TSO's is cut), ``tso_first`` (the
  reverse) or ``pro_rata`` (both scaled to fit). What a cut leaves unmet shows in the
  realised imbalance and the AC check.
"""

from __future__ import annotations

import numpy as np

from tsodso.clearing.pricing import payments
from tsodso.coordination.context import (
    MarketContext,
    distribution_bids,
    reactive_bought,
    scatter,
)
from tsodso.coordination.dso_markets import distribution_side
from tsodso.coordination.families.central import clear_aggregations
from tsodso.coordination.filters import apply_filter
from tsodso.coordination.outcome import (
    ModelOutcome,
    Purchase,
    ReactivePurchase,
    StepRecord,
    worst_status,
)
from tsodso.coordination.protocol import Protocol
from tsodso.scenario.domain import Scenario
from tsodso.schema.actors import TSO
from tsodso.schema.mechanism import Mechanism

EPS = 1e-6


def resolve_conflicts(
    scn: Scenario, tso_acc: np.ndarray, dso_acc: np.ndarray, rule: str
) -> tuple[np.ndarray, np.ndarray]:
    """Cut activations of the same DER and period so that they fit its capacity and do not
    pull in opposite directions. Returns the (TSO, DSO) activations that stand."""
    b = scn.bids
    key = b.der * scn.periods + b.period  # a DER in a period: its up and down bids
    m = int(key.max()) + 1 if len(key) else 0
    net_t = np.bincount(key, b.direction * tso_acc, m)
    net_d = np.bincount(key, b.direction * dso_acc, m)
    cap_up = np.bincount(key, (b.direction > 0) * b.q_max_mw, m)
    cap_dn = np.bincount(key, (b.direction < 0) * b.q_max_mw, m)
    f_t, f_d = np.ones(m), np.ones(m)
    active = (np.abs(net_t) > EPS) & (np.abs(net_d) > EPS)
    opposite = active & (np.sign(net_t) != np.sign(net_d))
    if rule == "tso_first":
        f_d[opposite] = 0.0
    else:  # dso_override, and pro_rata (no fraction of opposite pulls can both stand)
        f_t[opposite] = 0.0
    same = active & ~opposite
    cap = np.where(net_t > 0, cap_up, cap_dn)
    at, ad = np.abs(net_t), np.abs(net_d)
    over = same & (at + ad > cap + EPS)
    with np.errstate(divide="ignore", invalid="ignore"):
        if rule == "dso_override":
            f_t[over] = np.maximum(cap[over] - ad[over], 0.0) / at[over]
        elif rule == "tso_first":
            f_d[over] = np.maximum(cap[over] - at[over], 0.0) / ad[over]
        else:
            f_t[over] = f_d[over] = cap[over] / (at[over] + ad[over])
    return tso_acc * f_t[key], dso_acc * f_d[key]


def conflict_rule(mech: Mechanism) -> str:
    """Who keeps a resource both markets bought: the priority operator when the model
    names one (``priority`` tso: ``tso_first``; dso: ``dso_override``), else the model's
    ``conflict_rule``."""
    return {"tso": "tso_first", "dso": "dso_override"}.get(mech.priority, mech.conflict_rule)


def run_parallel(ctx: MarketContext, mech: Mechanism) -> ModelOutcome:
    """Both operators clear at once, each for its own needs (see the module docstring)."""
    scn = ctx.scn
    proto = Protocol()
    n = len(scn.bids)
    d_mask = distribution_bids(scn)
    steps = []
    discarded = 0.0
    side = distribution_side(ctx, mech, proto)
    dist = side.label
    rule = conflict_rule(mech)
    # ---- DSO market -----------------------------------------------------------------
    idx_d = np.flatnonzero(d_mask)
    bids_d = scn.bids.subset(idx_d)
    side.send_bids(proto, "dso", bids_d)
    if mech.reactive == "dso":
        side.send_reactive_offers(proto, "dso")
    schedules = {}
    if mech.d_path == "schedule":
        # the agreed schedule: each feeder's forecast import, without the imbalance
        schedules = {f: scn.feeder_import_mw(f, scn.node_p0_mw) for f in ctx.all_feeders}
        side.send_schedules(proto, "schedule", schedules, TSO)
    c_d = ctx.clear(ctx.dso_problem(bids_d, mech, tdi_schedule_mw=schedules))
    steps.append(StepRecord.of("dso market", dist, c_d))
    dso_acc = scatter(n, idx_d, c_d.accepted_mw)
    reactive: tuple[ReactivePurchase, ...] = ()
    if mech.reactive == "dso":
        reactive = side.reactive_purchases(proto, "dso market", reactive_bought(scn, c_d))
    # ---- TSO market -------------------------------------------------------------------
    if mech.d_path == "direct":
        # d_constraints = full: the DSO checks what the TSO may buy in its grid (caps under
        # which any combination of them keeps its limits at its forecast)
        mode = "doe" if mech.d_constraints == "full" else None
        flt = apply_filter(ctx, mech, scn.bids, proto, receiver=TSO, mode=mode)
        caps = flt.caps_mw
        discarded += flt.discarded_mwh
        idx_t = np.flatnonzero(caps > EPS)
        bids_t = scn.bids.with_caps(caps).subset(idx_t)
        need = scn.imbalance_mw
    else:
        idx_t = np.flatnonzero(~d_mask)
        bids_t = scn.bids.subset(idx_t)
        # with schedules the DSOs cover the imbalance that materialises in their feeders
        in_d = scn.grid.node_layer >= 0
        share_d = scn.imbalance_share[in_d].sum() if mech.d_path == "schedule" else 0.0
        need = scn.imbalance_mw * (1.0 - share_d)
    # the TSO does not see the DSO's activations (parallel): it clears on the forecast
    aggregations = mech.aggregation == "ferc2222" and mech.d_path == "direct"
    if aggregations:  # FERC 2222: the ISO clears aggregations of what the DSO let through
        tso_acc, tso_pay_full, c_t = clear_aggregations(
            ctx, mech, caps, proto, TSO, "tso", imbalance_mw=need
        )
    else:
        proto.bids("tso", bids_t, TSO)
        c_t = ctx.clear(ctx.problem(bids_t, mech, feeders=(), imbalance_mw=need))
        tso_acc = scatter(n, idx_t, c_t.accepted_mw)
        tso_pay_full = scatter(n, idx_t, payments(c_t, mech.pricing))
    steps.append(StepRecord.of("tso market", TSO, c_t))
    dso_pay_full = scatter(n, idx_d, payments(c_d, mech.pricing, side.market(bids_d)))
    if mech.d_path == "direct":
        tso_acc2, dso_acc2 = resolve_conflicts(scn, tso_acc, dso_acc, rule)
        cut_t = tso_acc - tso_acc2
        cut_d = dso_acc - dso_acc2
        cut = (cut_t > EPS) | (cut_d > EPS)
        for op, mine in side.groups(scn.bids):  # each distribution operator tells the TSO
            n_conf = int((cut & mine).sum())
            if n_conf:
                proto.data(
                    "conflict",
                    op if rule != "tso_first" else TSO,
                    TSO if rule != "tso_first" else op,
                    "conflict_override",
                    {"rule": rule, "bids": n_conf},
                )
        if cut.any():
            discarded += float((cut_t + cut_d).sum() * scn.dt_h)
        with np.errstate(invalid="ignore", divide="ignore"):
            tso_pay = np.where(tso_acc > EPS, tso_pay_full * tso_acc2 / tso_acc, 0.0)
            dso_pay = np.where(dso_acc > EPS, dso_pay_full * dso_acc2 / dso_acc, 0.0)
        tso_acc, dso_acc = tso_acc2, dso_acc2
    else:
        tso_pay, dso_pay = tso_pay_full, dso_pay_full
    side.send_activations(proto, "dso", scn.bids, dso_acc)
    if not aggregations:  # (the ISO sent its awards to the aggregators)
        proto.activations("tso", scn.bids, tso_acc, TSO)
    acc = tso_acc + dso_acc
    signed = np.bincount(scn.bids.period, scn.bids.direction * acc, scn.periods)
    return ModelOutcome(
        status=worst_status(c_d.status, c_t.status),
        purchases=(
            *side.purchases("dso market", dso_acc, dso_pay),
            Purchase(TSO, "tso market", tso_acc, tso_pay),
        ),
        unmet_imbalance_mw=scn.imbalance_mw - signed,
        exchanges=proto.frozen(),
        steps=tuple(steps),
        discarded_mwh=discarded,
        reactive=reactive,
    )
