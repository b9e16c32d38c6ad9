"""Market stages (issue 14, item 2; first slice): a day-ahead clearing, then a real-time
clearing of what the realised day leaves.

``single`` (the reference) clears each model once, on the day-ahead nominations: the
renewables' and flexible loads' forecast error (``dispatch.delivery``) then goes unbought
to the realised-imbalance KPI and the AC check. ``da_rt`` keeps that day-ahead clearing
and adds a real-time one by the same coordination scheme (the same families, operators,
filters, envelopes and pricing) on the real-time state:

- every DER is where the day-ahead dispatch really put it: the delivery simulation of
  the day-ahead set-points (``dispatch.delivery``: the seeded forecast error, failures,
  rebound and curtailment caps, the same realisation for every model), which the operators
  see in real time; a unit that failed to follow its day-ahead set-point is not asked
  again, and no unit is asked to move against its own day-ahead activation in the same
  period (that activation stands: stacking would cut the reversal);
- the TSO's balancing need is the day-ahead imbalance minus the day-ahead activations and
  the baselines' error; distribution and transmission needs follow from the real-time
  state's AC power flow (each operator's forecast recalibrated to it, as before the
  day-ahead stage);
- the bids offer what the day-ahead stage left of them (``q_max`` minus accepted, the same
  rows, the same prices: an activation costs the DER the same at either stage), and no more
  than each unit can move from its real output (``_room``).

``perfect`` is the perfect-foresight reference: one clearing by the same scheme on the
realised state with nothing bought before (``nothing_bought``), knowing the forecast error
and which units will fail (their bids are not offered), not the rebound of its own
flexible-load activations (no clearing models rebound; ``da_rt``'s second round sees and
buys for the first round's). ``da_rt`` minus ``perfect`` is what forecast error and
non-delivery cost a model, net of what its second clearing round is worth (a scheme whose
single clearing leaves needs unmet by design, e.g. parallel markets that do not see each
other, gains from any second round).

Interpretations (assumptions, not source rules): the real-time stage clears the whole day
at once on the realised state (perfect foresight within real time, no rolling gate
closures yet); the rebound of its own activations is not known to it; day-ahead
activations are not reversed in real time (their state-of-charge use is: the real-time
clearings allow for it); outages of scenario events are handled by the contingency rules
(``operation.contingency``), not by the real-time market.

Owns: the real-time state and the merged two-stage outcome. Must not: deliver or settle.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from tsodso.clearing.lp import Status
from tsodso.coordination import families
from tsodso.coordination.context import MarketContext, der_mw
from tsodso.coordination.outcome import (
    ModelOutcome,
    Purchase,
    Reservation,
    StepRecord,
    Transfer,
    worst_status,
)
from tsodso.dispatch.delivery import deliver
from tsodso.scenario.domain import Scenario
from tsodso.schema.actors import TSO
from tsodso.schema.mechanism import Mechanism
from tsodso.schema.tables import COUPLING_STORAGE
from tsodso.validation.ac import AcModel
from tsodso.validation.forecast import operators_forecast

EPS = 1e-6
DAY_AHEAD = "day-ahead"
REAL_TIME = "real-time"


def nothing_bought(scn: Scenario) -> ModelOutcome:
    """An empty day-ahead stage: what ``perfect`` clears after (nothing)."""
    zero = np.zeros(len(scn.bids))
    return ModelOutcome(
        status=Status.OPTIMAL,
        purchases=(Purchase(TSO, "nothing bought", zero, zero),),
        unmet_imbalance_mw=np.zeros(scn.periods),
        exchanges=(),
        steps=(),
        iterations=0,
    )


def _room(scn: Scenario, metered: np.ndarray, true: np.ndarray) -> tuple[np.ndarray, ...]:
    """(D, T) MW each unit can still move up and down from ``metered`` in real time."""
    d = scn.ders
    up = np.full_like(metered, np.inf)
    down = np.full_like(metered, np.inf)
    gen = (d.p_base_mw >= 0) & (d.coupling != COUPLING_STORAGE)[:, None]
    up = np.where(gen, d.p_base_mw + d.up_mw - metered, up)
    down = np.where(gen, metered, down)
    load = (d.kind == "flex_load")[:, None]
    up = np.where(load, -metered, up)
    down = np.where(load, metered - (true - d.down_mw), down)
    return np.maximum(up, 0.0), np.maximum(down, 0.0)


def real_time_scenario(scn: Scenario, day_ahead: ModelOutcome, foresight: bool = False) -> Scenario:
    """The scenario as the real-time stage sees it after ``day_ahead`` (see the module);
    with ``foresight`` (``perfect``) it also knows which units will fail."""
    d = scn.ders
    accepted = day_ahead.accepted_mw
    lo, hi = d.p_base_mw - d.down_mw, d.p_base_mw + d.up_mw
    setpoint = np.clip(d.p_base_mw + der_mw(scn, accepted), lo, hi)
    # what the day-ahead dispatch really gives: forecast errors, failures, rebound, caps
    realised = deliver(scn, setpoint)
    moved = realised.metered_mw - d.p_base_mw  # (D, T) real-time state minus nomination
    node_moved = np.zeros_like(scn.node_p0_mw)
    np.add.at(node_moved, d.node, moved)
    covered = moved.sum(axis=0)  # (T,) what the day-ahead dispatch and the errors moved
    # the original imbalance stays where it materialises; what moved is at the DERs
    node_p0 = scn.node_p0_mw + node_moved - np.outer(scn.imbalance_share, covered)
    ders = dataclasses.replace(d, p_base_mw=d.p_base_mw + moved)
    # a unit that did not follow its day-ahead set-point is not asked again (one without
    # a day-ahead activation had none to follow: its failure is not known in advance), and
    # a unit is not asked to reverse its own day-ahead activation in the same period
    b = scn.bids
    used = np.zeros((2, len(d), scn.periods))  # [up, down] MW bought day-ahead per DER
    np.add.at(used, ((b.direction < 0).astype(int), b.der, b.period), accepted)
    reverses = used[(b.direction > 0).astype(int), b.der, b.period] > EPS
    missed = realised.failed & (foresight | (used.sum(axis=(0, 2)) > EPS))  # (D,)
    left = np.where(missed[b.der] | reverses, 0.0, b.q_max_mw - accepted)
    # and no more than the unit can move from where it really is: a generator not below
    # zero nor above its offered range, a flexible load within its offered range around its
    # real consumption (what the delivery simulation enforces)
    up_room, down_room = _room(scn, realised.metered_mw, realised.true_base_mw)
    room = np.where(b.direction > 0, up_room[b.der, b.period], down_room[b.der, b.period])
    bids = b.with_caps(np.maximum(np.minimum(left, room), 0.0))
    return dataclasses.replace(
        scn,
        node_p0_mw=node_p0,
        imbalance_mw=scn.imbalance_mw - covered,
        ders=ders,
        bids=bids,
    )


def _clear_real_time(
    ctx: MarketContext,
    mech: Mechanism,
    ac_model: AcModel,
    rt_scn: Scenario,
    committed: np.ndarray | None,
) -> ModelOutcome:
    """One clearing by ``mech``'s scheme on the real-time state ``rt_scn``."""
    forecast, _ = operators_forecast(
        rt_scn.grid, ac_model, rt_scn.node_injection_mw(), rt_scn.node_q0_mvar
    )
    rt_ctx = MarketContext(rt_scn, forecast, ctx.time_limit_s, committed_mw=committed)
    return families.run(rt_ctx, mech)


def run_real_time(
    ctx: MarketContext, mech: Mechanism, ac_model: AcModel, day_ahead: ModelOutcome
) -> ModelOutcome:
    """The real-time stage of ``mech`` after ``day_ahead``, merged with it: one outcome
    whose purchases, messages and steps are labelled with their stage."""
    rt_scn = real_time_scenario(ctx.scn, day_ahead, foresight=mech.stages == "perfect")
    # the day-ahead stage's activations stand: the state-of-charge limits allow for them
    committed = der_mw(ctx.scn, day_ahead.accepted_mw)
    real_time = _clear_real_time(ctx, mech, ac_model, rt_scn, committed)
    return merge_stages(day_ahead, real_time, ctx.scn.dt_h)


def run_reserved(
    ctx: MarketContext, mech: Mechanism, ac_model: AcModel, day_ahead: ModelOutcome
) -> ModelOutcome:
    """``reserve_rt``: what ``day_ahead`` bought is reserved, not activated (each buyer
    pays the availability price for its share); real time clears by the same scheme on
    the realised state with the reserved capacity and ``free_bid_share`` of the rest of
    each bid. One outcome: the real-time purchases, the reservations, both stages'
    messages and steps."""
    scn = ctx.scn
    rules, dt = scn.config.reservation, scn.dt_h
    rt_scn = real_time_scenario(scn, nothing_bought(scn))
    reserved = np.minimum(day_ahead.accepted_mw, scn.bids.q_max_mw)
    offered = reserved + rules.free_bid_share * (scn.bids.q_max_mw - reserved)
    rt_scn = dataclasses.replace(
        rt_scn, bids=rt_scn.bids.with_caps(np.minimum(rt_scn.bids.q_max_mw, offered))
    )
    real_time = _clear_real_time(ctx, mech, ac_model, rt_scn, None)
    reservations = tuple(
        Reservation(
            p.buyer,
            f"{DAY_AHEAD} reservation: {p.step}",
            p.accepted_mw,
            p.accepted_mw * rules.price_eur_per_mw_h * dt,
        )
        for p in day_ahead.purchases
        if p.accepted_mw.sum() > EPS
    )
    da = _labelled(f"{DAY_AHEAD} reservation", day_ahead)
    merged = merge_stages(day_ahead, real_time, dt)
    rt_purchases = tuple(p for p in merged.purchases if p.step.startswith(REAL_TIME))
    used = np.minimum(real_time.accepted_mw, reserved)
    return dataclasses.replace(
        merged,
        purchases=rt_purchases,
        exchanges=da.exchanges + tuple(e for e in merged.exchanges if e.step.startswith(REAL_TIME)),
        # a platform bills its reservations with its real-time purchases, by the same
        # shares (``settlement.settle`` bills the reservation postings too)
        transfers=tuple(t for t in merged.transfers if t.reason.startswith(REAL_TIME))
        + tuple(_with_reservations(t, real_time, reservations) for t in _bills(real_time)),
        reservations=reservations,
        extra_kpis={
            **merged.extra_kpis,
            "reserved_mwh": round(float(reserved.sum() * dt), 3),
            "reserved_activated_mwh": round(float(used.sum() * dt), 3),
            "reservation_cost_eur": round(sum(r.cost_eur for r in reservations), 2),
        },
    )


def _labelled(stage: str, out: ModelOutcome) -> ModelOutcome:
    def step(name: str) -> str:
        return f"{stage} {name}"

    return dataclasses.replace(
        out,
        purchases=tuple(dataclasses.replace(p, step=step(p.step)) for p in out.purchases),
        exchanges=tuple(dataclasses.replace(e, step=step(e.step)) for e in out.exchanges),
        steps=tuple(dataclasses.replace(s, name=step(s.name)) for s in out.steps),
        transfers=tuple(
            dataclasses.replace(t, reason=step(t.reason)) for t in out.transfers if t.share is None
        ),
    )


def _bills(*stages: ModelOutcome) -> tuple[Transfer, ...]:
    """A platform's bills over every stage: each party owes its share of everything the
    platform bought at all stages (a stage's bills hold shares of that stage only)."""
    ordered: dict[tuple[str, str], float] = {}
    bought: dict[str, float] = {}
    for out in stages:
        bills = [t for t in out.transfers if t.share is not None]
        for payee in {t.payee for t in bills}:
            bought[payee] = bought.get(payee, 0.0) + out.cost_of_purchases(payee)
        for t in bills:
            ordered[t.payer, t.payee] = ordered.get((t.payer, t.payee), 0.0) + t.eur
    return tuple(
        Transfer(payer, payee, "bill", eur, eur / bought[payee] if bought[payee] else 0.0)
        for (payer, payee), eur in ordered.items()
    )


def _with_reservations(
    bill: Transfer, real_time: ModelOutcome, reservations: tuple[Reservation, ...]
) -> Transfer:
    """A platform's real-time ``bill`` grown by the payer's share of what the platform
    reserved (as ordered; the share is unchanged)."""
    bought = real_time.cost_of_purchases(bill.payee)
    reserved = sum(r.cost_eur for r in reservations if r.buyer == bill.payee)
    if bought <= 0 or reserved <= 0:
        return bill
    return dataclasses.replace(bill, eur=bill.eur * (bought + reserved) / bought)


def merge_stages(day_ahead: ModelOutcome, real_time: ModelOutcome, dt_h: float) -> ModelOutcome:
    """One outcome of two stages: both stages' purchases, transfers, messages and steps
    (labelled), the imbalance real time leaves, the worse status, and the real-time
    stage's cost and volume as KPIs of their own."""
    da, rt = _labelled(DAY_AHEAD, day_ahead), _labelled(REAL_TIME, real_time)
    rt_kpis = {
        "rt_procurement_eur": round(real_time.procurement_cost_eur, 2),
        "rt_activated_mwh": round(float(np.abs(real_time.accepted_mw).sum() * dt_h), 3),
    }
    steps: tuple[StepRecord, ...] = da.steps + rt.steps
    purchases: tuple[Purchase, ...] = da.purchases + rt.purchases
    return ModelOutcome(
        status=worst_status(day_ahead.status, real_time.status),
        purchases=purchases,
        unmet_imbalance_mw=real_time.unmet_imbalance_mw,
        exchanges=da.exchanges + rt.exchanges,
        steps=steps,
        transfers=da.transfers + rt.transfers + _bills(day_ahead, real_time),
        iterations=day_ahead.iterations + real_time.iterations,
        discarded_mwh=day_ahead.discarded_mwh + real_time.discarded_mwh,
        extra_kpis={**day_ahead.extra_kpis, **rt_kpis},
        notes=day_ahead.notes + tuple(f"{REAL_TIME}: {n}" for n in real_time.notes),
        real_time=True,
    )
