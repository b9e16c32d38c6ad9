"""Immutable scenario data: the grid, DERs, their flexibility bids, the baseline and the
SO needs.

Owns: the ``Scenario`` and what its arrays mean; the DER and bid tables' columns are
declared in ``schema.tables`` (sign convention there). Must not: build or solve anything.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pandapower.auxiliary import pandapowerNet

from tsodso.grids.dso_areas import DsoAreas
from tsodso.grids.model import CoupledGrid
from tsodso.scenario.wholesale import WholesaleResult
from tsodso.schema.config import ScenarioConfig
from tsodso.schema.tables import BidTable, DerTable, ReactiveTable


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
    # commercial parties: one BRP per aggregator's portfolio, its open position per period
    # (A, T; a share of ``imbalance_mw``, same sign convention) and the value it puts on
    # closing it (A,; EUR/MWh). None: no commercial positions.
    brp_position_mw: np.ndarray | None = None
    brp_value_eur_per_mwh: np.ndarray | None = None
    # who owns each feeder (``grids.dso_areas``); None: one DSO owns every feeder (a
    # scenario assembled by hand; ``build_scenario`` always sets it from the config)
    dso_areas: DsoAreas | None = None
    # the day-ahead wholesale market that set the batteries' and EV hubs' baselines
    # (``scenario.wholesale``); None: no wholesale stage (``wholesale.market = 'none'``)
    wholesale: WholesaleResult | None = None
    # reactive-power offers of inverter-based DERs in feeders (``scenario.reactive``);
    # None: none (a scenario assembled by hand), bought only where a model's ``reactive``
    # dimension lets a DSO buy them
    reactive: ReactiveTable | None = None

    @property
    def dsos(self) -> DsoAreas:
        """The DSOs and the feeders each owns."""
        if self.dso_areas is None:
            return DsoAreas.single(len(self.grid.feeders))
        return self.dso_areas

    @property
    def brp_names(self) -> tuple[str, ...]:
        """The balance responsible parties, one per aggregator's portfolio."""
        return tuple(f"brp-{a.split('-', 1)[-1]}" for a in self.aggregator_names)

    @property
    def periods(self) -> int:
        return int(self.node_p0_mw.shape[1])

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
        return np.asarray(-injection_mw[nodes].sum(axis=0))

    def sizes(self) -> dict[str, int]:
        g = self.grid
        return {
            "nodes": g.n_nodes,
            "buses": int(len(self.net.bus)),
            "transmission_nodes": int(len(g.transmission.nodes)),
            "transmission_branches": g.transmission.n_branch,
            "feeders": len(g.feeders),
            "dsos": self.dsos.n,
            "feeder_nodes": int(sum(f.n for f in g.feeders)),
            "ders": len(self.ders),
            "aggregators": len(self.aggregator_names),
            "bids": len(self.bids),
            "periods": self.periods,
        }
