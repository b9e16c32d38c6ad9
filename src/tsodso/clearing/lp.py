"""A linear program assembled from named, vectorised blocks, solved by HiGHS.

Owns: variable/constraint bookkeeping (so duals map back to named constraint families), the
hand-over to highspy as one sparse CSC matrix, and the typed solver outcome. Must not know
what a market, bid or grid is.
"""

from __future__ import annotations

import enum
import os
import sys
import time
from dataclasses import dataclass, field

import highspy
import numpy as np
import scipy.sparse as sp

from tsodso.schema.environment import highs_log

INF = highspy.kHighsInf
_BANNER_SHOWN = False


def _new_highs() -> highspy.Highs:
    """A Highs instance. The first one of a process prints a banner on the C-level stdout,
    which would corrupt machine-readable output (``--json``): send it to /dev/null."""
    global _BANNER_SHOWN
    if _BANNER_SHOWN:
        return highspy.Highs()
    _BANNER_SHOWN = True
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        return highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


class Status(enum.StrEnum):
    """Typed outcome of a solve. ``TIME_LIMIT`` may still carry a feasible solution."""

    OPTIMAL = "optimal"
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    TIME_LIMIT = "time_limit"
    ERROR = "error"


@dataclass
class LinearProgram:
    """min c'x s.t. row_lo <= A x <= row_hi, col_lo <= x <= col_hi, built block by block."""

    _cost: list[np.ndarray] = field(default_factory=list)
    _lo: list[np.ndarray] = field(default_factory=list)
    _hi: list[np.ndarray] = field(default_factory=list)
    _rows_lo: list[np.ndarray] = field(default_factory=list)
    _rows_hi: list[np.ndarray] = field(default_factory=list)
    _i: list[np.ndarray] = field(default_factory=list)
    _j: list[np.ndarray] = field(default_factory=list)
    _v: list[np.ndarray] = field(default_factory=list)
    variables: dict[str, slice] = field(default_factory=dict)
    constraints: dict[str, slice] = field(default_factory=dict)
    n_cols: int = 0
    n_rows: int = 0

    def add_variables(
        self,
        name: str,
        n: int,
        lo: float | np.ndarray = 0.0,
        hi: float | np.ndarray = INF,
        cost: float | np.ndarray = 0.0,
    ) -> np.ndarray:
        """Add ``n`` columns under ``name``; returns their indices."""
        if name in self.variables:
            raise KeyError(f"variable block {name!r} exists")
        idx = np.arange(self.n_cols, self.n_cols + n)
        self._cost.append(np.broadcast_to(np.asarray(cost, float), (n,)).copy())
        self._lo.append(np.broadcast_to(np.asarray(lo, float), (n,)).copy())
        self._hi.append(np.broadcast_to(np.asarray(hi, float), (n,)).copy())
        self.variables[name] = slice(self.n_cols, self.n_cols + n)
        self.n_cols += n
        return idx

    def add_constraints(
        self,
        name: str,
        rows: np.ndarray,
        cols: np.ndarray,
        vals: np.ndarray,
        n: int,
        lo: float | np.ndarray,
        hi: float | np.ndarray,
    ) -> np.ndarray:
        """Add ``n`` rows under ``name`` with triplets (local row, global column, value)."""
        if name in self.constraints:
            raise KeyError(f"constraint block {name!r} exists")
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) and (rows.min() < 0 or rows.max() >= n):
            raise IndexError(f"{name}: row index out of range")
        self._i.append(rows + self.n_rows)
        self._j.append(np.asarray(cols, dtype=np.int64))
        self._v.append(np.asarray(vals, dtype=float))
        self._rows_lo.append(np.broadcast_to(np.asarray(lo, float), (n,)).copy())
        self._rows_hi.append(np.broadcast_to(np.asarray(hi, float), (n,)).copy())
        idx = np.arange(self.n_rows, self.n_rows + n)
        self.constraints[name] = slice(self.n_rows, self.n_rows + n)
        self.n_rows += n
        return idx

    def add_to_rows(self, name: str, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray) -> None:
        """Add coefficients to existing rows of block ``name`` (local row indices)."""
        sl = self.constraints[name]
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) and (rows.min() < 0 or rows.max() >= sl.stop - sl.start):
            raise IndexError(f"{name}: row index out of range")
        self._i.append(rows + sl.start)
        self._j.append(np.asarray(cols, dtype=np.int64))
        self._v.append(np.asarray(vals, dtype=float))

    def matrix(self) -> sp.csc_matrix:
        i = np.concatenate(self._i) if self._i else np.zeros(0, np.int64)
        j = np.concatenate(self._j) if self._j else np.zeros(0, np.int64)
        v = np.concatenate(self._v) if self._v else np.zeros(0)
        return sp.csc_matrix((v, (i, j)), shape=(self.n_rows, self.n_cols))

    @property
    def nnz(self) -> int:
        return int(sum(len(v) for v in self._v))


@dataclass(frozen=True)
class Solution:
    """Primal values, row duals (d objective / d row bound) and timing of one solve."""

    status: Status
    objective: float
    x: np.ndarray
    duals: np.ndarray
    build_s: float
    solve_s: float
    message: str = ""

    @property
    def has_solution(self) -> bool:
        return self.status == Status.OPTIMAL or (
            self.status == Status.TIME_LIMIT and len(self.x) > 0
        )


_STATUS = {
    highspy.HighsModelStatus.kOptimal: Status.OPTIMAL,
    highspy.HighsModelStatus.kInfeasible: Status.INFEASIBLE,
    highspy.HighsModelStatus.kUnbounded: Status.UNBOUNDED,
    highspy.HighsModelStatus.kUnboundedOrInfeasible: Status.INFEASIBLE,
    highspy.HighsModelStatus.kTimeLimit: Status.TIME_LIMIT,
    # nothing to decide (e.g. a TSO market without bids or needs on a lone feeder): its
    # optimum is the empty one, not an error
    highspy.HighsModelStatus.kModelEmpty: Status.OPTIMAL,
}


def _pass(h: highspy.Highs, lp: LinearProgram) -> str:
    """Hand ``lp`` to HiGHS as arrays (a column-wise matrix), without building an
    intermediate HighsLp object (4x faster for a 8e5-column market). Returns why HiGHS
    refused the model ('' when it took it)."""
    a = lp.matrix()

    def cat(parts: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(parts) if parts else np.zeros(0)

    status = h.passModel(
        lp.n_cols,
        lp.n_rows,
        a.nnz,
        int(highspy.MatrixFormat.kColwise),
        int(highspy.ObjSense.kMinimize),
        0.0,
        cat(lp._cost),
        cat(lp._lo),
        cat(lp._hi),
        cat(lp._rows_lo),
        cat(lp._rows_hi),
        a.indptr.astype(np.int32),
        a.indices.astype(np.int32),
        a.data,
        np.zeros(lp.n_cols, dtype=np.int32),  # every column continuous
    )
    if status == highspy.HighsStatus.kError:
        return "HiGHS refused the model (inconsistent bounds, or values it reads as infinite)"
    return ""


def _new_bounds(
    blocks: dict[str, slice],
    los: list[np.ndarray],
    his: list[np.ndarray],
    name: str,
    lo: float | np.ndarray,
    hi: float | np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Store new bounds of block ``name`` (rows or columns); returns its indices and them."""
    sl = blocks[name]
    n = sl.stop - sl.start
    lo_ = np.broadcast_to(np.asarray(lo, float), (n,)).copy()
    hi_ = np.broadcast_to(np.asarray(hi, float), (n,)).copy()
    k = list(blocks).index(name)  # blocks are stored in insertion order
    los[k], his[k] = lo_, hi_
    return np.arange(sl.start, sl.stop, dtype=np.int32), lo_, hi_


class Solver:
    """One LP held by a HiGHS instance between solves. Row bounds can be changed and rows
    added; the next ``solve`` starts from the previous basis (a warm start: a sweep of
    right-hand sides or a cutting-plane master re-solves in a fraction of a cold solve).
    The ``LinearProgram`` is kept in step (bounds, new blocks), so results map back by
    name as after ``solve``."""

    def __init__(
        self,
        lp: LinearProgram,
        time_limit_s: float = 300.0,
        threads: int = 0,
        presolve: bool = True,
    ):
        t0 = time.perf_counter()
        self.lp = lp
        self.h = _new_highs()
        self.h.setOptionValue("output_flag", highs_log())
        self.time_limit_s = float(time_limit_s)
        self.h.setOptionValue("presolve", "on" if presolve else "off")
        if threads:
            self.h.setOptionValue("threads", int(threads))
        #: why HiGHS refused the model ('' if it took it): every solve then reports ERROR
        self.refused = _pass(self.h, lp)
        self._pending_build_s = time.perf_counter() - t0
        self.solves = 0

    def set_row_bounds(self, name: str, lo: float | np.ndarray, hi: float | np.ndarray) -> None:
        """New bounds for every row of block ``name``."""
        idx, lo_, hi_ = _new_bounds(
            self.lp.constraints, self.lp._rows_lo, self.lp._rows_hi, name, lo, hi
        )
        self.h.changeRowsBounds(len(idx), idx, lo_, hi_)  # type: ignore[attr-defined]

    def set_col_bounds(self, name: str, lo: float | np.ndarray, hi: float | np.ndarray) -> None:
        """New bounds for every column of variable block ``name``."""
        idx, lo_, hi_ = _new_bounds(self.lp.variables, self.lp._lo, self.lp._hi, name, lo, hi)
        self.h.changeColsBounds(len(idx), idx, lo_, hi_)

    def add_rows(
        self,
        name: str,
        rows: np.ndarray,
        cols: np.ndarray,
        vals: np.ndarray,
        n: int,
        lo: float | np.ndarray,
        hi: float | np.ndarray,
    ) -> None:
        """A new constraint block (as ``LinearProgram.add_constraints``), added in place."""
        t0 = time.perf_counter()
        first = self.lp.n_rows
        self.lp.add_constraints(name, rows, cols, vals, n, lo, hi)
        a = sp.csr_matrix(
            (np.asarray(vals, float), (np.asarray(rows, np.int64), np.asarray(cols, np.int64))),
            shape=(n, self.lp.n_cols),
        )
        self.h.addRows(
            n,
            self.lp._rows_lo[-1],
            self.lp._rows_hi[-1],
            a.nnz,
            a.indptr[:-1].astype(np.int32),
            a.indices.astype(np.int32),
            a.data,
        )
        assert self.h.getNumRow() == first + n
        self._pending_build_s += time.perf_counter() - t0

    def add_columns(
        self,
        name: str,
        n: int,
        lo: float | np.ndarray = 0.0,
        hi: float | np.ndarray = INF,
        cost: float | np.ndarray = 0.0,
    ) -> np.ndarray:
        """A new variable block (as ``LinearProgram.add_variables``) in no row yet, added
        in place (the basis stays: the new columns start nonbasic); returns their
        indices."""
        t0 = time.perf_counter()
        idx = self.lp.add_variables(name, n, lo, hi, cost)
        self.h.addCols(
            n,
            self.lp._cost[-1],
            self.lp._lo[-1],
            self.lp._hi[-1],
            0,
            np.zeros(n, dtype=np.int32),
            np.zeros(0, dtype=np.int32),
            np.zeros(0),
        )
        assert self.h.getNumCol() == self.lp.n_cols
        self._pending_build_s += time.perf_counter() - t0
        return idx

    def solve(self) -> Solution:
        """Solve from the last basis; never raises for solver outcomes."""
        t1 = time.perf_counter()
        if self.refused:  # a reported outcome, not an exception deep in a family
            build, self._pending_build_s = self._pending_build_s, 0.0
            nan, empty = float("nan"), np.zeros(0)
            return Solution(Status.ERROR, nan, empty, empty, build, 0.0, self.refused)
        # HiGHS (< 2.0) measures its time limit against the run time of every run of this
        # instance together: the limit is meant per solve, so it starts from the time spent
        self.h.setOptionValue("time_limit", self.h.getRunTime() + self.time_limit_s)
        self.h.run()
        t2 = time.perf_counter()
        self.solves += 1
        build, self._pending_build_s = self._pending_build_s, 0.0
        return _solution(self.h, build, t2 - t1)


def _solution(h: highspy.Highs, build_s: float, solve_s: float) -> Solution:
    ms = h.getModelStatus()
    status = _STATUS.get(ms, Status.ERROR)
    sol = h.getSolution()
    # a time limit may stop the simplex at a basis that is not yet feasible: only a
    # feasible point is a result
    feasible = h.getInfo().primal_solution_status == highspy.SolutionStatus.kSolutionStatusFeasible
    has_x = status == Status.OPTIMAL or (
        status == Status.TIME_LIMIT and sol.value_valid and feasible
    )
    x = np.asarray(sol.col_value) if has_x else np.zeros(0)
    duals = np.asarray(sol.row_dual) if has_x and sol.dual_valid else np.zeros(0)
    obj = float(h.getInfo().objective_function_value) if has_x else float("nan")
    return Solution(status, obj, x, duals, build_s, solve_s, h.modelStatusToString(ms))


def solve(
    lp: LinearProgram, time_limit_s: float = 300.0, threads: int = 0, presolve: bool = True
) -> Solution:
    """Solve with HiGHS under a time limit; never raises for solver outcomes."""
    return Solver(lp, time_limit_s, threads, presolve).solve()
