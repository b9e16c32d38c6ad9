"""Dynamic operating envelopes (MODELS.md section 5): per customer connection point and
interval, how much more a customer may export (or import) than the DSO's forecast, so that
every customer at its limit at once keeps the feeder within its voltage band and ratings.

Connection points are the feeder's non-root nodes with a customer (a load or a DER).
Methods, for one direction (export: +injection, import: -injection):

- ``static``: the same fixed cap everywhere (``static_mw``), not checked against the grid;
- ``same_for_all``: the largest uniform limit that keeps the feeder feasible (closed form);
- ``proportional``: limits proportional to a weight (e.g. connection size), largest scale
  that keeps the feeder feasible (closed form);
- ``max_total``: an LP maximising the total hosting (optimisation-based reference);
- ``max_min``: the largest smallest limit, then an LP maximising the total given it;
- ``proportional_fairness``: an LP maximising the sum of log(limit) (proportional fairness).

The grid model is the DSO's LinDistFlow calibrated to its AC forecast (offsets from the
pipeline), with its voltage margin, line ratings and the TDI transformer's rating on the
feeder's exchange: the closed forms and the LPs share these constraints, A x <= b with
A >= 0 (a push in one direction only moves each limit one way; the rows on the side it moves
away from cannot bind and are not built).

The LP methods solve ONE block-diagonal LP per feeder and direction over all periods (or
over several feeders at once, ``lp_envelopes``) instead of one HiGHS call per period. Before
the hand-over, rows implied by another row of the same period (coefficients no larger,
right-hand side no smaller: a child's voltage rise or a parent's flow) are dropped, which
leaves 25-75 % of the rows; HiGHS's presolve is off, as it cost more than it saved
(``benchmarks/doe.py``). ``max_min``'s first stage (the largest smallest limit) has a closed
form: with A >= 0 the cheapest way to give everyone z is x = z, so it is the
``same_for_all`` level, capped; the second stage maximises the total with that floor.
``per_period=True`` runs the former per-period LPs (first stage an LP with a min variable),
kept as the reference the tests compare against.

Owns: the envelope computation and its fairness metrics. Must not: clear markets.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tsodso.clearing.lp import LinearProgram, Status, solve
from tsodso.grids.distflow import FeederState, sensitivities
from tsodso.grids.model import Feeder

METHODS = (
    "static",
    "same_for_all",
    "proportional",
    "max_total",
    "max_min",
    "proportional_fairness",
)
LP_METHODS = ("max_total", "max_min", "proportional_fairness")

#: ratio between consecutive tangent points of the log approximation
TANGENT_RATIO = 1.5
_G = TANGENT_RATIO * math.log(TANGENT_RATIO) / (TANGENT_RATIO - 1.0)
#: largest overestimate of log(x) by the tangents within their range (0.0205 for r = 1.5)
TANGENT_GAP = _G - 1.0 - math.log(_G)
#: a customer who could not host even this much alone gets no limit (proportional fairness)
MIN_LIMIT_MW = 1e-6
#: row-dominance screening costs k^2 m comparisons per LP block; above this it is skipped
_DOMINANCE_MAX_WORK = 3e7


@dataclass(frozen=True)
class Envelope:
    """Limits (customers, T) in MW of extra export (or import) for one feeder."""

    method: str
    direction: int  # +1 export, -1 import
    nodes: np.ndarray  # positions in the feeder of the connection points
    limit_mw: np.ndarray

    @property
    def hosting_mw(self) -> np.ndarray:
        """Total hosting per period (T,)."""
        return np.asarray(self.limit_mw.sum(axis=0))

    def jain(self) -> float:
        """Jain's fairness index among customers, averaged over periods (1 = all equal)."""
        x = self.limit_mw
        s2 = (x**2).sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            j = np.where(s2 > 0, x.sum(axis=0) ** 2 / (x.shape[0] * s2), 1.0)
        return float(j.mean())


_SENSITIVITIES: dict[int, tuple[weakref.ref[Feeder], np.ndarray, np.ndarray]] = {}


def _sensitivities(f: Feeder) -> tuple[np.ndarray, np.ndarray]:
    """``sensitivities(f)``, kept per feeder object while it lives: they depend only on the
    feeder, and their dense products are slow on a busy machine (BLAS threads wait on each
    other: 7 ms per feeder measured on 2 shared cores, 0.2 ms on quiet ones)."""
    hit = _SENSITIVITIES.get(id(f))
    if hit is not None and hit[0]() is f:
        return hit[1], hit[2]
    dv2, dfl = sensitivities(f)
    dv2.flags.writeable = dfl.flags.writeable = False
    if len(_SENSITIVITIES) >= 256:
        _SENSITIVITIES.pop(next(iter(_SENSITIVITIES)))
    _SENSITIVITIES[id(f)] = (weakref.ref(f), dv2, dfl)
    return dv2, dfl


def _rows(
    f: Feeder, st: FeederState, direction: int, margin_pu: float, thermal_margin: float
) -> tuple[np.ndarray, np.ndarray]:
    """Linear constraints A x <= b (per period) on extra injections x >= 0 at every node in
    ``direction`` around the forecast ``st``: the voltage band on the side the push moves
    towards (rows 2 R: squared-voltage rise per MW), branch ratings in the direction the push
    loads them (subtree indicators) and the TDI transformer (the feeder's total). A (k, n)
    >= 0 is the same for both directions; the opposite rows (coefficients <= 0, b >= 0)
    never bind for x >= 0 and are not built. Returns A (k, n), b (k, T) >= 0."""
    if direction not in (1, -1):
        raise ValueError(f"direction must be +1 (export) or -1 (import), not {direction!r}")
    dv2, dfl = _sensitivities(f)
    keep = 1.0 - thermal_margin
    rating = np.where(np.isfinite(f.rating_mva), f.rating_mva * keep, 1e9)[1:, None]
    # the TDI transformer carries the feeder's whole exchange (import = root branch flows)
    ones = np.ones((1, f.n))
    ones[0, 0] = 0.0
    imp = st.p_flow[f.parent == 0].sum(axis=0)
    q_imp = st.q_flow[f.parent == 0].sum(axis=0)
    s_tdi = np.sqrt(np.maximum(min(f.tdi_rating_mva * keep, 1e9) ** 2 - q_imp**2, 0.0))
    a = np.vstack([dv2[1:], -dfl[1:], ones])
    # b is written in place, block by block (memory-bound at 10^5 columns)
    n1 = f.n - 1
    b = np.empty((2 * n1 + 1, st.v2.shape[1]))
    bv, bf = b[:n1], b[n1 : 2 * n1]
    np.multiply(st.q_flow[1:], st.q_flow[1:], out=bf)
    np.subtract(rating**2, bf, out=bf)
    np.maximum(bf, 0.0, out=bf)
    np.sqrt(bf, out=bf)  # what P may flow given Q, per branch
    if direction > 0:  # export raises voltages and flows towards the root
        np.subtract(((f.vmax_pu - margin_pu) ** 2)[1:, None], st.v2[1:], out=bv)
        np.add(bf, st.p_flow[1:], out=bf)
        np.add(s_tdi, imp, out=b[-1])
    else:
        np.subtract(st.v2[1:], ((f.vmin_pu + margin_pu) ** 2)[1:, None], out=bv)
        np.subtract(bf, st.p_flow[1:], out=bf)
        np.subtract(s_tdi, imp, out=b[-1])
    np.maximum(b, 0.0, out=b)  # a limit already broken allows no further push
    return a, b


def _largest_scale(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Per period, the largest lambda >= 0 with A (lambda w) <= b; ``w`` is (m,) or (m, T)."""
    aw = a @ w  # (k,) or (k, T)
    if aw.ndim == 1:  # only the rows the push loads (the others allow any lambda)
        rows = np.flatnonzero(aw > 1e-12)
        if not len(rows):
            return np.zeros(b.shape[1])
        lam1: np.ndarray = ((b if len(rows) == len(aw) else b[rows]) / aw[rows, None]).min(axis=0)
        return lam1
    with np.errstate(divide="ignore", invalid="ignore"):
        lam = np.where(aw > 1e-12, b / aw, np.inf)
    out: np.ndarray = lam.min(axis=0)
    return np.where(np.isfinite(out), out, 0.0)


def envelope(
    f: Feeder,
    st: FeederState,
    customers: np.ndarray,
    method: str,
    direction: int = 1,
    weights: np.ndarray | None = None,  # (m,) or (m, T) for ``proportional``
    static_mw: float = 0.5,
    margin_pu: float = 0.005,
    thermal_margin: float = 0.1,
    cap_mw: float = 50.0,
    per_period: bool = False,
) -> Envelope:
    """Envelopes of ``customers`` (positions in the feeder) by ``method``; ``cap_mw``
    bounds any single limit (a connection cannot host more than its equipment).
    ``thermal_margin`` keeps flows below (1 - margin) of ratings: LinDistFlow counts MVA at
    nominal voltage and no losses, while the AC loading is current-based (measured up to
    9 % above the linear estimate at the limits of the small preset). ``per_period`` solves
    the LP methods one period at a time (the reference for the one-LP default)."""
    customers = np.asarray(customers, dtype=int)
    T = st.v2.shape[1]
    m = len(customers)
    if method == "static":
        return Envelope(method, direction, customers, np.full((m, T), static_mw))
    if method not in METHODS:
        raise ValueError(f"unknown DOE method {method!r}; expected one of {METHODS}")
    a_full, b = _rows(f, st, direction, margin_pu, thermal_margin)
    a = a_full[:, customers]
    if method in ("same_for_all", "proportional"):
        w = np.ones(m) if method == "same_for_all" or weights is None else np.asarray(weights)
        lam = _largest_scale(a, b, w)
        lim = np.multiply(w if w.ndim == 2 else w[:, None], lam[None, :])
        return Envelope(method, direction, customers, np.minimum(lim, cap_mw, out=lim))
    if m == 0:
        return Envelope(method, direction, customers, np.zeros((0, T)))
    if not per_period:
        return Envelope(method, direction, customers, _solve_lp([(a, b)], method, cap_mw)[0])
    lim = np.zeros((m, T))
    for t in range(T):
        if method == "proportional_fairness":
            lim[:, t] = _solve_lp([(a, b[:, t : t + 1])], method, cap_mw)[0][:, 0]
        else:
            lim[:, t] = _lp_envelope(a, b[:, t], method, cap_mw)
    return Envelope(method, direction, customers, lim)


def lp_envelopes(
    cases: Sequence[tuple[Feeder, FeederState, np.ndarray]],
    method: str,
    direction: int = 1,
    margin_pu: float = 0.005,
    thermal_margin: float = 0.1,
    cap_mw: float = 50.0,
) -> list[Envelope]:
    """LP envelopes (``max_total``, ``max_min``, ``proportional_fairness``) of several
    feeders (feeder, forecast, customer positions) in ONE LP, block-diagonal over feeders
    and periods; the same limits as ``envelope`` per feeder."""
    if method not in LP_METHODS:
        raise ValueError(f"{method!r} is not an LP method; expected one of {LP_METHODS}")
    blocks = []
    for f, st, cust in cases:
        a_full, b = _rows(f, st, direction, margin_pu, thermal_margin)
        blocks.append((a_full[:, np.asarray(cust, dtype=int)], b))
    lims = _solve_lp(blocks, method, cap_mw)
    return [
        Envelope(method, direction, np.asarray(c[2], dtype=int), lim)
        for c, lim in zip(cases, lims, strict=True)
    ]


def _alone_mw(a: np.ndarray, b: np.ndarray, cap_mw: float) -> np.ndarray:
    """(m, T): what each customer could host alone (min over its rows of b / a), capped."""
    k, m = a.shape
    T = b.shape[1]
    r, c = np.nonzero(a > 0)
    out = np.full((m, T), float(cap_mw))
    if not len(r):
        return out
    order = np.argsort(c, kind="stable")
    r, c = r[order], c[order]
    ratio = b[r] / a[r, c][:, None]  # (nnz, T)
    starts = np.flatnonzero(np.r_[True, c[1:] != c[:-1]])
    out[c[starts]] = np.minimum(np.minimum.reduceat(ratio, starts, axis=0), cap_mw)
    return out


def _implied(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(k, T) bool: row l is implied in period t by a row k with a_l <= a_k (elementwise)
    and b_k <= b_l (ties: the lower index stays), given x >= 0. The relation is a strict
    partial order, so every dropped row is implied by one that stays."""
    k, m = a.shape
    T = b.shape[1]
    if k * k * max(m, 1) > _DOMINANCE_MAX_WORK or k < 2:
        return np.zeros((k, T), dtype=bool)
    dom: np.ndarray = np.all(a[:, None, :] <= a[None, :, :], axis=2)  # dom[l, k]: a_l <= a_k
    np.fill_diagonal(dom, False)
    rl, rk = np.nonzero(dom)  # candidate pairs, few: rows of one lateral path
    if not len(rl):
        return np.zeros((k, T), dtype=bool)
    tie_ok = ~(dom[rk, rl]) | (rk < rl)  # identical rows: the lower index stays
    bl, bk = b[rl], b[rk]  # (pairs, T)
    hit = (bk < bl) | ((bk == bl) & tie_ok[:, None])
    out = np.zeros((k, T), dtype=bool)
    np.logical_or.at(out, rl, hit)
    return out


def _solve_lp(
    blocks: Sequence[tuple[np.ndarray, np.ndarray]], method: str, cap_mw: float
) -> list[np.ndarray]:
    """Limits (m, T) per block (A (k, m) >= 0, b (k, T) >= 0) by an LP method, all blocks
    and periods in one block-diagonal LP."""
    lp = LinearProgram()
    x_lo, x_hi, x_cost = [], [], []
    g_rows, g_cols, g_vals, g_rhs = [], [], [], []
    pf: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (x index, 1/m_a, m_a) per entry
    col0 = row0 = 0
    for a, b in blocks:
        k, m = a.shape
        T = b.shape[1]
        alone = _alone_mw(a, b, cap_mw)  # (m, T): an implied upper bound of each limit
        if method == "max_min":
            # first stage in closed form: x = z 1 is the cheapest way to give all z (A >= 0)
            with np.errstate(divide="ignore", invalid="ignore"):
                r = np.where(a.sum(axis=1)[:, None] > 0, b / a.sum(axis=1)[:, None], np.inf)
            z = np.minimum(r.min(axis=0, initial=np.inf), cap_mw) * (1 - 1e-9)
            lo, hi, cost = np.broadcast_to(z, (m, T)), alone, -np.ones((m, T))
            scale = np.ones((m, T))
        elif method == "proportional_fairness":
            # variables xi = x / alone in [1 / m_a, 1]: the slopes of log stay within [1, m_a]
            ok = alone >= MIN_LIMIT_MW
            m_a = np.maximum(ok.sum(axis=0), 1)  # customers that can host, per period
            lo = np.where(ok, 1.0 / m_a[None, :], 0.0)
            hi, cost, scale = ok.astype(float), np.zeros((m, T)), np.where(ok, alone, 0.0)
            idx = col0 + np.arange(m * T).reshape(T, m).T  # (m, T) column of each limit
            pf.append((idx[ok], lo[ok], np.broadcast_to(m_a, (m, T))[ok]))
        elif method == "max_total":
            lo, hi, cost, scale = np.zeros((m, T)), alone, -np.ones((m, T)), np.ones((m, T))
        else:
            raise ValueError(f"{method!r} is not an LP method; expected one of {LP_METHODS}")
        x_lo.append(lo.T.ravel())
        x_hi.append(hi.T.ravel())
        x_cost.append(cost.T.ravel())
        # grid rows of every period, without the rows another row of the period implies
        keep = ~_implied(a, b)
        rid = np.full((T, k), -1)
        rid[keep.T] = np.arange(int(keep.sum()))
        ar, ac = np.nonzero(a)
        t_, e_ = np.nonzero(keep[ar].T)  # (period, entry) pairs with a kept row
        g_rows.append(row0 + rid[t_, ar[e_]])
        g_cols.append(col0 + t_ * m + ac[e_])
        g_vals.append(a[ar[e_], ac[e_]] * scale[ac[e_], t_])
        g_rhs.append(b.T[keep.T])
        col0 += m * T
        row0 += int(keep.sum())
    x = lp.add_variables(
        "x", col0, lo=np.concatenate(x_lo), hi=np.concatenate(x_hi), cost=np.concatenate(x_cost)
    )
    lp.add_constraints(
        "grid",
        np.concatenate(g_rows),
        np.concatenate(g_cols),
        np.concatenate(g_vals),
        row0,
        -np.inf,
        np.concatenate(g_rhs),
    )
    if pf:
        _log_objective(lp, x, *(np.concatenate(p) for p in zip(*pf, strict=True)))
    sol = solve(lp, presolve=False)
    val = sol.x[:col0] if sol.status == Status.OPTIMAL else np.zeros(col0)
    out, col0 = [], 0
    for a, b in blocks:
        m, T = a.shape[1], b.shape[1]
        lim = val[col0 : col0 + m * T].reshape(T, m).T
        if method == "proportional_fairness":
            lim = lim * _alone_mw(a, b, cap_mw) * (lim > 0)
        out.append(np.maximum(lim, 0.0))
        col0 += m * T
    return out


def _lp_envelope(a: np.ndarray, b: np.ndarray, method: str, cap_mw: float) -> np.ndarray:
    """One period's LP (the per-period reference): ``max_min`` in two LPs, the first with
    a min variable."""
    k, m = a.shape
    nz = np.nonzero(a)

    def build(floor: float, with_min: bool) -> LinearProgram:
        lp = LinearProgram()
        x = lp.add_variables("x", m, lo=floor, hi=cap_mw, cost=-1.0 if not with_min else 0.0)
        cols = x[nz[1]]
        rows, vals = nz[0], a[nz]
        if with_min:
            z = lp.add_variables("min", 1, lo=0.0, hi=cap_mw, cost=-1.0)
            r2 = np.repeat(np.arange(m), 2)
            c2 = np.ravel(np.column_stack([z.repeat(m), x]))
            v2 = np.tile([1.0, -1.0], m)
            lp.add_constraints("floor", r2, c2, v2, m, -np.inf, 0.0)
        lp.add_constraints("grid", rows, cols, vals, k, -np.inf, b)
        return lp

    if method == "max_min":
        sol = solve(build(0.0, True))
        floor = float(sol.x[m]) * (1 - 1e-9) if sol.status == Status.OPTIMAL else 0.0
        sol = solve(build(floor, False))
    else:
        sol = solve(build(0.0, False))
    return sol.x[:m] if sol.status == Status.OPTIMAL else np.zeros(m)


def _log_objective(
    lp: LinearProgram, x: np.ndarray, cols: np.ndarray, lo: np.ndarray, m_a: np.ndarray
) -> None:
    """Maximise sum log(xi) over ``cols`` (xi in [lo, 1], lo = 1 / m_a) by its outer
    approximation with tangents at lo r^j, j = 0..K-1 (r = ``TANGENT_RATIO``, K = 1 +
    ceil(log(m_a) / log r): 13 tangents for 100 customers, 19 for 1,000), written as
    segments between consecutive tangents' intersections with decreasing slopes 1 / (lo r^j)
    (concave: the LP fills them in order, no binaries). Within [lo, 1] the approximation
    overstates log by at most ``TANGENT_GAP`` (0.0205 for r = 1.5), i.e. 2 % of a limit.
    The lower bound lo = 1 / m_a of xi = x / (what the customer could host alone) is the
    floor: all customers at it are jointly feasible, every customer that can host at least
    ``MIN_LIMIT_MW`` alone gets a positive limit, and the exact optimum never lies below it
    (KKT: 1 / x_i = sum_k mu_k a_ki <= m_a / alone_i)."""
    r = TANGENT_RATIO
    n_t = 1 + int(math.ceil(math.log(max(float(m_a.max()), 1.0)) / math.log(r)))
    pts = lo[:, None] * r ** np.arange(n_t)[None, :]  # tangent points (entries, K)
    cross = pts[:, :-1] * _G  # intersection of tangents j and j + 1
    edges = np.clip(np.column_stack([lo, cross, np.ones(len(lo))]), lo[:, None], 1.0)
    width = np.diff(edges, axis=1)
    use = width > 1e-12
    ent = np.broadcast_to(np.arange(len(lo))[:, None], use.shape)[use]
    d = lp.add_variables("log_segment", int(use.sum()), 0.0, width[use], -(1.0 / pts)[use])
    n = len(cols)
    lp.add_constraints(
        "log_link",
        np.concatenate([np.arange(n), ent]),
        np.concatenate([x[cols], d]),
        np.concatenate([np.ones(n), -np.ones(len(d))]),
        n,
        lo,
        lo,
    )
