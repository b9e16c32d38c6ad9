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
- ``max_min``: an LP maximising the smallest limit, then the total given that minimum.

The grid model is the DSO's LinDistFlow calibrated to its AC forecast (offsets from the
pipeline), with its voltage margin, line ratings and the TDI transformer's rating on the
feeder's exchange: the closed forms and the LPs share these constraints.
Owns: the envelope computation and its fairness metrics. Must not: clear markets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tsodso.clearing.lp import LinearProgram, Status, solve
from tsodso.grids.distflow import FeederState, sensitivities
from tsodso.grids.model import Feeder

METHODS = ("static", "same_for_all", "proportional", "max_total", "max_min")


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
        return self.limit_mw.sum(axis=0)

    def jain(self) -> float:
        """Jain's fairness index among customers, averaged over periods (1 = all equal)."""
        x = self.limit_mw
        s2 = (x**2).sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            j = np.where(s2 > 0, x.sum(axis=0) ** 2 / (x.shape[0] * s2), 1.0)
        return float(j.mean())


def _rows(
    f: Feeder, st: FeederState, direction: int, margin_pu: float, thermal_margin: float
) -> tuple[np.ndarray, np.ndarray]:
    """Linear constraints A x <= b (per period) on extra injections x at every node:
    voltage band and thermal limits around the forecast ``st``. Returns A (k, n), b (k, T)."""
    dv2, dfl = sensitivities(f)
    s = float(direction)
    vmax2 = (f.vmax_pu - margin_pu)[:, None] ** 2
    vmin2 = (f.vmin_pu + margin_pu)[:, None] ** 2
    keep = 1.0 - thermal_margin
    rating = np.where(np.isfinite(f.rating_mva), f.rating_mva * keep, 1e9)[:, None]
    pmax = np.sqrt(np.maximum(rating**2 - st.q_flow**2, 0.0))
    br = np.arange(1, f.n)
    # the TDI transformer carries the feeder's whole exchange (import = root branch flows)
    ones = np.ones((1, f.n))
    ones[0, 0] = 0.0
    imp = st.p_flow[f.parent == 0].sum(axis=0)[None, :]
    q_imp = st.q_flow[f.parent == 0].sum(axis=0)[None, :]
    s_tdi = np.sqrt(np.maximum(min(f.tdi_rating_mva * keep, 1e9) ** 2 - q_imp**2, 0.0))
    a = np.vstack([s * dv2[br], -s * dv2[br], s * dfl[br], -s * dfl[br], s * ones, -s * ones])
    b = np.vstack(
        [
            vmax2[br] - st.v2[br],
            st.v2[br] - vmin2[br],
            pmax[br] - st.p_flow[br],
            pmax[br] + st.p_flow[br],
            s_tdi + imp,
            s_tdi - imp,
        ]
    )
    return a, np.maximum(b, 0.0)  # a limit already broken allows no further push


def _largest_scale(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Per period, the largest lambda >= 0 with A (lambda w) <= b; ``w`` is (m,) or (m, T)."""
    aw = a @ w  # (k,) or (k, T)
    if aw.ndim == 1:
        aw = aw[:, None]
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
) -> Envelope:
    """Envelopes of ``customers`` (positions in the feeder) by ``method``; ``cap_mw``
    bounds any single limit (a connection cannot host more than its equipment).
    ``thermal_margin`` keeps flows below (1 - margin) of ratings: LinDistFlow counts MVA at
    nominal voltage and no losses, while the AC loading is current-based (measured up to
    9 % above the linear estimate at the limits of the small preset)."""
    T = st.v2.shape[1]
    m = len(customers)
    if method == "static":
        return Envelope(method, direction, customers, np.full((m, T), static_mw))
    a_full, b = _rows(f, st, direction, margin_pu, thermal_margin)
    a = a_full[:, customers]
    if method in ("same_for_all", "proportional"):
        w = np.ones(m) if method == "same_for_all" or weights is None else np.asarray(weights)
        lam = _largest_scale(a, b, w)
        lim = np.minimum((w if w.ndim == 2 else w[:, None]) * lam[None, :], cap_mw)
        return Envelope(method, direction, customers, lim)
    if method in ("max_total", "max_min"):
        lim = np.zeros((m, T))
        for t in range(T):
            lim[:, t] = _lp_envelope(a, b[:, t], method, cap_mw)
        return Envelope(method, direction, customers, lim)
    raise ValueError(f"unknown DOE method {method!r}; expected one of {METHODS}")


def _lp_envelope(a: np.ndarray, b: np.ndarray, method: str, cap_mw: float) -> np.ndarray:
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
