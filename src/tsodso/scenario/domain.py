"""Immutable scenario data: DERs, their flexibility bids, the baseline and the SO needs.

Owns: the shapes and meaning of scenario arrays. Must not: build or solve anything.

Sign convention (stated once): injection positive. A bid's ``direction`` is +1 for *up*
(more injection or less consumption) and -1 for *down*. ``periods`` index the scenario
horizon (0..T-1), each ``dt_h`` long.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pandapower.auxiliary import pandapowerNet

from tsodso.grids.model import CoupledGrid
from tsodso.scenario.config import ScenarioConfig

#: how a DER's activations in different periods are coupled
COUPLING_NONE, COUPLING_STORAGE, COUPLING_SHIFT = "none", "storage", "shift"


@dataclass(frozen=True)
class DerTable:
    """One row per DER. 2-D arrays are (DER, period)."""

    id: np.ndarray
    kind: np.ndarray  # pv | wind | hydro | biomass | other_gen | battery | ev | flex_load
    node: np.ndarray  # global node index
    aggregator: np.ndarray  # aggregator position
    p_base_mw: np.ndarray  # baseline injection (D, T)
    up_mw: np.ndarray  # available upward flexibility (D, T)
    down_mw: np.ndarray  # available downward flexibility (D, T)
    price_up_eur_per_mwh: np.ndarray
    price_down_eur_per_mwh: np.ndarray
    coupling: np.ndarray  # COUPLING_* per DER
    energy_mwh: np.ndarray  # storage capacity (0 where not storage)
    soc0_mwh: np.ndarray
    efficiency: np.ndarray  # one-way efficiency of storage
    synthetic: np.ndarray  # bool: added by the scenario (its baseline adds to the grid's)
    curtailable: np.ndarray  # bool: renewable whose down activation is curtailment
    p_rated_mw: np.ndarray  # nameplate power (MW): generator capacity, battery/EV power
    element_table: np.ndarray  # pandapower table the DER comes from: sgen | load | "" (synthetic)
    element_index: np.ndarray  # its index in that table (-1 for synthetic DERs)

    def __len__(self) -> int:
        return len(self.id)


@dataclass(frozen=True)
class BidTable:
    """Flexibility bids, one row per DER, direction and period (divisible, 0..q_max)."""

    der: np.ndarray
    direction: np.ndarray  # +1 up, -1 down
    period: np.ndarray
    q_max_mw: np.ndarray
    price_eur_per_mwh: np.ndarray
    node: np.ndarray
    aggregator: np.ndarray

    def __len__(self) -> int:
        return len(self.der)

    def subset(self, mask: np.ndarray) -> BidTable:
        """A new table with the rows where ``mask`` holds (no copy of the scenario)."""
        return BidTable(**{k: getattr(self, k)[mask] for k in self.__dataclass_fields__})

    def with_caps(self, q_max_mw: np.ndarray) -> BidTable:
        """Same bids with new quantity caps (e.g. after a DOE or a filter)."""
        fields = {k: getattr(self, k) for k in self.__dataclass_fields__}
        fields["q_max_mw"] = np.asarray(q_max_mw, dtype=float)
        return BidTable(**fields)


@dataclass(frozen=True)
class Scenario:
    """Everything a coordination model needs, and what the AC check replays."""

    config: ScenarioConfig
    net: pandapowerNet  # source grid (read-only: the AC check converts it)
    grid: CoupledGrid
    dt_h: float
    node_p0_mw: np.ndarray  # baseline net injection per node (N, T), without imbalance
    node_q0_mvar: np.ndarray
    imbalance_mw: np.ndarray  # TSO imbalance per period (T,), positive = shortage
    imbalance_share: np.ndarray  # where the imbalance materialises (N,), sums to 1
    ders: DerTable
    bids: BidTable
    aggregator_names: tuple[str, ...]

    @property
    def periods(self) -> int:
        return self.node_p0_mw.shape[1]

    def node_injection_mw(self, delta_mw: np.ndarray | None = None) -> np.ndarray:
        """Actual net injection per node (N, T): baseline, minus the imbalance where it
        materialises, plus the flexibility ``delta_mw`` that was activated."""
        p = self.node_p0_mw - np.outer(self.imbalance_share, self.imbalance_mw)
        return p if delta_mw is None else p + delta_mw

    def feeder_import_mw(self, fpos: int, injection_mw: np.ndarray) -> np.ndarray:
        """Import of feeder ``fpos`` at its TDI per period for node injections (N, T),
        losses neglected (a line-TDI feeder's root is a transmission node: not counted)."""
        f = self.grid.feeders[fpos]
        nodes = f.nodes[1:] if f.root_is_tdi else f.nodes
        return -injection_mw[nodes].sum(axis=0)

    def sizes(self) -> dict[str, int]:
        g = self.grid
        return {
            "nodes": g.n_nodes,
            "buses": int(len(self.net.bus)),
            "transmission_nodes": int(len(g.transmission.nodes)),
            "transmission_branches": g.transmission.n_branch,
            "feeders": len(g.feeders),
            "feeder_nodes": int(sum(f.n for f in g.feeders)),
            "ders": len(self.ders),
            "aggregators": len(self.aggregator_names),
            "bids": len(self.bids),
            "periods": self.periods,
        }
