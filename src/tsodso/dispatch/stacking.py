"""Value stacking: one DER may sell to several markets of a model in the same day (the DSO's
local market and the TSO's, a platform), but never the same MW twice.

The purchases of a model are taken in priority order (the mechanism's ``priority``, or its
``conflict_rule`` for parallel markets; otherwise the order in which they cleared). A
purchase's activation of a DER stands only where it fits beside everything ranked before it:

- *opposite*: no activation against the direction a higher-ranked market activated the
  same DER in the same period (both would be paid for MW that cancel out);
- *capacity*: the same offer is not sold beyond its quantity;
- *rebound*: a flexible load recovers ``rebound_fraction`` of the energy it was asked to
  shed over the next ``rebound_periods`` quarter-hours, which uses its headroom to consume
  more: a lower-ranked down activation in that window gets only what is left;
- *state of charge*: a battery's energy is sold once: a lower-ranked activation stands only
  as far as every higher-ranked one can still be delivered and the battery ends the day no
  emptier than it started.

What is cut is not paid and is reported with its reason (the markets did not see each
other's activations; the KPIs show what the cut leaves unmet). The first-ranked purchase
comes from one clearing that already respects capacity and state of charge.
Owns: the standing activations, the cuts and the value each DER stacks. Must not: clear
markets or simulate delivery.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tsodso.coordination.families import family_of
from tsodso.coordination.families.parallel import conflict_rule
from tsodso.coordination.outcome import Purchase
from tsodso.scenario.domain import Scenario
from tsodso.schema.actors import DSO, TSO, role
from tsodso.schema.mechanism import Mechanism
from tsodso.schema.tables import COUPLING_STORAGE

EPS = 1e-6


@dataclass(frozen=True)
class Stack:
    """The activations that stand after stacking, in priority order, and what was cut."""

    purchases: tuple[Purchase, ...]
    cuts: pd.DataFrame  # buyer, step, der, period, direction, cut_mw, reason

    @property
    def accepted_mw(self) -> np.ndarray:
        out: np.ndarray = sum(p.accepted_mw for p in self.purchases)  # type: ignore[assignment]
        return out

    def cut_mwh(self, dt_h: float) -> float:
        return float(self.cuts.cut_mw.sum() * dt_h) if len(self.cuts) else 0.0


def priority_order(mech: Mechanism, purchases: tuple[Purchase, ...]) -> list[int]:
    """Positions of ``purchases`` from the highest priority to the lowest."""
    if family_of(mech) == "parallel":
        first = TSO if conflict_rule(mech) == "tso_first" else DSO
    else:
        first = {"dso": DSO, "tso": TSO}.get(mech.priority, "")
    idx = list(range(len(purchases)))
    # every DSO's purchases rank as the DSO's (each DSO buys only in its own area)
    return sorted(idx, key=lambda i: (role(purchases[i].buyer) != first, i))


def rebound_mw(scn: Scenario, up_mw_by_der: np.ndarray) -> np.ndarray:
    """(D, T) extra consumption (MW, positive) of flexible loads after up activations
    ``up_mw_by_der`` (D, T): each MWh shed brings back ``rebound_fraction`` MWh, spread
    evenly over the next ``rebound_periods`` (what falls beyond the horizon is dropped)."""
    cfg = scn.config.delivery
    out = np.zeros_like(up_mw_by_der)
    if cfg.rebound_fraction <= 0:
        return out
    flex = scn.ders.kind == "flex_load"
    share = cfg.rebound_fraction / cfg.rebound_periods
    T = up_mw_by_der.shape[1]
    for k in range(1, cfg.rebound_periods + 1):
        if k < T:
            out[flex, k:] += share * up_mw_by_der[flex, :-k]
    return out


def by_der(scn: Scenario, per_bid: np.ndarray, direction: int | None = None) -> np.ndarray:
    """Sum a per-bid quantity into (D, T), optionally for one direction only."""
    b = scn.bids
    m = np.ones(len(b), dtype=bool) if direction is None else b.direction == direction
    out = np.zeros((len(scn.ders), scn.periods))
    np.add.at(out, (b.der[m], b.period[m]), per_bid[m])
    return out


def _soc_delta(scn: Scenario, acc: np.ndarray) -> np.ndarray:
    """(D, T) change of stored energy (MWh) from activations: up discharges, down charges."""
    b, d = scn.bids, scn.ders
    eff = d.efficiency[b.der]
    coef = np.where(b.direction > 0, -scn.dt_h / eff, scn.dt_h * eff)
    return by_der(scn, coef * acc)


def _fit_storage(scn: Scenario, high: np.ndarray, low: np.ndarray) -> np.ndarray:
    """Per (D, T), the factor in [0, 1] on the lower-ranked storage flows ``low`` so that
    the state of charge with ``high`` (MWh per period) stays within [0, E], every future
    higher-ranked flow can still be delivered, and the day ends at or above soc0."""
    d = scn.ders
    factor = np.ones_like(low)
    stor = np.flatnonzero((d.coupling == COUPLING_STORAGE) & (np.abs(low) > EPS).any(axis=1))
    # the baseline's own storage flows (a wholesale schedule) rank above every activation
    high = high + d.nominated_storage_flow_mwh()
    # a battery whose flows of both ranks together keep it within [0, E] and end the day at
    # or above soc0 keeps them all (a clearing that saw what was bought before it, e.g. a
    # TSO step after the DSO's, plans its own charging; the per-period rule below cannot
    # see that and would cut a feasible schedule)
    together = d.soc0_mwh[stor][:, None] + np.cumsum(high[stor] + low[stor], axis=1)
    fine = (
        (together >= -EPS).all(axis=1)
        & (together <= d.energy_mwh[stor][:, None] + EPS).all(axis=1)
        & (together[:, -1] >= d.soc0_mwh[stor] - EPS)
    )
    stor = stor[~fine]
    if not len(stor):
        return factor
    hi_e, soc0 = d.energy_mwh[stor], d.soc0_mwh[stor]
    h, lo_flow = high[stor], low[stor]
    c = np.cumsum(h, axis=1)  # SoC change of the higher-ranked flows up to t
    # from t on, higher-ranked flows need at least max_s (c_t - c_s) below and leave room
    # for max_s (c_s - c_t) above; the last period must end at or above soc0
    rev_min = np.minimum.accumulate(c[:, ::-1], axis=1)[:, ::-1]
    rev_max = np.maximum.accumulate(c[:, ::-1], axis=1)[:, ::-1]
    lo = np.maximum(c - rev_min, soc0[:, None] - (c[:, -1:] - c))
    hi = hi_e[:, None] - (rev_max - c)
    soc = soc0.copy()
    T = low.shape[1]
    for t in range(T):
        base = soc + h[:, t]
        want = lo_flow[:, t]
        allowed = np.where(
            want < 0,
            np.maximum(want, np.minimum(0.0, lo[:, t] - base)),
            np.minimum(want, np.maximum(0.0, hi[:, t] - base)),
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            factor[stor, t] = np.where(np.abs(want) > EPS, allowed / want, 1.0)
        soc = base + allowed
    return np.asarray(np.clip(factor, 0.0, 1.0))


def cut_table(scn: Scenario, p: Purchase, lost: np.ndarray, reason: np.ndarray) -> pd.DataFrame:
    """Rows of the cuts table for the bids where ``p`` lost activation (``lost`` per bid)."""
    b = scn.bids
    hit = np.flatnonzero(lost > EPS)
    return pd.DataFrame(
        {
            "buyer": p.buyer,
            "step": p.step,
            "der": scn.ders.id[b.der[hit]],
            "period": b.period[hit],
            "direction": np.where(b.direction[hit] > 0, "up", "down"),
            "cut_mw": lost[hit],
            "reason": np.asarray(reason)[hit].astype(str),
        }
    )


def _fit_beside(scn: Scenario, acc: np.ndarray, prev: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A lower-ranked purchase's activations ``acc`` (per bid) cut to fit beside the
    standing ``prev``; returns the new activations and the first reason per cut bid."""
    b = scn.bids
    n = len(b)
    up = b.direction > 0
    acc = acc.copy()
    reason = np.full(n, "", dtype=object)

    def cut(mask: np.ndarray, new: np.ndarray, why: str) -> None:
        hit = mask & (acc - new > EPS)
        reason[hit & (reason == "")] = why
        acc[mask] = np.minimum(acc[mask], new[mask])

    used_up, used_dn = by_der(scn, prev, 1), by_der(scn, prev, -1)
    opp = np.where(up, used_dn[b.der, b.period], used_up[b.der, b.period]) > EPS
    cut(opp, np.zeros(n), "opposite to a higher-ranked activation")
    everywhere = np.ones(n, dtype=bool)
    cut(everywhere, np.maximum(b.q_max_mw - prev, 0.0), "capacity")
    reb = rebound_mw(scn, used_up)[b.der, b.period]
    room = np.maximum(b.q_max_mw - prev - reb, 0.0)
    cut(~up & (reb > EPS), room, "rebound of a higher-ranked activation")
    f = _fit_storage(scn, _soc_delta(scn, prev), _soc_delta(scn, acc))
    cut(everywhere, acc * f[b.der, b.period], "state of charge")
    return acc, reason


def stack(scn: Scenario, purchases: tuple[Purchase, ...], mech: Mechanism) -> Stack:
    """The standing activations of ``purchases`` under ``mech``'s priority."""
    n = len(scn.bids)
    used_bid = np.zeros(n)
    standing: list[Purchase] = []
    cuts: list[pd.DataFrame] = []
    for rank, i in enumerate(priority_order(mech, purchases)):
        p = purchases[i]
        acc = p.accepted_mw.copy()
        reason = np.full(n, "", dtype=object)
        if rank:
            acc, reason = _fit_beside(scn, acc, used_bid)
        with np.errstate(divide="ignore", invalid="ignore"):
            keep = np.where(p.accepted_mw > EPS, acc / p.accepted_mw, 0.0)
        standing.append(dataclasses.replace(p, accepted_mw=acc, payments_eur=p.payments_eur * keep))
        used_bid = used_bid + acc
        cuts.append(cut_table(scn, p, p.accepted_mw - acc, reason))
    return Stack(tuple(standing), pd.concat(cuts, ignore_index=True))


def stacking_report(scn: Scenario, st: Stack, paid_eur: dict[str, np.ndarray]) -> pd.DataFrame:
    """One row per DER that sold anything: MWh per buyer, what each buyer paid for it
    (``paid_eur``: buyer -> per bid, settled), the number of markets it served and what
    stacking cut."""
    b, dt = scn.bids, scn.dt_h
    D = len(scn.ders)
    cols: dict[str, np.ndarray] = {}
    buyers = sorted({p.buyer for p in st.purchases})
    served = np.zeros(D, dtype=int)
    for buyer in buyers:
        acc = sum(p.accepted_mw for p in st.purchases if p.buyer == buyer)
        mwh = np.bincount(b.der, np.asarray(acc) * dt, D)
        cols[f"mwh_{buyer.lower()}"] = mwh
        cols[f"eur_{buyer.lower()}"] = np.bincount(b.der, paid_eur.get(buyer, np.zeros(len(b))), D)
        served += mwh > EPS
    cut = np.zeros(D)
    if len(st.cuts):
        pos = pd.Series(np.arange(D), index=scn.ders.id)
        np.add.at(cut, pos.loc[st.cuts.der].to_numpy(), st.cuts.cut_mw.to_numpy() * dt)
    df = pd.DataFrame(
        {
            "der": scn.ders.id,
            "kind": scn.ders.kind,
            "aggregator": np.array(scn.aggregator_names)[scn.ders.aggregator],
            "markets": served,
            **cols,
            "eur_total": sum(cols[f"eur_{x.lower()}"] for x in buyers),
            "cut_mwh": cut,
        }
    )
    return df[(df.markets > 0) | (df.cut_mwh > EPS)].reset_index(drop=True)
