"""A market problem as plain data: everything one clearing needs, and nothing else.

The coordination layer makes problems (who clears which needs over which bids, from which
operating point); ``clearing.market`` builds, solves and extracts them. A problem never
refers to a scenario or its configuration, so that the LP can be held, hashed, split and
tested on its own.

Owns: ``MarketProblem`` and ``PenaltyPrices``. Must not: import the scenario.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from tsodso.grids.forecast import GridForecast
from tsodso.grids.model import CoupledGrid
from tsodso.schema.tables import BidTable, DerTable, ReactiveTable


@dataclass(frozen=True)
class PenaltyPrices:
    """Prices of unmet needs (slack variables): the same units as the scenario's
    ``[penalties]``. A priority rule weighs one operator's needs by scaling its prices."""

    imbalance_eur_per_mwh: float
    overload_eur_per_mwh: float
    voltage_eur_per_pu2h: float

    def scaled(
        self, imbalance: float = 1.0, overload: float = 1.0, voltage: float = 1.0
    ) -> PenaltyPrices:
        """These prices with each kind multiplied by a weight."""
        return PenaltyPrices(
            self.imbalance_eur_per_mwh * imbalance,
            self.overload_eur_per_mwh * overload,
            self.voltage_eur_per_pu2h * voltage,
        )


@dataclass(frozen=True)
class MarketProblem:
    """One clearing: the bids, the needs and which limits it respects, from an operating
    point.

    - ``injection_mw`` (N, T): node injections the clearing starts from (the baseline with
      the imbalance where it materialises, plus activations an earlier step decided);
    - ``imbalance_mw`` (T,): the balancing need, positive = shortage; ``None`` = no system
      balance row (a DSO-side market);
    - ``transmission``: DC line limits; ``feeders``: feeder positions modelled with
      LinDistFlow, with their ``voltage`` band and ``d_thermal`` limits;
    - ``tdi_schedule_mw``: per feeder, the TDI import (T,) it must hold (interface rows);
    - ``ders``: the DER table, for the energy coupling of storage and shiftable units;
    - ``committed_mw`` (D, T): per DER, the signed injection an earlier step already bought
      from it, so that its state of charge here starts from what is left (``None``: none);
    - ``forecast``: the operators' forecast that calibrates the grid models (``None``:
      uncalibrated, 1 pu roots);
    - ``penalties``: prices of unmet needs; ``voltage_margin_pu`` the DSO's security margin;
    - ``reactive``: reactive-power offers the clearing may buy (each at a node of a modelled
      feeder: they enter its reactive flow balance and so its voltage rows); ``None``:
      every flexibility is active power at unity power factor, the reactive flows are the
      baseline's (``q_mvar``).
    """

    grid: CoupledGrid
    bids: BidTable
    ders: DerTable
    injection_mw: np.ndarray
    q_mvar: np.ndarray
    penalties: PenaltyPrices
    dt_h: float
    imbalance_mw: np.ndarray | None = None
    transmission: bool = True
    feeders: tuple[int, ...] = ()
    voltage: bool = True
    d_thermal: bool = True
    tdi_schedule_mw: Mapping[int, np.ndarray] = field(default_factory=dict)
    forecast: GridForecast | None = None
    voltage_margin_pu: float = 0.0
    time_limit_s: float = 300.0
    committed_mw: np.ndarray | None = None
    reactive: ReactiveTable | None = None

    @property
    def periods(self) -> int:
        """Number of periods T."""
        return int(self.injection_mw.shape[1])

    @property
    def balance(self) -> bool:
        """Whether the clearing covers the system balance."""
        return self.imbalance_mw is not None

    def replace(self, **changes: object) -> MarketProblem:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def digest(self) -> str:
        """A hash of everything that decides the clearing's result except the grid and the
        DER table, which a cache of clearings shares (one scenario per cache)."""
        h = hashlib.sha256()
        b = self.bids
        for a in (b.der, b.direction, b.period, b.q_max_mw, b.price_eur_per_mwh, b.node):
            h.update(np.ascontiguousarray(a).tobytes())
        h.update(
            repr(
                (
                    self.transmission,
                    self.feeders,
                    self.voltage,
                    self.d_thermal,
                    self.penalties,
                    self.dt_h,
                    self.voltage_margin_pu,
                    self.time_limit_s,
                )
            ).encode()
        )
        arrays: list[np.ndarray | None] = [
            self.injection_mw,
            self.q_mvar,
            self.imbalance_mw,
            self.committed_mw,
        ]
        if self.forecast is not None:
            # only what the LP reads: the DC ratings' factor with the transmission lines,
            # the root voltage and offsets of the modelled feeders (a TSO-only clearing is
            # the same whichever feeder calibration its operator holds)
            fc = self.forecast
            if self.transmission:
                arrays.append(fc.t_rating_factor)
            for f in self.feeders:
                arrays += [fc.root_vm_pu[f], fc.v2_offset[f]]
        else:
            arrays.append(None)
        for arr in arrays:
            h.update(b"-" if arr is None else np.ascontiguousarray(arr).tobytes())
        if self.reactive is not None:  # (absent: the digest is the one without the product)
            r = self.reactive
            for a in (r.der, r.period, r.q_max_mvar, r.price_eur_per_mvarh, r.node):
                h.update(b"q" + np.ascontiguousarray(a).tobytes())
        for k in sorted(self.tdi_schedule_mw):
            h.update(str(k).encode() + np.ascontiguousarray(self.tdi_schedule_mw[k]).tobytes())
        return h.hexdigest()
