"""DER aggregations in an ISO/RTO market under FERC Order No. 2222 (``aggregation =
ferc2222``; issue 14, item 1).

FERC Order No. 2222 (Sept. 2020, RM18-9-002; the seed paper's reference [1]) opens the
RTO/ISO markets to *aggregations* of DERs and leaves three rules that this module applies:

- **distribution utility review**: the utility reviews each DER of an aggregation and may
  withhold one whose participation would threaten its system's reliability. Here the
  utility withholds a DER (every direction) when its grid prequalification
  (``registration.grid.static_hosting_check`` on the DSO's forecast: the full activation of
  one of its offers alone would create or worsen a violation) fails for any of its offers
  (interpretation: the review is per DER and for the day);
- **minimum size**: an aggregation must reach the RTO's minimum size, which the Order caps
  at 100 kW (``MIN_AGGREGATION_MW``, taken at the cap). An aggregation is one aggregator's
  DERs at one pricing node (the TDI node of their feeder: interpretation, as the Order's
  aggregations sit at one pricing node unless the RTO allows several); its size is the sum
  of its DERs' largest offers; a smaller one is not offered;
- **disaggregation by the aggregator**: the RTO clears the aggregations' offers (one
  segment per price step, period and direction at the pricing node; it sees no DER and no
  distribution limit) and the aggregator dispatches its DERs. Here it splits an accepted
  segment among the DERs that make it up in proportion to what each offered (every DER of a
  segment offers at the segment's price, so the split changes no cost); it sees no
  distribution limit either.

DERs at transmission nodes are not in aggregations: they bid on their own. Batteries and
shiftable loads in an aggregation keep their own offers with their energy limits (see
``aggregate``).

Owns: the review, the aggregations and the split. Must not: clear.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tsodso.grids.forecast import GridForecast
from tsodso.registration.grid import static_hosting_check
from tsodso.scenario.domain import Scenario
from tsodso.schema.tables import COUPLING_NONE, BidTable

#: FERC Order No. 2222: an RTO's minimum size for an aggregation may not exceed 100 kW
MIN_AGGREGATION_MW = 0.1
EPS = 1e-9


@dataclass(frozen=True)
class Aggregations:
    """The offers an ISO/RTO receives under FERC 2222, and how to map its awards back."""

    own: np.ndarray  # scenario bids offered per DER (transmission DERs, energy-coupled ones)
    bids: BidTable  # one bid per aggregation, period, direction and price (der = -1)
    segment: np.ndarray  # per scenario bid: its aggregated bid, -1 if not in one
    aggregation: np.ndarray  # per aggregated bid: its aggregation (aggregator, node) number
    keys: np.ndarray  # (n_aggregations, 2): aggregator and pricing node
    withheld: np.ndarray  # (D,) DERs the distribution utility's review withheld
    too_small: np.ndarray  # (D,) DERs in an aggregation below the minimum size

    def disaggregate(self, caps_mw: np.ndarray, accepted_mw: np.ndarray) -> np.ndarray:
        """Per scenario bid, its share of its segment's award ``accepted_mw`` (one value
        per aggregated bid): in proportion to what it offered (``caps_mw``)."""
        member = self.segment >= 0
        total = np.bincount(self.segment[member], caps_mw[member], len(self.bids))
        share = np.zeros(len(caps_mw))
        k = self.segment[member]
        with np.errstate(divide="ignore", invalid="ignore"):
            share[member] = np.where(total[k] > EPS, caps_mw[member] / total[k], 0.0)
        out = np.zeros(len(caps_mw))
        out[member] = share[member] * accepted_mw[k]
        return out


def aggregate(scn: Scenario, caps_mw: np.ndarray, forecast: GridForecast) -> Aggregations:
    """The FERC 2222 offers of the scenario's bids with caps ``caps_mw`` (after any filter)."""
    b, d = scn.bids, scn.ders
    layer = scn.grid.node_layer[b.node]
    in_feeder = layer >= 0
    # the distribution utility's review: a DER any of whose offers fails the grid check
    check = static_hosting_check(scn, b.with_caps(caps_mw), forecast)
    withheld = np.zeros(len(d), dtype=bool)
    withheld[b.der[check.blocked & (caps_mw > EPS)]] = True
    tdi = np.array([f.tdi_node for f in scn.grid.feeders] + [-1])[np.where(in_feeder, layer, -1)]
    offered = in_feeder & ~withheld[b.der] & (caps_mw > EPS)
    # aggregations: one aggregator's DERs at one pricing node; size = their largest offers
    largest = np.zeros(len(d))
    np.maximum.at(largest, b.der[offered], caps_mw[offered])
    agg_key = np.stack([b.aggregator, tdi], axis=1)
    keys, agg_of = np.unique(agg_key[offered], axis=0, return_inverse=True)
    agg_of = agg_of.ravel()
    der_agg = np.full(len(d), -1)
    der_agg[b.der[offered]] = agg_of
    ders_in = np.flatnonzero(der_agg >= 0)
    size = np.bincount(der_agg[ders_in], largest[ders_in], len(keys))
    too_small = np.zeros(len(d), dtype=bool)
    too_small[ders_in] = size[der_agg[ders_in]] < MIN_AGGREGATION_MW - EPS
    # batteries and shiftable loads offer through the aggregation with their own energy
    # limits (interpretation: an RTO's storage participation model, FERC Order No. 841):
    # per-period segments cannot carry a state of charge, so their bids stay per DER
    coupled = d.coupling[b.der] != COUPLING_NONE
    member = offered & ~too_small[b.der] & ~coupled
    # one segment per aggregation, period, direction and price
    agg_bid = der_agg[b.der]
    seg_key = np.stack([agg_bid, b.period, b.direction, b.price_eur_per_mwh.round(9)], axis=1)[
        member
    ]
    segs, seg_of = np.unique(seg_key, axis=0, return_inverse=True)
    seg_of = seg_of.ravel()
    segment = np.full(len(b), -1)
    segment[member] = seg_of
    agg_id = segs[:, 0].astype(int)
    n = len(segs)
    bids = BidTable(
        der=np.full(n, -1),
        direction=segs[:, 2].astype(int),
        period=segs[:, 1].astype(int),
        q_max_mw=np.bincount(seg_of, caps_mw[member], n),
        price_eur_per_mwh=np.bincount(seg_of, b.price_eur_per_mwh[member], n)
        / np.maximum(np.bincount(seg_of, minlength=n), 1),
        node=keys[agg_id, 1].astype(int) if n else np.zeros(0, dtype=int),
        aggregator=keys[agg_id, 0].astype(int) if n else np.zeros(0, dtype=int),
    )
    own = np.flatnonzero((~in_feeder | (offered & ~too_small[b.der] & coupled)) & (caps_mw > EPS))
    return Aggregations(own, bids, segment, agg_id, keys, withheld, too_small)
