"""Registration and product prequalification of DERs (MODELS.md section 5).

Every DER registers with its technical data: kind, connection node, aggregator (its
portfolio), nameplate power, ramp rate, storage duration and metering. The product check
asks whether the unit can deliver the flexibility product the markets trade:

- size: nameplate at least ``min_unit_mw``;
- metering: a 15-minute interval meter (settlement measures delivery from it);
- duration: storage sustains full power at least ``min_duration_h``;
- ramp: what the unit reaches within the product's full activation time is its
  prequalified capacity; offers above it are capped (not rejected).

A rejected unit's bids are withdrawn from every market; each rejection carries its reason.
(interpretation) The engine trades one product that serves every need (an activation both
balances and relieves congestion), so prequalification is per unit, not per product.
Registration data the grid files do not have (ramp rates by technology, which flexible
loads and EV hubs have an interval meter) is synthetic and seeded, separately from the
scenario's own random draws.

Owns: the registry and the prequalified bid caps. Must not: run power flows or clear
markets (the DSO's grid check is ``registration.grid``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tsodso.scenario.domain import Scenario
from tsodso.schema.streams import REGISTRATION
from tsodso.schema.tables import COUPLING_STORAGE

#: ramp rate by technology, fraction of nameplate per minute (inverter-based units: 1)
RAMP_PER_MIN: dict[str, float] = {
    "pv": 1.0,
    "wind": 1.0,
    "battery": 1.0,
    "ev": 1.0,
    "flex_load": 1.0,
    "hydro": 0.1,
    "other_gen": 0.04,
    "biomass": 0.02,
}
_ALWAYS_METERED = ("pv", "wind", "hydro", "biomass", "other_gen", "battery")


@dataclass(frozen=True)
class Registry:
    """One row per DER: its registration data and the product prequalification outcome."""

    table: pd.DataFrame  # der, kind, aggregator, node_bus, feeder, rated_mw, ... , reason
    qualified: np.ndarray  # bool per DER
    capacity_mw: np.ndarray  # prequalified capacity per DER (0 when rejected)

    def bid_caps(self, scn: Scenario) -> np.ndarray:
        """Each scenario bid's quantity within its DER's prequalified capacity."""
        b = scn.bids
        return np.asarray(np.minimum(b.q_max_mw, self.capacity_mw[b.der]))

    def apply(self, scn: Scenario) -> Scenario:
        """The scenario with only prequalified offers (capped; rejected units' removed)."""
        caps = self.bid_caps(scn)
        keep = caps > 1e-9
        bids = scn.bids.with_caps(caps).subset(keep)
        return dataclasses.replace(scn, bids=bids)

    def withdrawn_mwh(self, scn: Scenario) -> float:
        """Offered energy the product check removed (rejections and ramp caps)."""
        return float((scn.bids.q_max_mw - self.bid_caps(scn)).sum() * scn.dt_h)

    def summary(self) -> dict[str, int]:
        t = self.table
        out = {"registered": len(t), "qualified": int(self.qualified.sum())}
        for reason, n in (
            t.loc[~self.qualified, "reason"].str.split(":").str[0].value_counts().items()
        ):
            out[f"rejected: {reason}"] = int(n)
        out["capped by ramp"] = int((t.qualified & (t.capacity_mw < t.offered_mw - 1e-9)).sum())
        return out


def register(scn: Scenario) -> Registry:
    """Register every DER of ``scn`` and run the product prequalification."""
    ders, rules = scn.ders, scn.config.registration
    n = len(ders)
    rng = np.random.default_rng([scn.config.seed, REGISTRATION])
    metered = np.isin(ders.kind, _ALWAYS_METERED) | (rng.random(n) < rules.interval_meter_share)
    ramp = np.array([RAMP_PER_MIN.get(str(k), 1.0) for k in ders.kind]) * ders.p_rated_mw
    reach = ramp * rules.full_activation_min
    storage = ders.coupling == COUPLING_STORAGE
    with np.errstate(divide="ignore", invalid="ignore"):
        duration = np.where(
            storage & (ders.p_rated_mw > 0), ders.energy_mwh / ders.p_rated_mw, np.inf
        )
    offered = np.maximum(ders.up_mw.max(axis=1, initial=0), ders.down_mw.max(axis=1, initial=0))
    reasons = np.full(n, "", dtype=object)
    small = ders.p_rated_mw < rules.min_unit_mw
    reasons[small] = [
        f"size: nameplate {p * 1e3:.1f} kW below the {rules.min_unit_mw * 1e3:.0f} kW minimum"
        for p in ders.p_rated_mw[small]
    ]
    no_meter = ~metered & (reasons == "")
    reasons[no_meter] = "metering: no 15-minute interval meter"
    short = storage & (duration < rules.min_duration_h) & (reasons == "")
    reasons[short] = [
        f"duration: sustains full power {d:.2f} h, product needs {rules.min_duration_h:.2f} h"
        for d in duration[short]
    ]
    qualified = reasons == ""
    capacity = np.where(qualified, np.minimum(offered, reach), 0.0)
    table = pd.DataFrame(
        {
            "der": ders.id,
            "kind": ders.kind,
            "aggregator": np.array(scn.aggregator_names)[ders.aggregator],
            "node_bus": scn.grid.node_bus[ders.node],
            "feeder": [
                scn.grid.feeders[f].id if f >= 0 else "" for f in scn.grid.node_layer[ders.node]
            ],
            "rated_mw": ders.p_rated_mw,
            "ramp_mw_per_min": ramp,
            "storage_h": np.where(np.isfinite(duration), duration, np.nan),
            "interval_meter": metered,
            "offered_mw": offered,
            "capacity_mw": capacity,
            "qualified": qualified,
            "reason": reasons.astype(str),
        }
    )
    return Registry(table, qualified, capacity)
