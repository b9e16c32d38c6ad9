"""The TSO's side of a decomposition over TDI exchanges (Benders): its market plus, per
feeder, exchange-deviation columns at the feeder's TDI and an estimate of that DSO's cost,
bounded below by cuts the DSOs' answers give.

Owns: the master's extra columns and rows (``User-exchange``, ``User-dso_cost``,
``User-cuts-*``), so that a coordination family never writes LP rows by name. Must not:
decide when to stop or what to propose (``coordination.families.iterative``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tsodso.clearing.lp import INF, LinearProgram
from tsodso.clearing.market import Clearing, Hook, MarketSession
from tsodso.clearing.problem import MarketProblem
from tsodso.clearing.separable import PeriodBounds
from tsodso.schema.tables import BidTable

EXCHANGE = "User-exchange"
DSO_COST = "User-dso_cost"


@dataclass(frozen=True)
class Cut:
    """theta_f >= value + gradient . (e_f - at): one DSO's cost at a proposal and its
    interface prices."""

    feeder: int  # position among the master's feeders
    value: float
    gradient: np.ndarray  # (T,)
    at: np.ndarray  # (T,)

    def violated_by(self, e: np.ndarray, theta: np.ndarray) -> bool:
        """Whether the point (e (F, T), theta (F,)) lies below this cut."""
        k = self.feeder
        lhs = self.value + float(self.gradient @ (e[k] - self.at))
        return bool(lhs > theta[k] + 1e-9 * max(1.0, abs(self.value)))


class ExchangeMaster:
    """The TSO's market (``problem``: its own bids and needs) with exchange deviations
    e[f, t] in [lo, hi] (MW of extra net injection of each feeder at its TDI) and theta_f,
    kept warm in the solver between iterations."""

    def __init__(
        self, problem: MarketProblem, feeders: list[int], lo: np.ndarray, hi: np.ndarray
    ) -> None:
        self.F, self.T = len(feeders), problem.periods
        self.lo, self.hi = lo, hi
        self._session = MarketSession(problem, self._hook(problem, feeders))
        self._n_cut_blocks = 0

    def _hook(self, problem: MarketProblem, feeders: list[int]) -> Hook:
        grid, F, T = problem.grid, self.F, self.T
        tg = grid.transmission
        ns = np.flatnonzero(~tg.slack)
        pos_ns = np.full(len(tg.nodes), -1)
        pos_ns[ns] = np.arange(len(ns))
        t_index = np.full(grid.n_nodes, -1)
        t_index[tg.nodes] = np.arange(len(tg.nodes))
        tdi = np.array([grid.feeders[f].tdi_node for f in feeders])
        lo, hi, with_lines = self.lo, self.hi, problem.transmission
        with_balance = problem.balance  # a TSO without the balancing need has no such row

        def hook(lp: LinearProgram, bids: BidTable) -> None:
            e = lp.add_variables(EXCHANGE, F * T, lo=lo.ravel(), hi=hi.ravel())
            lp.add_variables(DSO_COST, F, lo=0.0, cost=1.0)
            tt = np.tile(np.arange(T), F)
            if with_balance:
                lp.add_to_rows("System-balance", tt, e, np.ones(F * T))
            if with_lines:
                p = np.repeat(pos_ns[t_index[tdi]], T)
                ok = p >= 0
                lp.add_to_rows("Trans-nodal_balance", p[ok] * T + tt[ok], e[ok], -np.ones(ok.sum()))

        return hook

    def add_cuts(self, cuts: list[Cut]) -> None:
        """Add cuts as one new block of rows (the solver re-solves from its last basis)."""
        if not cuts:
            return
        e = self._session.column(EXCHANGE)
        th = self._session.column(DSO_COST)
        T = self.T
        rows, cols, vals, rhs = [], [], [], []
        for r, cut in enumerate(cuts):
            k = cut.feeder
            rows.append(np.full(T + 1, r))
            cols.append(np.concatenate([[th[k]], e[k * T : (k + 1) * T]]))
            vals.append(np.concatenate([[1.0], -cut.gradient]))
            rhs.append(cut.value - float(cut.gradient @ cut.at))
        self._n_cut_blocks += 1
        self._session.solver.add_rows(
            f"User-cuts-{self._n_cut_blocks}",
            np.concatenate(rows),
            np.concatenate(cols),
            np.concatenate(vals),
            len(cuts),
            np.array(rhs),
            INF,
        )

    def add_period_cuts(self, feeder: int, at: np.ndarray, bounds: PeriodBounds) -> None:
        """One DSO's per-period bounds (``clearing.separable``): theta_f >= K + sum_t
        max_k tangent_kt(e_t), its probes taken as exchange deviations e = ``at`` -
        schedule (``at``: the schedule at e = 0), the first probe the point just solved.

        Written as that point's cut plus w_t >= 0, w_t >= tangent_kt - tangent_0t: at the
        point itself every tangent lies below the first (v_t is convex), so the new rows
        hold there and the master's last basis stays nearly feasible; only periods whose
        other probes found another slope get a column."""
        T, k = self.T, feeder
        p = at[None, :] - bounds.probes  # (K, T) probes as deviations
        slope = -bounds.slopes  # dv/de = -dv/d(schedule)
        icpt = bounds.values - slope * p  # tangent_kt(e) = icpt + slope * e
        other = ~np.isclose(slope[1:], slope[0], rtol=1e-9, atol=1e-9)
        kk, tt = np.nonzero(other)
        kk = kk + 1
        periods = np.unique(tt)
        self._n_cut_blocks += 1
        solver = self._session.solver
        w = solver.add_columns(f"User-period_excess-{self._n_cut_blocks}", len(periods))
        w_of = np.full(T, -1)
        w_of[periods] = w
        e = self._session.column(EXCHANGE)[k * T : (k + 1) * T]
        th = self._session.column(DSO_COST)[k]
        n = len(kk)
        r = np.arange(1, n + 1)
        rows = np.concatenate([np.zeros(T + 1 + len(w), dtype=np.int64), r, r])
        cols = np.concatenate([[th], e, w, w_of[tt], e[tt]])
        vals = np.concatenate(
            [[1.0], -slope[0], -np.ones(len(w)), np.ones(n), -(slope[kk, tt] - slope[0, tt])]
        )
        rhs = np.concatenate([[bounds.constant + icpt[0].sum()], icpt[kk, tt] - icpt[0, tt]])
        solver.add_rows(f"User-period_rows-{self._n_cut_blocks}", rows, cols, vals, n + 1, rhs, INF)

    def fix_exchanges(self, e: np.ndarray | None) -> None:
        """Hold the exchanges at ``e`` (F, T), or free them within [lo, hi] (None)."""
        if e is None:
            self.bound_exchanges(self.lo, self.hi)
        else:
            self.bound_exchanges(e, e)

    def bound_exchanges(self, lo: np.ndarray, hi: np.ndarray) -> None:
        """Keep the exchanges within [lo, hi] (F, T), inside their own range (a trust
        region around a point, or the whole range)."""
        lo_, hi_ = np.maximum(lo, self.lo), np.minimum(hi, self.hi)
        self._session.solver.set_col_bounds(EXCHANGE, lo_.ravel(), np.maximum(lo_, hi_).ravel())

    def clear(self) -> Clearing:
        """Solve the master (warm) and extract its clearing."""
        return self._session.clear()

    def exchanges(self, c: Clearing) -> np.ndarray:
        """The master's exchange deviations (F, T) in a clearing of it."""
        return c.user[EXCHANGE].reshape(self.F, self.T)

    @staticmethod
    def dso_cost_estimates(c: Clearing) -> np.ndarray:
        """The master's estimate of each DSO's cost (F,)."""
        return c.user[DSO_COST]

    @staticmethod
    def tso_cost(c: Clearing) -> float:
        """The TSO's own cost in a clearing of the master (without the DSO estimates)."""
        return float(c.objective_eur - c.user[DSO_COST].sum())
