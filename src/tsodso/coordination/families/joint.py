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

from tsodso.clearing.pricing import payments
from tsodso.clearing.problem import PenaltyPrices
from tsodso.coordination.context import MarketContext
from tsodso.coordination.outcome import ModelOutcome, Purchase, StepRecord, platform_bills
from tsodso.coordination.protocol import Protocol
from tsodso.schema.actors import DSO, MO, TSO
from tsodso.schema.mechanism import Mechanism

PRIORITY_WEIGHT = 10.0


def priority_penalties(base: PenaltyPrices, priority: str) -> PenaltyPrices:
    """The prices of unmet needs under a priority rule: the preferred operator's needs
    weigh ``PRIORITY_WEIGHT`` times more (the DSO's voltage, the TSO's imbalance)."""
    if priority == "dso":
        return base.scaled(voltage=PRIORITY_WEIGHT)
    if priority == "tso":
        return base.scaled(imbalance=PRIORITY_WEIGHT)
    return base


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
    """One clearing over both grids and every need; the bill split by ``cost_allocation``."""
    scn = ctx.scn
    proto = Protocol()
    operator = {"tso": TSO, "joint": MO, "independent": MO}.get(mech.operator, MO)
    proto.bids("joint", scn.bids, operator)
    if operator != TSO:
        proto.data("joint", TSO, operator, "needs", {"imbalance_mw": scn.imbalance_mw})
        proto.network_model("joint", TSO, operator, None)
    for fpos in ctx.all_feeders:
        proto.network_model("joint", DSO, operator, fpos)
    weighted = priority_penalties(ctx.penalties, mech.priority)
    c = ctx.clear(ctx.problem(scn.bids, mech, feeders=ctx.all_feeders, penalties=weighted))
    proto.activations("joint", scn.bids, c.accepted_mw, operator)
    pay = payments(c, mech.pricing)
    steps = [StepRecord.of("joint", operator, c)]
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
    proto.data("settlement", operator, DSO, "bill", {"eur": dso})
    return ModelOutcome(
        status=c.status,
        purchases=(Purchase(operator, "joint", c.accepted_mw, pay),),
        transfers=platform_bills(operator, total, {TSO: tso, DSO: dso}),
        unmet_imbalance_mw=c.unmet_imbalance_mw,
        exchanges=proto.frozen(),
        steps=tuple(steps),
    )
