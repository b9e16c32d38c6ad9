"""The market context of one prepared scenario: the scenario, the operators' forecast, the
time limit, and how a family's request ("clear these needs over these bids from here")
becomes a ``MarketProblem``. Identical clearings are solved once per context through an
explicit ``ClearingCache``.

Owns: ``MarketContext``, ``ClearingCache`` and the scenario-side helpers every family uses
(distribution bids, injection changes of accepted bids). Must not: decide who clears what.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar, cast

import numpy as np

from tsodso.clearing.market import Clearing, clear_market, merge_clearings, split_by_feeder
from tsodso.clearing.problem import MarketProblem, PenaltyPrices
from tsodso.coordination.areas import OnceMap, map_areas
from tsodso.grids.forecast import GridForecast
from tsodso.scenario.domain import Scenario
from tsodso.schema.mechanism import ALL_NEEDS, Mechanism
from tsodso.schema.tables import BidTable, ReactiveTable

R = TypeVar("R")


class ClearingCache:
    """Clearings by problem digest: a clearing asked for twice (many presets share one) is
    solved once, also when two threads ask at the same time. One cache per prepared
    scenario. ``memo`` keeps other results a family derives from a sequence of clearings
    (a feeder's cost curve), by a key that covers every input of the sequence."""

    def __init__(self) -> None:
        self._clearings: OnceMap[str, Clearing] = OnceMap()
        self._memo: OnceMap[str, object] = OnceMap()

    def clearing(self, key: str, make: Callable[[], Clearing]) -> Clearing:
        """The clearing stored under ``key``, solved by ``make`` the first time."""
        return self._clearings.get(key, make)

    def memo(self, key: str, make: Callable[[], R]) -> R:
        """The result stored under ``key``, made by ``make`` the first time."""
        return cast(R, self._memo.get(key, make))

    @property
    def n_memo(self) -> int:
        """How many memoised results are held."""
        return len(self._memo)

    def __len__(self) -> int:
        return len(self._clearings)


@dataclass(frozen=True)
class MarketContext:
    """A scenario plus what the operators forecast before any market (``forecast``), the
    time limit of each clearing, and the cache of clearings already solved on it."""

    scn: Scenario
    forecast: GridForecast
    time_limit_s: float = 300.0
    cache: ClearingCache = field(default_factory=ClearingCache, compare=False, repr=False)
    # (D, T) what an earlier market stage already bought from each DER (signed), which
    # every clearing here must allow for in state-of-charge limits (``operation.stages``)
    committed_mw: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def penalties(self) -> PenaltyPrices:
        """The scenario's prices of unmet needs."""
        p = self.scn.config.penalties
        return PenaltyPrices(
            p.imbalance_eur_per_mwh, p.overload_eur_per_mwh, p.voltage_eur_per_pu2h
        )

    @property
    def all_feeders(self) -> tuple[int, ...]:
        """Every feeder position of the grid."""
        return tuple(range(len(self.scn.grid.feeders)))

    @classmethod
    def uncalibrated(cls, scn: Scenario, time_limit_s: float = 300.0) -> MarketContext:
        """A context whose forecast is flat (1 pu roots, no calibration): for tests and
        reference cases that check the markets on their own."""
        flat = GridForecast.flat([f.n for f in scn.grid.feeders], scn.periods)
        return cls(scn, flat, time_limit_s)

    def forecast_for(self, mech: Mechanism | None) -> GridForecast:
        """The forecast the clearing operator of ``mech`` holds. With ``d_model =
        planning`` (an operator other than the DSOs, clearing with the network data they
        send it) the feeders' models lack the DSOs' calibration to their AC state estimate:
        the same root voltages (a transmission-level forecast), no LinDistFlow offsets."""
        if mech is None or mech.d_model == "operational":
            return self.forecast
        fc = self.forecast
        return GridForecast(
            fc.root_vm_pu, tuple(np.zeros_like(o) for o in fc.v2_offset), fc.t_rating_factor
        )

    def problem(
        self,
        bids: BidTable,
        mech: Mechanism | None = None,
        *,
        balance: bool | None = None,
        transmission: bool | None = None,
        feeders: tuple[int, ...] = (),
        voltage: bool | None = None,
        d_thermal: bool | None = None,
        base_delta_mw: np.ndarray | None = None,
        imbalance_mw: np.ndarray | None = None,
        tdi_schedule_mw: dict[int, np.ndarray] | None = None,
        penalties: PenaltyPrices | None = None,
        committed_mw: np.ndarray | None = None,
        reactive: bool | None = None,
        base_delta_q_mvar: np.ndarray | None = None,
        reactive_withheld: np.ndarray | None = None,
    ) -> MarketProblem:
        """The clearing of ``bids`` for the needs of ``mech`` (default: every need of the
        TSO and DSO; each overridable), from the forecast moved by activations already
        decided (``base_delta_mw``, (N, T)): these also reduce the imbalance left to cover
        unless ``imbalance_mw`` says otherwise. ``committed_mw`` (D, T): what earlier steps
        bought from each DER (signed), which its state of charge here must allow for.
        ``reactive``: whether the reactive offers in the modelled feeders are for sale
        (default: where ``mech.reactive`` is 'dso' and the clearing is a DSO's, i.e. with
        feeders and without the transmission grid); ``base_delta_q_mvar`` (N, T): reactive
        power earlier steps bought; ``reactive_withheld`` (R,) the scenario's reactive offers
        not for sale here (an earlier step bought them)."""
        needs = set(ALL_NEEDS if mech is None else mech.needs)
        scn = self.scn
        if self.committed_mw is not None:
            earlier = self.committed_mw
            committed_mw = earlier if committed_mw is None else committed_mw + earlier
        balance = "balancing" in needs if balance is None else balance
        p = scn.node_injection_mw()
        if base_delta_mw is not None:
            p = p + base_delta_mw
        need: np.ndarray | None = None
        if balance:
            if imbalance_mw is not None:
                need = np.asarray(imbalance_mw, dtype=float)
            elif base_delta_mw is None:
                need = scn.imbalance_mw
            else:
                need = scn.imbalance_mw - base_delta_mw.sum(axis=0)
        transmission = "t_congestion" in needs if transmission is None else transmission
        if reactive is None:
            reactive = mech is not None and mech.reactive == "dso" and bool(feeders)
            reactive = reactive and not transmission
        q = scn.node_q0_mvar if base_delta_q_mvar is None else scn.node_q0_mvar + base_delta_q_mvar
        return MarketProblem(
            grid=scn.grid,
            bids=bids,
            ders=scn.ders,
            injection_mw=p,
            q_mvar=q,
            penalties=self.penalties if penalties is None else penalties,
            dt_h=scn.dt_h,
            imbalance_mw=need,
            transmission=transmission,
            feeders=feeders,
            voltage="voltage" in needs if voltage is None else voltage,
            d_thermal="d_congestion" in needs if d_thermal is None else d_thermal,
            tdi_schedule_mw=tdi_schedule_mw or {},
            forecast=self.forecast_for(mech),
            voltage_margin_pu=scn.config.d_voltage_margin_pu,
            time_limit_s=self.time_limit_s,
            committed_mw=committed_mw,
            reactive=self.reactive_offers(feeders, reactive_withheld) if reactive else None,
        )

    def reactive_offers(
        self, feeders: tuple[int, ...], withheld: np.ndarray | None = None
    ) -> ReactiveTable | None:
        """The scenario's reactive offers at nodes of ``feeders`` below their roots (where
        they enter a feeder's rows), less those ``withheld``; None where the scenario has
        none."""
        r = self.scn.reactive
        if r is None:
            return None
        grid = self.scn.grid
        inside = np.zeros(len(r), dtype=bool)
        for fpos in feeders:
            inside |= grid.feeders[fpos].local_index(grid.n_nodes)[r.node] >= 1
        if withheld is not None:
            inside &= ~withheld
        return r.subset(np.flatnonzero(inside))

    def dso_problem(self, bids: BidTable, mech: Mechanism, **kw: object) -> MarketProblem:
        """A DSO-side clearing: distribution needs only (no balance, no DC lines), every
        feeder modelled unless ``feeders`` says otherwise."""
        args: dict[str, object] = {
            "feeders": self.all_feeders,
            "balance": False,
            "transmission": False,
        }
        args.update(kw)
        return self.problem(bids, mech, **args)  # type: ignore[arg-type]

    def clear(self, problem: MarketProblem) -> Clearing:
        """Clear ``problem``, reusing the result of an identical clearing solved earlier on
        this context. A problem without a row joining two feeders is solved as one LP per
        feeder on parallel threads and merged (exact; tested)."""

        def solve() -> Clearing:
            parts = split_by_feeder(problem)
            if len(parts) == 1:
                return clear_market(problem)
            cleared = map_areas(lambda p: clear_market(p[1]), parts)
            return merge_clearings(
                problem, [(p[0], c) for p, c in zip(parts, cleared, strict=True)]
            )

        return self.cache.clearing(problem.digest(), solve)


def scatter(n: int, index: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Values of a sub-table (rows ``index`` of a table of ``n``) back onto the full table."""
    out = np.zeros(n)
    out[index] += values
    return out


def delta_mw(scn: Scenario, accepted_mw: np.ndarray) -> np.ndarray:
    """Signed injection change per node and period (N, T) of accepted scenario bids."""
    d = np.zeros((scn.grid.n_nodes, scn.periods))
    b = scn.bids
    np.add.at(d, (b.node, b.period), b.direction * accepted_mw)
    return d


def der_mw(scn: Scenario, accepted_mw: np.ndarray) -> np.ndarray:
    """Signed injection change per DER and period (D, T) of accepted scenario bids."""
    d = np.zeros((len(scn.ders), scn.periods))
    b = scn.bids
    np.add.at(d, (b.der, b.period), b.direction * accepted_mw)
    return d


def distribution_bids(scn: Scenario) -> np.ndarray:
    """Mask of scenario bids from DERs inside a distribution feeder."""
    return np.asarray(scn.grid.node_layer[scn.bids.node] >= 0)


def reactive_bought(scn: Scenario, c: Clearing) -> np.ndarray:
    """What ``c`` bought of each of the scenario's reactive offers (R,; MVAr, + =
    injection); zeros where the scenario has none or the clearing sold none."""
    r = scn.reactive
    out = np.zeros(0 if r is None else len(r))
    if r is None or c.reactive is None or not len(c.reactive):
        return out
    key = r.key(scn.periods)
    order = np.argsort(key, kind="stable")
    out[order[np.searchsorted(key[order], c.reactive.key(scn.periods))]] = c.reactive_mvar
    return out


def reactive_at_nodes(scn: Scenario, q_der_mvar: np.ndarray) -> np.ndarray:
    """(N, T) reactive injection change at the nodes of DERs' reactive set-points (D, T)."""
    q = np.zeros((scn.grid.n_nodes, scn.periods))
    np.add.at(q, scn.ders.node, q_der_mvar)
    return q
