"""Per-period lower bounds of one area's cost as a function of its TDI schedule, by
Lagrangian relaxation of the rows that join periods.

Owns: finding which rows join periods (battery state of charge, EV energy neutrality) and
checking that, without them, every column belongs to at most one period; relaxing those
rows with the multipliers of the last solve; and measuring the relaxed market at probe
schedules. Must not: decide where to probe or what to do with the bounds
(``coordination.families.iterative``).

Why it is a bound: for any multipliers y of equality rows A_c x = b_c, the Lagrangian
L(s; y) = min {c'x - y'(A_c x - b_c) : the other rows, TDI at schedule s} is at most the
market's cost V(s) (weak duality), with equality at the schedule whose optimal duals y are
(strong duality of an LP). Without the rows that join periods, L splits into one convex
function per period plus a constant: L(s) = K + sum_t v_t(s_t), so each probe of a
schedule gives, for every period at once, a value and a slope of v_t. A cut made of them
(``clearing.decomposition.ExchangeMaster.add_period_cuts``) tells the TSO how the area's cost
moves when one period's exchange moves alone, which a single cut over all periods cannot.
(Reference: Geoffrion, "Lagrangean relaxation for integer programming", 1974, section 2,
for the bound; the per-period split is this module's use of it.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from tsodso.clearing.lp import INF, Solution, Status
from tsodso.clearing.market import MarketSession

#: the row blocks of a market that join periods (``clearing.market.define_der_coupling``)
COUPLING_ROWS = ("DER-storage_soc", "DER-shift_energy")


@dataclass(frozen=True)
class PeriodBounds:
    """L(s) = constant + sum_t v_t(s_t) <= V(s) for every schedule s, measured at probe
    schedules: ``values[k, t]`` = v_t(probes[k, t]), ``slopes[k, t]`` = dv_t/ds_t there."""

    constant: float
    probes: np.ndarray  # (K, T) TDI schedules (MW of import)
    values: np.ndarray  # (K, T)
    slopes: np.ndarray  # (K, T)
    solve_s: float = 0.0  # the relaxed solves' time


class PeriodRelaxation:
    """One area's market (a warm ``MarketSession`` with one TDI schedule row block) and the
    map of its columns to periods once the coupling rows are relaxed. ``separable`` is
    False when some column reaches two periods' TDI rows through other rows: no bounds
    are then given."""

    def __init__(self, session: MarketSession, fpos: int) -> None:
        self.session, self.fpos = session, fpos
        lp = session.solver.lp
        self._tdi_name = session.schedule_rows(fpos)
        self._tdi = lp.constraints[self._tdi_name]
        self._coupling_names = [n for n in COUPLING_ROWS if n in lp.constraints]
        self._coupling = [lp.constraints[n] for n in self._coupling_names]
        a = lp.matrix().tocsr()
        keep = np.ones(lp.n_rows, dtype=bool)
        for sl in self._coupling:
            keep[sl] = False
        #: the coupling rows (an area's market never changes its costs or these rows)
        self._coupled = ~keep
        self._a_coupling = sp.csc_matrix(a[self._coupled])
        self._touched = np.flatnonzero(np.diff(self._a_coupling.indptr)).astype(np.int32)
        self._cost = np.concatenate(lp._cost)
        # the bipartite graph of columns and the rows left: its components are independent
        # parts of the relaxed market
        kept_rows = np.flatnonzero(keep)
        ak = a[kept_rows]
        nc = ak.shape[1]
        _, label = connected_components(
            sp.bmat([[None, ak.T], [ak, None]], format="csr"), directed=False
        )
        tdi_rows = np.arange(self._tdi.start, self._tdi.stop)
        comp_of_period = label[nc + np.searchsorted(kept_rows, tdi_rows)]
        period_of_comp = np.full(label.max() + 1, -1)
        period_of_comp[comp_of_period] = np.arange(len(tdi_rows))
        lo, hi = np.concatenate(lp._rows_lo), np.concatenate(lp._rows_hi)
        equal = all(np.array_equal(lo[sl], hi[sl]) for sl in self._coupling)
        self._coupling_bounds = [(lo[sl].copy(), hi[sl].copy()) for sl in self._coupling]
        self._rhs = lo[self._coupled]  # equality rows: their right-hand sides
        #: whether each period's TDI row reaches its own part only (and the relaxed rows
        #: are equalities, whose multipliers may take either sign)
        self.separable = equal and len(np.unique(comp_of_period)) == len(tdi_rows)
        #: period of each column (-1: a part that no TDI row reaches: a constant)
        self.col_period = period_of_comp[label[:nc]]
        self.periods = len(tdi_rows)

    def bounds(self, last: Solution, probes: np.ndarray) -> PeriodBounds | None:
        """The per-period bounds with the multipliers of ``last`` (this market's optimal
        solve, at its current schedule), measured there and at each probe schedule (K, T);
        None if the market is not separable or a relaxed solve fails. The market is left
        as it was (rows, costs, basis)."""
        if not self.separable or not len(last.duals) or not len(last.x):
            return None
        solver, lp = self.session.solver, self.session.solver.lp
        h = solver.h
        tdi_lo = np.concatenate(lp._rows_lo)[self._tdi].copy()
        tdi_hi = np.concatenate(lp._rows_hi)[self._tdi].copy()
        y = last.duals[self._coupled]
        new_cost = self._cost - self._a_coupling.T @ y
        T, per = self.periods, self.col_period >= 0

        def split(x: np.ndarray) -> np.ndarray:
            return np.bincount(self.col_period[per], (new_cost * x)[per], T)

        # the last solution is optimal for the relaxed market at its own schedule
        # (complementary slackness): the first probe needs no solve
        K = len(probes)
        values, slopes = np.zeros((K + 1, T)), np.zeros((K + 1, T))
        values[0], slopes[0] = split(last.x), last.duals[self._tdi]
        constant = float(y @ self._rhs) + float((new_cost * last.x)[~per].sum())
        basis = h.getBasis()
        solve_s = 0.0
        try:
            self._relax(new_cost)
            for k in range(K):
                self.session.set_schedule(self.fpos, probes[k])
                sol = solver.solve()
                solve_s += sol.solve_s
                if sol.status != Status.OPTIMAL or not len(sol.duals):
                    return None
                values[k + 1], slopes[k + 1] = split(sol.x), sol.duals[self._tdi]
        finally:
            self._restore()
            solver.set_row_bounds(self._tdi_name, tdi_lo, tdi_hi)
            h.setBasis(basis)
        now = tdi_lo - self.session.schedule_offset(self.fpos)  # the schedule solved
        return PeriodBounds(constant, np.vstack([now, probes]), values, slopes, solve_s)

    def _relax(self, new_cost: np.ndarray) -> None:
        """Free the coupling rows and price them into the costs (HiGHS only: the
        ``LinearProgram`` keeps the market's own costs, which ``_restore`` puts back)."""
        solver, idx = self.session.solver, self._touched
        solver.h.changeColsCost(len(idx), idx, new_cost[idx])
        for name in self._coupling_names:
            solver.set_row_bounds(name, -INF, INF)

    def _restore(self) -> None:
        solver, idx = self.session.solver, self._touched
        solver.h.changeColsCost(len(idx), idx, self._cost[idx])
        for name, (lo, hi) in zip(self._coupling_names, self._coupling_bounds, strict=True):
            solver.set_row_bounds(name, lo, hi)
