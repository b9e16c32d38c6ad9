"""The day-ahead wholesale market (issue 14, item 1): the DER schedules the flexibility
markets start from.

A zonal clearing on the day-ahead forecasts: the scenario's grid is one bidding zone (no
network constraints: that is what a zonal market is, and what leaves the operators'
congestion to the flexibility markets) of which the grid is a part: its residual demand is
``zone_scale`` times the grid's. Its net import is priced by a synthetic merit-order
curve (``schema.config.Wholesale``: linear between a low price at the day's lowest
residual demand and a high one at its highest, extended linearly beyond; synthetic and
labelled so). Renewables, generators and loads are price takers at their profiles. The
aggregators schedule their batteries and EV hubs against that curve: a battery buys when
energy is cheap and sells when it is dear (within its power, its energy and its one-way
efficiency, ending the day no emptier than it started, and only where the spread pays its
ageing cost, ``battery_cycle_cost_eur_per_mwh``), an EV hub charges the energy its
vehicles need while they are plugged in, in the cheapest quarter-hours. The clearing is one
LP whose optimum is the competitive equilibrium (the curve's cost is the integral of its
price: the schedules move the price, a fleet of batteries flattens the spread it trades
on); the price of each period is the dual of its energy balance.

Identical batteries (same power, energy, state of charge and efficiency) are cleared as one
fleet and split pro rata: every split of a fleet's optimal schedule in proportion to power
is optimal for the units, and this one treats identical units alike (a per-unit LP would
pick one of many equally cheap vertices).

The schedules become the DERs' baselines (``p_base_mw``, ``soc_base_mwh``) and their
flexibility headroom is what the wholesale schedule leaves (up: more injection than
scheduled, down: less): the same MW is not sold twice (the double-counting rule of value
stacking). What the aggregators earn there is ``WholesaleResult.revenue_eur``.

Owns: the wholesale clearing and the rescheduled DER table. Must not: know the grid's
operators or their markets.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from tsodso.clearing.lp import LinearProgram, Status, solve
from tsodso.schema.config import Wholesale
from tsodso.schema.tables import COUPLING_SHIFT, COUPLING_STORAGE, DerTable

#: steps of the piecewise-linear merit-order curve over the range the schedules can reach
SEGMENTS = 64
EPS = 1e-9


class WholesaleError(RuntimeError):
    """The wholesale clearing found no schedule (a defect: it is always feasible)."""


@dataclass(frozen=True)
class WholesaleResult:
    """What the day-ahead wholesale market cleared."""

    price_eur_per_mwh: np.ndarray  # (T,) the zone's price (synthetic)
    residual_mw: np.ndarray  # (T,) the zone's net import before the aggregators' scheduling
    day_residual_mw: np.ndarray  # (96,) the same over the whole day: anchors the curve
    schedule_mw: np.ndarray  # (D, T) each DER's scheduled injection (its new baseline)
    soc_mwh: np.ndarray  # (D, T) the stored energy the schedules leave (the baseline's)
    scheduled: np.ndarray  # (D,) the DERs the aggregators scheduled there
    dt_h: float

    def tiled(self, copies: int) -> WholesaleResult:
        """The same market with every DER repeated ``copies`` times (``scale``): the
        copies keep their schedules and the price (the zone's curve scales with it)."""
        return dataclasses.replace(
            self,
            residual_mw=self.residual_mw * copies,
            day_residual_mw=self.day_residual_mw * copies,
            schedule_mw=np.concatenate([self.schedule_mw] * copies),
            soc_mwh=np.concatenate([self.soc_mwh] * copies),
            scheduled=np.concatenate([self.scheduled] * copies),
        )

    def der_revenue_eur(self) -> np.ndarray:
        """(D,) what each DER's schedule earns (+) or pays (-) at the price; 0 for DERs not
        scheduled here (price takers are not counted: their energy is not the aggregators'
        decision)."""
        out: np.ndarray = (self.schedule_mw * self.price_eur_per_mwh).sum(axis=1) * self.dt_h
        return np.where(self.scheduled, out, 0.0)


def _curve(
    residual_mw: np.ndarray, day_mw: np.ndarray, reach_mw: float, cfg: Wholesale
) -> tuple[float, ...]:
    """(start MW, segment width MW, slope EUR/MWh per MW, price at start EUR/MWh): the
    curve is anchored on the whole day's residual demand ``day_mw``, its segments cover
    what the window's ``residual_mw`` and the schedules can reach."""
    r_lo, r_hi = float(day_mw.min()), float(day_mw.max())
    lo, hi = cfg.price_low_eur_per_mwh, cfg.price_high_eur_per_mwh
    slope = (hi - lo) / (r_hi - r_lo) if r_hi - r_lo > EPS else 0.0
    start = float(residual_mw.min()) - reach_mw - 1.0
    width = (float(residual_mw.max()) + reach_mw + 1.0 - start) / SEGMENTS
    return start, width, slope, lo + slope * (start - r_lo)


def clear_wholesale(
    ders: DerTable, residual_mw: np.ndarray, day_mw: np.ndarray, cfg: Wholesale, dt_h: float
) -> WholesaleResult:
    """Schedule the batteries and EV hubs of ``ders`` against the zone's merit-order curve
    on ``residual_mw`` (T,: the zone's net import without their scheduling in the
    scenario's window; ``day_mw``: the same over the whole day, which anchors the curve)."""
    T = len(residual_mw)
    store = np.flatnonzero(ders.coupling == COUPLING_STORAGE)
    shift = np.flatnonzero(ders.coupling == COUPLING_SHIFT)
    reach = float(
        ders.p_rated_mw[store].sum()
        + (ders.up_mw[shift] + ders.down_mw[shift]).max(1, initial=0).sum()
    )
    zone = cfg.zone_scale
    start, width, slope, p0 = _curve(zone * residual_mw, zone * day_mw, reach, cfg)
    lp = LinearProgram()
    mid = p0 + slope * width * (np.arange(SEGMENTS) + 0.5)
    seg = lp.add_variables("import", T * SEGMENTS, 0.0, width, np.tile(mid * dt_h, T))
    # balance per period: start + sum(segments) + sum(injections) = residual demand
    rows = [np.repeat(np.arange(T), SEGMENTS)]
    cols = [seg]
    vals = [np.ones(T * SEGMENTS)]
    schedule = np.zeros((len(ders), T))
    soc = ders.soc_base_mwh.copy()
    # battery fleets: units alike in power, energy, charge and efficiency
    keys = np.stack(
        [
            ders.p_rated_mw[store],
            ders.energy_mwh[store],
            ders.soc0_mwh[store],
            ders.efficiency[store],
        ],
        axis=1,
    )
    fleets, fleet_of = np.unique(keys, axis=0, return_inverse=True)
    fleet_cols = []
    for i, (p, e, s0, eff) in enumerate(fleets):
        n = float((fleet_of == i).sum())
        ch = lp.add_variables(f"charge-{i}", T, 0.0, n * p)
        dis = lp.add_variables(
            f"discharge-{i}", T, 0.0, n * p, cfg.battery_cycle_cost_eur_per_mwh * dt_h
        )
        lo = np.zeros(T)
        lo[-1] = n * s0  # end the day no emptier than it started
        sc = lp.add_variables(f"soc-{i}", T, lo, n * e)
        # soc_t - soc_{t-1} - eff dt ch_t + dt/eff dis_t = 0 (soc_{-1} = n s0)
        t = np.arange(T)
        r = np.concatenate([t, t[1:], t, t])
        c = np.concatenate([sc, sc[:-1], ch, dis])
        v = np.concatenate(
            [np.ones(T), -np.ones(T - 1), np.full(T, -eff * dt_h), np.full(T, dt_h / eff)]
        )
        rhs = np.zeros(T)
        rhs[0] = n * s0
        lp.add_constraints(f"fleet-{i}", r, c, v, T, rhs, rhs)
        rows += [np.arange(T), np.arange(T)]
        cols += [dis, ch]
        vals += [np.ones(T), -np.ones(T)]
        fleet_cols.append((ch, dis, sc, n))
    # EV hubs: the energy their vehicles need, while plugged in (up + down: the hub's power)
    ev_cols = []
    for d in shift:
        cap = ders.up_mw[d] + ders.down_mw[d]
        need = float(-ders.p_base_mw[d].sum() * dt_h)
        present = np.flatnonzero(cap > EPS)
        if need <= EPS or not len(present):
            continue
        x = lp.add_variables(f"ev-{d}", len(present), 0.0, cap[present])
        lp.add_constraints(
            f"ev-need-{d}", np.zeros(len(present)), x, np.full(len(present), dt_h), 1, need, need
        )
        rows.append(present)
        cols.append(x)
        vals.append(-np.ones(len(present)))
        ev_cols.append((d, present, x))
    lp.add_constraints(
        "balance",
        np.concatenate(rows),
        np.concatenate(cols),
        np.concatenate(vals),
        T,
        zone * residual_mw - start,
        zone * residual_mw - start,
    )
    sol = solve(lp)
    if sol.status != Status.OPTIMAL:
        raise WholesaleError(f"wholesale clearing: {sol.status} ({sol.message})")
    x = sol.x
    for i, (ch, dis, sc, n) in enumerate(fleet_cols):
        units = store[fleet_of == i]
        schedule[units] = (x[dis] - x[ch]) / n
        soc[units] = x[sc] / n
    for d, present, xc in ev_cols:
        schedule[d] = 0.0
        schedule[d, present] = -x[xc]
    duals = sol.duals[lp.constraints["balance"]]
    scheduled = np.zeros(len(ders), dtype=bool)
    scheduled[store] = True
    scheduled[[d for d, _, _ in ev_cols]] = True
    return WholesaleResult(
        price_eur_per_mwh=duals / dt_h,  # d cost / d demand: EUR per MWh
        residual_mw=residual_mw,
        day_residual_mw=day_mw,
        schedule_mw=np.where(scheduled[:, None], schedule, ders.p_base_mw),
        soc_mwh=soc,
        scheduled=scheduled,
        dt_h=dt_h,
    )


def rescheduled(ders: DerTable, result: WholesaleResult) -> DerTable:
    """``ders`` with the wholesale schedules as baselines and the headroom they leave."""
    moved = result.schedule_mw - ders.p_base_mw
    return dataclasses.replace(
        ders,
        p_base_mw=result.schedule_mw,
        up_mw=np.maximum(ders.up_mw - moved, 0.0),
        down_mw=np.maximum(ders.down_mw + moved, 0.0),
        soc_base_mwh=result.soc_mwh,
    )
