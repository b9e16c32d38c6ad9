"""Activation and delivery: from the activations that stand to DER set-points, and what the
DERs then really do (MODELS.md section 5; issue 4 items 3 and 4).

Set-points. Each aggregator receives its activations per period and turns them into one
set-point per DER: its nominated baseline plus the signed sum of its standing activations,
within the DER's offered range and, for batteries, its state of charge. (Bids are per DER,
so the aggregator's disaggregation is exact; stacking already made the sum feasible. Any
remaining excess is clipped here and shows as non-delivery.)

Delivery (seeded, the same realisation for every model of a scenario):
- the *real* baseline of renewables and flexible loads deviates from the nominated one by a
  relative AR(1) error (``forecast_error_std``, ``forecast_error_corr``); batteries, EV
  hubs and dispatchable generators follow their schedules;
- a DER fails with ``non_delivery_probability`` for the whole day and delivers nothing;
- curtailment of a renewable is a cap on its output (it delivers less when the sun or wind
  fell short of the forecast anyway); every other DER adds its activation to its real
  baseline;
- a ``forecast_error`` event adds its ``magnitude`` to the relative error of renewables
  (of its feeder, or everywhere) in its periods;
- a flexible load that shed energy consumes ``rebound_fraction`` of it back over the
  following ``rebound_periods`` (``dispatch.stacking.rebound_mw``).
Metered power is what each DER did; the AC check and the realised imbalance use it.

Owns: set-points, the delivery simulation and metered series. Must not: decide
activations, measure delivery against a baseline or pay anything (``settlement``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tsodso.dispatch.stacking import EPS, Stack, by_der, rebound_mw
from tsodso.grids.outage import event_periods
from tsodso.scenario.domain import Scenario
from tsodso.schema.streams import FAILURES, FORECAST_ERROR
from tsodso.schema.tables import COUPLING_STORAGE

#: DER kinds whose real baseline deviates from the nominated schedule
UNCERTAIN = ("pv", "wind", "hydro", "flex_load")


@dataclass(frozen=True)
class Delivery:
    """Per DER and period (D, T): what it was told, what it would have done without
    activation (the truth a baseline estimates) and what its meter read."""

    setpoint_mw: np.ndarray
    true_base_mw: np.ndarray
    metered_mw: np.ndarray
    rebound_mw: np.ndarray
    failed: np.ndarray  # (D,) bool: delivered none of its activations
    clipped_mwh: float  # set-point excess over the DER's range (0 after stacking)

    def node_delta_mw(self, scn: Scenario) -> np.ndarray:
        """(N, T) change of node injections against the forecast: activations, forecast
        errors and rebound as delivered."""
        out = np.zeros((scn.grid.n_nodes, scn.periods))
        np.add.at(out, scn.ders.node, self.metered_mw - scn.ders.p_base_mw)
        return out

    def system_change_mw(self, scn: Scenario) -> np.ndarray:
        """(T,) signed change of the DERs' total injection against their nominations:
        the flexibility delivered plus the forecast error of their baselines (what the
        TSO's balance really sees)."""
        out: np.ndarray = (self.metered_mw - scn.ders.p_base_mw).sum(axis=0)
        return out

    def realised_flex_mw(self) -> np.ndarray:
        """(T,) signed system-wide flexibility really delivered: metered minus what the
        DERs would have done without activation (rebound and failures included, the
        forecast error of their baselines not)."""
        out: np.ndarray = (self.metered_mw - self.true_base_mw).sum(axis=0)
        return out

    def baseline_error_mw(self, scn: Scenario) -> np.ndarray:
        """(T,) system-wide deviation of the DERs' real baselines from their nominations:
        an imbalance no flexibility market bought for (the same for every model)."""
        out: np.ndarray = (self.true_base_mw - scn.ders.p_base_mw).sum(axis=0)
        return out


def setpoints(scn: Scenario, st: Stack) -> tuple[np.ndarray, float]:
    """(D, T) set-points from the standing activations, and the MWh clipped to the DERs'
    offered ranges (expected 0)."""
    d = scn.ders
    net = by_der(scn, scn.bids.direction * st.accepted_mw)
    lo, hi = d.p_base_mw - d.down_mw, d.p_base_mw + d.up_mw
    sp = d.p_base_mw + net
    clipped = np.clip(sp, lo, hi)
    return clipped, float(np.abs(sp - clipped).sum() * scn.dt_h)


def forecast_error(scn: Scenario) -> np.ndarray:
    """(D, T) relative deviation of each DER's real baseline from its nomination."""
    cfg = scn.config.delivery
    D, T = len(scn.ders), scn.periods
    rng = np.random.default_rng([scn.config.seed, FORECAST_ERROR])
    e = rng.normal(0.0, 1.0, (D, T))
    x = np.zeros((D, T))
    phi = cfg.forecast_error_corr
    for t in range(T):
        x[:, t] = (phi * x[:, t - 1] if t else 0.0) + np.sqrt(1 - phi**2) * e[:, t]
    x *= cfg.forecast_error_std
    x[~np.isin(scn.ders.kind, UNCERTAIN)] = 0.0
    # forecast-error events: renewables (of one feeder or everywhere) deviate by more
    renewable = np.isin(scn.ders.kind, ("pv", "wind", "hydro"))
    layer = scn.grid.node_layer[scn.ders.node]
    for ev in scn.config.events:
        if ev.kind != "forecast_error":
            continue
        ids = [f.id for f in scn.grid.feeders]
        where = renewable & (layer == ids.index(ev.feeder) if ev.feeder else True)
        x[np.ix_(where, event_periods(ev, T))] += ev.magnitude
    return x


def true_baseline_mw(scn: Scenario) -> np.ndarray:
    """(D, T) what each DER really does without activation: its nomination with the
    forecast error, never changing sign (a generator does not consume)."""
    base = scn.ders.p_base_mw
    true = base * (1.0 + forecast_error(scn))
    out: np.ndarray = np.where(base >= 0, np.maximum(true, 0.0), np.minimum(true, 0.0))
    return out


def deliver(
    scn: Scenario,
    setpoint_mw: np.ndarray,
    clipped_mwh: float = 0.0,
    real_time_mw: np.ndarray | None = None,
) -> Delivery:
    """Simulate the delivery of ``setpoint_mw`` (D, T). ``real_time_mw`` (D, T): the part
    of the set-points' change a real-time stage decided on the realised output
    (``operation.stages``): a curtailment there lowers what the unit really does, not its
    nomination."""
    d, cfg = scn.ders, scn.config.delivery
    base = d.p_base_mw
    true = true_baseline_mw(scn)
    rng = np.random.default_rng([scn.config.seed, FAILURES])
    failed = rng.random(len(d)) < cfg.non_delivery_probability
    flex = np.where(failed[:, None], 0.0, setpoint_mw - base)
    rt = np.zeros_like(flex)
    if real_time_mw is not None:
        rt = np.where(failed[:, None], 0.0, real_time_mw)
    ahead = flex - rt  # decided on the nominations
    curtail = d.curtailable[:, None] & (ahead < 0)
    metered = np.where(curtail, np.minimum(true, base + ahead), true + ahead) + rt
    # a real-time curtailment does not turn a generator into a load
    metered = np.where((rt != 0) & (base >= 0), np.maximum(metered, 0.0), metered)
    store = d.coupling == COUPLING_STORAGE
    metered[store] = base[store] + flex[store]  # a battery follows its set-point exactly
    # flexible loads: rebound after the energy they really shed; they cannot inject nor
    # consume more than their offered range
    load = d.kind == "flex_load"
    shed = np.where(load[:, None], np.maximum(metered - true, 0.0), 0.0)
    reb = rebound_mw(scn, shed)
    metered = metered - reb
    metered[load] = np.clip(metered[load], true[load] - d.down_mw[load], 0.0)
    reb[np.abs(reb) < EPS] = 0.0
    return Delivery(setpoint_mw, true, metered, reb, failed, clipped_mwh)
