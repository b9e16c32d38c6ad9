"""Joint family: one optimisation over the transmission model and every feeder model with
all needs (the common / integrated market). With ``priority`` other than least cost, the
preferred operator's unmet needs weigh ``PRIORITY_WEIGHT`` times more.

The bill is split between TSO and DSO by ``cost_allocation``, from stand-alone clearings
of each operator's needs over the same bids (C_T: TSO needs only, C_D: DSO needs only,
C_J: joint):
- by_need: the TSO pays its stand-alone cost (capped at C_J), the DSO the increment;
- proportional: in proportion to C_T and C_D;
- shapley: the two-player Shapley value, TSO = (C_T + C_J - C_D) / 2.
"""

from __future__ import annotations

import dataclasses

from tsodso.coordination.mechanism import Mechanism
from tsodso.coordination.outcome import (
    MarketContext,
    ModelOutcome,
    Purchase,
    StepRecord,
    feeder_model_payload,
    payments,
    platform_bills,
    send_activations,
    send_bids,
)
from tsodso.exchange.messages import DSO, MO, TSO, MessageLog

PRIORITY_WEIGHT = 10.0


def _weighted(ctx: MarketContext, priority: str) -> MarketContext:
    """A context whose scenario weighs the priority operator's unmet needs higher."""
    pen = ctx.scn.config.penalties
    if priority == "dso":
        pen = pen.model_copy(
            update={
                "voltage_eur_per_pu2h": pen.voltage_eur_per_pu2h * PRIORITY_WEIGHT,
            }
        )
    elif priority == "tso":
        pen = pen.model_copy(
            update={"imbalance_eur_per_mwh": pen.imbalance_eur_per_mwh * PRIORITY_WEIGHT}
        )
    else:
        return ctx
    cfg = ctx.scn.config.model_copy(update={"penalties": pen})
    return dataclasses.replace(ctx, scn=dataclasses.replace(ctx.scn, config=cfg))


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


def run_joint(ctx: MarketContext, mech: Mechanism) -> ModelOutcome:
    scn = ctx.scn
    log = MessageLog()
    operator = {"tso": TSO, "joint": MO, "independent": MO}.get(mech.operator, MO)
    send_bids(log, "joint", scn, scn.bids, operator)
    if operator != TSO:
        log.send("joint", TSO, operator, "needs", {"imbalance_mw": scn.imbalance_mw})
        tg = scn.grid.transmission
        log.send(
            "joint",
            TSO,
            operator,
            "t_network",
            {
                "from": tg.branch_from,
                "to": tg.branch_to,
                "x": tg.branch_x_pu,
                "rating": tg.branch_rating_mw,
            },
        )
    for fpos in ctx.all_feeders:
        log.send("joint", DSO, operator, "d_network", feeder_model_payload(scn, fpos))
    wctx = _weighted(ctx, mech.priority)
    c = ctx.clear(wctx.spec(scn.bids, mech, feeders=ctx.all_feeders), wctx.scn)
    send_activations(log, "joint", scn, scn.bids, c.accepted_mw, operator)
    pay = payments(c, mech.pricing)
    steps = [StepRecord.of("joint", operator, c)]
    total = float(pay.sum())
    # stand-alone costs for the allocation (TSO needs only / DSO needs only)
    c_t = ctx.clear(ctx.spec(scn.bids, mech, feeders=()))
    steps.append(StepRecord.of("allocation: TSO stand-alone", operator, c_t))
    c_d_cost = 0.0
    if mech.cost_allocation != "by_need":
        c_d = ctx.clear(ctx.dso_spec(scn.bids, mech))
        steps.append(StepRecord.of("allocation: DSO stand-alone", operator, c_d))
        c_d_cost = float(payments(c_d, mech.pricing).sum())
    tso, dso = split_cost(
        total, float(payments(c_t, mech.pricing).sum()), c_d_cost, mech.cost_allocation
    )
    if operator != TSO:
        log.send("settlement", operator, TSO, "bill", {"eur": tso})
    log.send("settlement", operator, DSO, "bill", {"eur": dso})
    return ModelOutcome(
        status=c.status,
        purchases=(Purchase(operator, "joint", c.accepted_mw, pay),),
        transfers=platform_bills(operator, total, {TSO: tso, DSO: dso}),
        unmet_imbalance_mw=c.unmet_imbalance_mw,
        messages=log,
        steps=tuple(steps),
    )
