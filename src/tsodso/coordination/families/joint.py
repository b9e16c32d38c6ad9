"""Joint family: one optimisation over the transmission model and every feeder model with
all needs (the common / integrated market, and one operator that runs the DSOs' functions).

Priority is pre-emption (MODELS.md section 2, 2026-12): with ``priority`` = tso or dso the
priority operator's needs are met first, in a clearing of its needs alone over every bid
(its own grid's limits: the TSO's balance and DC lines, or the DSOs' voltage and thermal
limits); the joint clearing then meets every need with what is left, on top of those
activations. ``least_cost`` and ``highest_value`` clear everything at once.

Who clears decides what it knows (``d_model``): a common TSO-DSO platform or an operator
that runs the DSOs' functions holds their operational models; an independent market
operator or an ISO/RTO clears with the planning data the DSOs send it (``MarketContext.
forecast_for``).

The bill is split between TSO and DSO by ``cost_allocation``, from stand-alone clearings
of each operator's needs over the same bids (C_T: TSO needs only, C_D: DSO needs only,
C_J: joint):
- by_need: the TSO pays its stand-alone cost (capped at C_J), the DSO the increment;
- proportional: in proportion to C_T and C_D;
- shapley: the two-player Shapley value, TSO = (C_T + C_J - C_D) / 2.
"""

from __future__ import annotations

import numpy as np

from tsodso.clearing.market import Clearing
from tsodso.clearing.pricing import payments
from tsodso.coordination.context import MarketContext, delta_mw, der_mw, scatter
from tsodso.coordination.outcome import (
    ModelOutcome,
    Purchase,
    StepRecord,
    Transfer,
    platform_bills,
    worst_status,
)
from tsodso.coordination.protocol import Protocol
from tsodso.scenario.domain import Scenario
from tsodso.schema.actors import MO, TSO
from tsodso.schema.mechanism import Mechanism


def split_cost(total: float, c_t: float, c_d: float, rule: str) -> tuple[float, float]:
    """(TSO share, DSO share) of a joint bill ``total`` by ``rule``."""
    if rule == "by_need":
        tso = min(max(c_t, 0.0), total)
        return tso, total - tso
    if rule == "proportional":
        s = c_t + c_d
        tso = total * (c_t / s) if s > 0 else total
        return tso, total - tso
    if rule == "shapley":
        tso = 0.5 * (c_t + total - c_d)
        return tso, total - tso
    raise ValueError(f"unknown cost allocation {rule!r}")


def dso_shares(scn: Scenario, pay: np.ndarray, dso_eur: float) -> dict[str, float]:
    """The DSOs' part of a joint bill split among the DSOs: (interpretation) in proportion to
    what the platform bought in each DSO's area (``pay``, per scenario bid), equally where
    it bought nothing there. One DSO takes it all."""
    names = scn.dsos.names
    if len(names) == 1:
        return {names[0]: dso_eur}
    area = scn.dsos.node_area(scn.grid)[scn.bids.node]
    weight = np.array([float(np.abs(pay[area == k]).sum()) for k in range(len(names))])
    share = weight / weight.sum() if weight.sum() > 0 else np.full(len(names), 1 / len(names))
    return {n: float(dso_eur * w) for n, w in zip(names, share, strict=True)}


def _first(ctx: MarketContext, mech: Mechanism) -> Clearing | None:
    """The priority operator's own clearing over every bid (None without a priority)."""
    scn = ctx.scn
    if mech.priority == "dso":
        return ctx.clear(ctx.dso_problem(scn.bids, mech))
    if mech.priority == "tso":
        return ctx.clear(ctx.problem(scn.bids, mech, feeders=()))
    return None


def run_joint(ctx: MarketContext, mech: Mechanism) -> ModelOutcome:
    """One clearing over both grids and every need (after the priority operator's own, if
    any); the bill split by ``cost_allocation``."""
    scn = ctx.scn
    proto = Protocol()
    operator = {"tso": TSO, "joint": MO, "independent": MO}.get(mech.operator, MO)
    proto.bids("joint", scn.bids, operator)
    if operator != TSO:
        proto.data("joint", TSO, operator, "needs", {"imbalance_mw": scn.imbalance_mw})
        proto.network_model("joint", TSO, operator, None)
    for fpos in ctx.all_feeders:
        proto.network_model("joint", scn.dsos.of_feeder(fpos), operator, fpos)
    steps: list[StepRecord] = []
    first = _first(ctx, mech)
    if first is None:
        c = ctx.clear(ctx.problem(scn.bids, mech, feeders=ctx.all_feeders))
        accepted, pay = c.accepted_mw, payments(c, mech.pricing)
        steps.append(StepRecord.of("joint", operator, c))
    else:
        # pre-emption: the priority operator's needs first, then every need with the rest
        steps.append(StepRecord.of(f"joint: {mech.priority.upper()} needs first", operator, first))
        taken = first.accepted_mw
        rest = np.flatnonzero(scn.bids.q_max_mw - taken > 1e-6)
        bids = scn.bids.with_caps(scn.bids.q_max_mw - taken).subset(rest)
        c = ctx.clear(
            ctx.problem(
                bids,
                mech,
                feeders=ctx.all_feeders,
                base_delta_mw=delta_mw(scn, taken),
                committed_mw=der_mw(scn, taken),
            )
        )
        steps.append(StepRecord.of("joint: every need with what is left", operator, c))
        n = len(scn.bids)
        accepted = taken + scatter(n, rest, c.accepted_mw)
        pay = payments(first, mech.pricing) + scatter(n, rest, payments(c, mech.pricing))
    proto.activations("joint", scn.bids, accepted, operator)
    total = float(pay.sum())
    # stand-alone costs for the allocation (TSO needs only / DSO needs only)
    c_t = ctx.clear(ctx.problem(scn.bids, mech, feeders=()))
    steps.append(StepRecord.of("allocation: TSO stand-alone", operator, c_t))
    c_d_cost = 0.0
    if mech.cost_allocation != "by_need":
        c_d = ctx.clear(ctx.dso_problem(scn.bids, mech))
        steps.append(StepRecord.of("allocation: DSO stand-alone", operator, c_d))
        c_d_cost = float(payments(c_d, mech.pricing).sum())
    tso, dso = split_cost(
        total, float(payments(c_t, mech.pricing).sum()), c_d_cost, mech.cost_allocation
    )
    if operator != TSO:
        proto.data("settlement", operator, TSO, "bill", {"eur": tso})
    dsos = dso_shares(scn, pay, dso)
    for name, eur in dsos.items():
        proto.data("settlement", operator, name, "bill", {"eur": eur})
    closing, kpis = _commercial(ctx, mech, c, proto, operator)
    return ModelOutcome(
        status=c.status if first is None else worst_status(first.status, c.status),
        purchases=(Purchase(operator, "joint", accepted, pay),),
        transfers=platform_bills(operator, total, {TSO: tso, **dsos}) + closing,
        unmet_imbalance_mw=c.unmet_imbalance_mw,
        exchanges=proto.frozen(),
        steps=tuple(steps),
        extra_kpis=kpis,
    )


def _commercial(
    ctx: MarketContext, mech: Mechanism, c: Clearing, proto: Protocol, operator: str
) -> tuple[tuple[Transfer, ...], dict[str, float]]:
    """Commercial needs in one market with the SOs' (SmartNet E, CoordiNet integrated):
    each BRP offers to close its open position (a share of the imbalance) there and pays
    the market's balancing price for it, which relieves the TSO of that share of the bill.
    With ``highest_value`` a BRP closes only where its value is at least that price (the
    contested energy goes to whoever values it more: otherwise the TSO keeps balancing it,
    at its value of lost load); with ``least_cost`` every position is closed at the price.
    (interpretation) The quantities cleared are the joint market's: the positions are part
    of the imbalance it balances; what changes is who buys and pays."""
    scn = ctx.scn
    pos, value = scn.brp_position_mw, scn.brp_value_eur_per_mwh
    if "commercial" not in mech.needs or pos is None or value is None:
        return (), {}
    price = np.nan_to_num(c.balance_price_eur_per_mwh)  # (T,)
    closes = np.ones_like(pos, dtype=bool)
    if mech.priority == "highest_value":
        closes = value[:, None] >= np.abs(price)[None, :]
    out = []
    for b, name in enumerate(scn.brp_names):
        proto.data("commercial", name, operator, "position", {"mw": pos[b], "value": value[b]})
        eur = float((pos[b] * price * closes[b]).sum() * scn.dt_h)
        out.append(Transfer(name, TSO, "BRP position closed in the market", eur))
    closed = float((np.abs(pos) * closes).sum() * scn.dt_h)
    return tuple(out), {"commercial_closed_mwh": round(closed, 4)}
