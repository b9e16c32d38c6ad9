"""The network-constrained flexibility market as one LP: which constraint families apply is
the caller's choice (a ``MarketProblem``); each family is one ``define_*`` function.

Families (systematic row names, so duals map back to prices):
- ``Bid-activation``      divisible bids x_k in [0, q_max], cost price * dt
- ``System-balance``      sum of signed activations + unmet = TSO imbalance   (balancing price)
- ``Trans-nodal_balance`` DC power flow B*theta = injections at each non-slack node  (LMP)
- ``Trans-flow_max/min``  |flow| <= rating (+ overload slack)
- ``Feeder-<id>-*``       LinDistFlow: branch flow balance (DLMP), squared-voltage drop,
                          voltage band and thermal limits (+ slacks)
- ``DER-storage_soc``     battery state of charge; ``DER-shift_energy`` EV energy neutrality
- ``Reactive-inject/absorb`` reactive offers q in [0, q_max] each way, cost price * |q| * dt;
                          with them a feeder's reactive flows become variables too
                          (``Feeder-<id>-qflow_balance``) and enter its voltage rows

Build, solve and extract are separate steps: ``build`` returns a ``BuiltMarket`` (the LP
and its column order), ``solve_built`` solves it and ``extract`` reads the clearing back;
``clear_market`` does all three. A ``hook(lp, bids)`` runs between build and solve: it may
add variables (blocks named ``User-*`` come back in ``Clearing.user``) and constraints
(their duals come back in ``Clearing.row_duals``); ``bids`` is the canonical column order.

Owns: mapping a ``MarketProblem`` onto those families and reading prices back from duals.
Must not: decide who clears what (that is ``coordination``), or read a scenario.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from tsodso.clearing.lp import INF, LinearProgram, Solution, Solver, Status, solve
from tsodso.clearing.problem import MarketProblem
from tsodso.schema.tables import COUPLING_SHIFT, COUPLING_STORAGE, BidTable, ReactiveTable

#: a function run between build and solve: it may add columns and rows to the LP
Hook = Callable[[LinearProgram, BidTable], None]

THETA_SCALE = 1e-3  # rad per unit of the angle variables
# a distribution limit row is left out only when no combination of bids comes within these
# of it (squared voltage in pu^2, branch flow in MW)
V2_TOL = 1e-6
P_TOL = 1e-6


@dataclass(frozen=True)
class Clearing:
    """The outcome of one market clearing."""

    status: Status
    objective_eur: float
    accepted_mw: np.ndarray  # per bid of spec.bids
    bids: BidTable
    balance_price_eur_per_mwh: np.ndarray  # (T,)
    node_price_eur_per_mwh: np.ndarray  # (N, T): LMP / DLMP of an injection at each node
    unmet_imbalance_mw: np.ndarray  # (T,) signed, positive = shortage left
    lp_overload_mw: float  # sum of overload slacks (LP view)
    lp_voltage_slack_pu2: float
    penalty_eur_by_period: np.ndarray  # (T,) cost of slacks (unmet needs) per period
    n_variables: int
    n_constraints: int
    nnz: int
    build_s: float
    solve_s: float
    message: str = ""
    dt_h: float = 0.25
    user: dict[str, np.ndarray] = field(default_factory=dict)  # values of hook blocks
    # row duals of interface rows (``*tdi_schedule``) and hook rows (``User-*``)
    row_duals: dict[str, np.ndarray] = field(default_factory=dict)
    # the reactive offers of the problem and what was bought of each (MVAr, + = injection)
    reactive: ReactiveTable | None = None
    reactive_mvar: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def reactive_eur_by_period(self) -> np.ndarray:
        """(T,) what the reactive power bought costs per period (pay-as-bid, EUR)."""
        T = len(self.penalty_eur_by_period)
        r = self.reactive
        if r is None or not len(r):
            return np.zeros(T)
        eur = np.abs(self.reactive_mvar) * r.price_eur_per_mvarh * self.dt_h
        return np.bincount(r.period, eur, T)


@dataclass
class _Ctx:
    spec: MarketProblem
    lp: LinearProgram
    x: np.ndarray  # bid column indices
    T: int
    dt: float
    # injection coefficients: rows touched by a unit injection at a node, for prices
    price_rows: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    # per feeder with a TDI schedule: what the schedule row adds to the import (T,)
    tdi_offset: dict[int, np.ndarray] = field(default_factory=dict)
    # reactive offer columns (injection, absorption), one each per row of spec.reactive
    q_inject: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    q_absorb: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))


def define_bids(c: _Ctx) -> None:
    b = c.spec.bids
    c.x = c.lp.add_variables(
        "Bid-activation", len(b), lo=0.0, hi=b.q_max_mw, cost=b.price_eur_per_mwh * c.dt
    )


def define_reactive(c: _Ctx) -> None:
    """Reactive offers: an injection and an absorption column per offer, each up to its
    capability, each paid its price per MVArh."""
    r = c.spec.reactive
    assert r is not None
    cost = r.price_eur_per_mvarh * c.dt
    c.q_inject = c.lp.add_variables("Reactive-inject", len(r), lo=0.0, hi=r.q_max_mvar, cost=cost)
    c.q_absorb = c.lp.add_variables("Reactive-absorb", len(r), lo=0.0, hi=r.q_max_mvar, cost=cost)


def define_balance(c: _Ctx) -> None:
    b, T = c.spec.bids, c.T
    pen = c.spec.penalties.imbalance_eur_per_mwh * c.dt
    short = c.lp.add_variables("System-unmet_short", T, cost=pen)
    surplus = c.lp.add_variables("System-unmet_surplus", T, cost=pen)
    rows = np.concatenate([b.period, np.arange(T), np.arange(T)])
    cols = np.concatenate([c.x, short, surplus])
    vals = np.concatenate([b.direction.astype(float), np.ones(T), -np.ones(T)])
    imb = c.spec.imbalance_mw
    assert imb is not None  # a balance row exists only with a balancing need
    c.lp.add_constraints("System-balance", rows, cols, vals, T, imb, imb)


def define_transmission(c: _Ctx) -> None:
    """DC power flow with angle variables at non-slack nodes (sparse in B)."""
    grid, b, T = c.spec.grid, c.spec.bids, c.T
    tg = grid.transmission
    B, Bf = tg.susceptance()
    ns = np.flatnonzero(~tg.slack)
    sl = np.flatnonzero(tg.slack)
    nn = len(ns)
    pos_ns = np.full(len(tg.nodes), -1)
    pos_ns[ns] = np.arange(nn)
    # angles in milliradians: keeps B's coefficients (1/x on a 1 MVA base, up to 1e5)
    # within a few decades of the other rows, which the QP solver of ADMM needs
    theta = c.lp.add_variables("Trans-theta_mrad", nn * T, lo=-INF, hi=INF)
    th = theta.reshape(nn, T)
    # injections aggregated at transmission nodes (feeders lumped at their TDI, no losses)
    tdi = grid.tdi_of_node()
    t_index = np.full(grid.n_nodes, -1)
    t_index[tg.nodes] = np.arange(len(tg.nodes))
    p_act = c.spec.injection_mw
    p_t = np.zeros((len(tg.nodes), T))
    np.add.at(p_t, t_index[tdi], p_act)
    theta_s = tg.slack_angle_rad[sl]
    rhs = p_t[ns] - (B[np.ix_(ns, sl)] @ theta_s)[:, None]
    # rows: node-major (node * T + t)
    Bns = B[np.ix_(ns, ns)]
    ii, jj = np.nonzero(Bns)
    r_theta = (ii[:, None] * T + np.arange(T)).ravel()
    c_theta = th[jj].ravel()
    v_theta = np.repeat(Bns[ii, jj] * THETA_SCALE, T)
    bid_t = pos_ns[t_index[tdi[b.node]]]
    on = bid_t >= 0  # bids behind a slack node enter no nodal row
    r_bid = bid_t[on] * T + b.period[on]
    rows = np.concatenate([r_theta, r_bid])
    cols = np.concatenate([c_theta, c.x[on]])
    vals = np.concatenate([v_theta, -b.direction[on].astype(float)])
    c.lp.add_constraints("Trans-nodal_balance", rows, cols, vals, nn * T, rhs.ravel(), rhs.ravel())
    # price of an injection at node m: -dual of its transmission node's row
    node_rows = np.full(grid.n_nodes, -1)
    has = pos_ns[t_index[tdi]] >= 0
    node_rows[has] = pos_ns[t_index[tdi[has]]]
    c.price_rows["Trans-nodal_balance"] = (node_rows, np.full(grid.n_nodes, -1.0))
    m = tg.n_branch
    pen = c.spec.penalties.overload_eur_per_mwh * c.dt
    s = c.lp.add_variables("Trans-overload", m * T, cost=pen).reshape(m, T)
    Bf_ns = Bf[:, ns]
    li, lj = np.nonzero(Bf_ns)
    r_f = (li[:, None] * T + np.arange(T)).ravel()
    c_f = th[lj].ravel()
    v_f = np.repeat(Bf_ns[li, lj] * THETA_SCALE, T)
    off = (Bf[:, sl] @ theta_s)[:, None] * np.ones((1, T))
    fc = c.spec.forecast
    factor = np.ones((m, T)) if fc is None or fc.t_rating_factor is None else fc.t_rating_factor
    rating = (tg.branch_rating_mw[:, None] * factor).ravel()
    rs = np.arange(m * T)
    for name, sign, lo, hi in (
        ("Trans-flow_max", -1.0, -INF, rating - off.ravel()),
        ("Trans-flow_min", 1.0, -rating - off.ravel(), INF),
    ):
        c.lp.add_constraints(
            name,
            np.concatenate([r_f, rs]),
            np.concatenate([c_f, s.ravel()]),
            np.concatenate([v_f, np.full(m * T, sign)]),
            m * T,
            lo,
            hi,
        )


def define_feeder(c: _Ctx, fpos: int) -> None:
    """LinDistFlow on one radial feeder, with P flows and squared voltages as variables."""
    grid, b, T, lp = c.spec.grid, c.spec.bids, c.T, c.lp
    f = grid.feeders[fpos]
    n = f.n
    if n < 2:
        return
    br = np.arange(1, n)  # one branch per non-root node
    nb = n - 1
    name = f"Feeder-{f.id}"
    P = lp.add_variables(f"{name}-flow", nb * T, lo=-INF, hi=INF).reshape(nb, T)
    p_act = c.spec.injection_mw[f.nodes]  # (n, T)
    q_act = c.spec.q_mvar[f.nodes]
    # flow balance at node i: P_i - sum_children P_c + sum bids dir x = -p_i
    child = br[f.parent[br] > 0]  # nodes whose parent is not the root
    rows = [np.repeat((br - 1) * T, T) + np.tile(np.arange(T), nb)]
    cols = [P.ravel()]
    vals = [np.ones(nb * T)]
    rows.append(np.repeat((f.parent[child] - 1) * T, T) + np.tile(np.arange(T), len(child)))
    cols.append(P[child - 1].ravel())
    vals.append(-np.ones(len(child) * T))
    local = f.local_index(grid.n_nodes)
    loc = local[b.node]
    on = loc >= 1
    rows.append((loc[on] - 1) * T + b.period[on])
    cols.append(c.x[on])
    vals.append(b.direction[on].astype(float))
    rhs = -p_act[1:].ravel()
    lp.add_constraints(
        f"{name}-flow_balance",
        np.concatenate(rows),
        np.concatenate(cols),
        np.concatenate(vals),
        nb * T,
        rhs,
        rhs,
    )
    node_rows = np.full(grid.n_nodes, -1)
    node_rows[f.nodes[1:]] = np.arange(nb)
    c.price_rows[f"{name}-flow_balance"] = (node_rows, np.full(grid.n_nodes, 1.0))
    # reactive subtree withdrawal per branch (constant: flexibility is at unity power factor)
    sub = f.subtree()
    Q = -(sub @ q_act)[1:]  # (nb, T)
    # with reactive offers in this feeder the reactive flows are variables (the same balance
    # as the active flows) and their range over every combination of the offers
    Qv, Q_lo, Q_hi = _reactive_flows(c, fpos, child, local, Q)
    # the range of each branch flow over every combination of this clearing's bids:
    # P = P0 - (subtree injection change), within [P0 - up, P0 + down]; a limit that no
    # combination can reach needs no row (exact: the optimum is unchanged)
    up = np.zeros((n, T))
    down = np.zeros((n, T))
    for arr, d in ((up, 1), (down, -1)):
        k = on & (b.direction == d)
        np.add.at(arr, (loc[k], b.period[k]), b.q_max_mw[k])
    P0 = -(sub @ p_act)[1:]
    P_lo, P_hi = P0 - (sub @ up)[1:], P0 + (sub @ down)[1:]
    if c.spec.voltage:
        fc = c.spec.forecast
        vroot = (np.ones(T) if fc is None else np.asarray(fc.root_vm_pu[fpos])) ** 2
        margin = c.spec.voltage_margin_pu
        off = fc.v2_offset[fpos][br] if fc is not None else np.zeros((nb, T))
        vmax2 = ((f.vmax_pu[br] - margin) ** 2)[:, None] - off
        vmin2 = ((f.vmin_pu[br] + margin) ** 2)[:, None] - off
        # v = vroot - 2 sum over the path of (r P + x Q): its range from the flows' ranges
        path = sub[1:, 1:].T  # (i, j) = 1 when branch j lies on the path to node i
        rb, xb = f.r_pu[br][:, None], f.x_pu[br][:, None]
        low, high = np.minimum(rb * P_lo, rb * P_hi), np.maximum(rb * P_lo, rb * P_hi)
        # (without reactive offers Q_lo = Q_hi = Q: the range of x Q is x Q itself)
        xq_lo, xq_hi = np.minimum(xb * Q_lo, xb * Q_hi), np.maximum(xb * Q_lo, xb * Q_hi)
        v_hi = vroot - 2 * path @ (low + xq_lo)  # any sign of r: the term's own range
        v_lo = vroot - 2 * path @ (high + xq_hi)
        need_max = v_hi > vmax2 - V2_TOL
        need_min = v_lo < vmin2 + V2_TOL
        # a node's squared voltage is needed where it or a node below it has a limit row
        need_v = (sub[1:, 1:] @ (need_max | need_min)) > 0
        # at least 0, except where the flows can take the linear squared voltage below zero:
        # there it is free, a state far outside the band that the limit rows' slacks price
        # (the bound made the whole market infeasible on case33bw at load_scale 7, found by
        # the fuzz suite); elsewhere the bound never binds and the LP stays as it was
        v_floor = np.where(v_lo < 0.0, -INF, 0.0).ravel()
        v = lp.add_variables(f"{name}-v2", nb * T, lo=v_floor, hi=INF).reshape(nb, T)
        # v_i - v_parent + 2 r P_i = -2 x Q_i   (v_parent = vroot when the parent is the root)
        row_of = np.cumsum(need_v.ravel()) - 1  # (node, t) -> row among the needed ones
        keep = need_v.ravel()
        idx = np.arange(nb * T)[keep]
        rows = [row_of[idx], row_of[idx]]
        cols = [v.ravel()[idx], P.ravel()[idx]]
        vals = [np.ones(len(idx)), np.repeat(2 * f.r_pu[br], T)[idx]]
        cr = ((child - 1)[:, None] * T + np.arange(T)).ravel()
        kc = keep[cr]
        rows.append(row_of[cr[kc]])
        cols.append(v[f.parent[child] - 1].ravel()[kc])
        vals.append(-np.ones(int(kc.sum())))
        if Qv is None:
            rhs = -2 * f.x_pu[br][:, None] * Q
        else:  # v_i - v_parent + 2 r P_i + 2 x Q_i = 0
            rhs = np.zeros((nb, T))
            rows.append(row_of[idx])
            cols.append(Qv.ravel()[idx])
            vals.append(np.repeat(2 * f.x_pu[br], T)[idx])
        at_root = f.parent[br] == 0
        rhs[at_root] += vroot
        lp.add_constraints(
            f"{name}-voltage_drop",
            np.concatenate(rows),
            np.concatenate(cols),
            np.concatenate(vals),
            len(idx),
            rhs.ravel()[idx],
            rhs.ravel()[idx],
        )
        pen = c.spec.penalties.voltage_eur_per_pu2h * c.dt
        s = lp.add_variables(f"{name}-voltage_slack", nb * T, cost=pen)
        _soft_limits(lp, f"{name}-voltage", v.ravel(), s, need_max, vmax2, need_min, vmin2)
    if c.spec.d_thermal:
        # (the polygon's active-power limit is taken at the baseline reactive flow, also
        # where reactive offers move it: what they change shows in the AC check)
        finite = np.isfinite(f.rating_mva[br])
        k = np.flatnonzero(finite)
        if len(k):
            rating = f.rating_mva[br][k]
            pmax = np.sqrt(np.maximum(rating[:, None] ** 2 - Q[k] ** 2, 0.0))
            pen = c.spec.penalties.overload_eur_per_mwh * c.dt
            s = lp.add_variables(f"{name}-overload", len(k) * T, cost=pen)
            _soft_limits(
                lp,
                f"{name}-thermal",
                P[k].ravel(),
                s,
                P_hi[k] > pmax - P_TOL,
                pmax,
                P_lo[k] < -pmax + P_TOL,
                -pmax,
            )
    sched = c.spec.tdi_schedule_mw.get(fpos)
    if sched is not None:
        # import at the TDI = flows leaving the root - what the root node itself injects
        # (a line-TDI feeder's root is a transmission node: not part of the feeder's import)
        roots = np.flatnonzero(f.parent[br] == 0)
        root_bids = np.flatnonzero(loc == 0) if not f.root_is_tdi else np.zeros(0, dtype=int)
        # a missed schedule is an interface deviation, priced like unmet imbalance
        pen = c.spec.penalties.imbalance_eur_per_mwh * c.dt
        dev_up = lp.add_variables(f"{name}-tdi_deviation_up", T, cost=pen)
        dev_dn = lp.add_variables(f"{name}-tdi_deviation_down", T, cost=pen)
        r = [np.tile(np.arange(T), len(roots)), b.period[root_bids], np.arange(T), np.arange(T)]
        cc = [P[roots].ravel(), c.x[root_bids], dev_up, dev_dn]
        vv = [
            np.ones(len(roots) * T),
            -b.direction[root_bids].astype(float),
            np.ones(T),
            -np.ones(T),
        ]
        c.tdi_offset[fpos] = np.zeros(T) if f.root_is_tdi else np.asarray(p_act[0], dtype=float)
        rhs = np.asarray(sched, dtype=float) + c.tdi_offset[fpos]
        lp.add_constraints(
            f"{name}-tdi_schedule",
            np.concatenate(r),
            np.concatenate(cc),
            np.concatenate(vv),
            T,
            rhs,
            rhs,
        )


def _reactive_flows(
    c: _Ctx, fpos: int, child: np.ndarray, local: np.ndarray, Q0: np.ndarray
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """Reactive branch flows of feeder ``fpos``: ``(None, Q0, Q0)`` without reactive offers
    in it (constants, the baseline's); with them, flow variables (nb, T) whose balance at
    each node takes the offers there (``Feeder-<id>-qflow_balance``, the same form as the
    active one), and the range each flow can take over every combination of the offers."""
    r = c.spec.reactive
    if r is None or not len(r):
        return None, Q0, Q0
    grid, T, lp = c.spec.grid, c.T, c.lp
    f = grid.feeders[fpos]
    loc = local[r.node]
    on = loc >= 1
    if not on.any():
        return None, Q0, Q0
    n, nb = f.n, f.n - 1
    br = np.arange(1, n)
    name = f"Feeder-{f.id}"
    Qv = lp.add_variables(f"{name}-qflow", nb * T, lo=-INF, hi=INF).reshape(nb, T)
    q_act = c.spec.q_mvar[f.nodes]
    k = np.flatnonzero(on)
    at = (loc[k] - 1) * T + r.period[k]
    rows = [
        np.repeat((br - 1) * T, T) + np.tile(np.arange(T), nb),
        np.repeat((f.parent[child] - 1) * T, T) + np.tile(np.arange(T), len(child)),
        at,
        at,
    ]
    cols = [Qv.ravel(), Qv[child - 1].ravel(), c.q_inject[k], c.q_absorb[k]]
    vals = [np.ones(nb * T), -np.ones(len(child) * T), np.ones(len(k)), -np.ones(len(k))]
    rhs = -q_act[1:].ravel()
    lp.add_constraints(
        f"{name}-qflow_balance",
        np.concatenate(rows),
        np.concatenate(cols),
        np.concatenate(vals),
        nb * T,
        rhs,
        rhs,
    )
    cap = np.zeros((n, T))
    np.add.at(cap, (loc[k], r.period[k]), r.q_max_mvar[k])
    swing = (f.subtree() @ cap)[1:]
    return Qv, Q0 - swing, Q0 + swing


def _soft_limits(
    lp: LinearProgram,
    name: str,
    x: np.ndarray,
    slack: np.ndarray,
    need_max: np.ndarray,
    hi: np.ndarray,
    need_min: np.ndarray,
    lo: np.ndarray,
) -> None:
    """Blocks ``name``_max: x - slack <= hi and ``name``_min: x + slack >= lo (columns x and
    slack, limits of the same shape as the masks), each only where its mask is set."""
    for suffix, sign, need, row_lo, row_hi in (
        ("max", -1.0, need_max, None, hi),
        ("min", 1.0, need_min, lo, None),
    ):
        idx = np.flatnonzero(need)
        m = len(idx)
        lp.add_constraints(
            f"{name}_{suffix}",
            np.tile(np.arange(m), 2),
            np.concatenate([x[idx], slack[idx]]),
            np.concatenate([np.ones(m), np.full(m, sign)]),
            m,
            -INF if row_lo is None else np.ravel(row_lo)[idx],
            INF if row_hi is None else np.ravel(row_hi)[idx],
        )


def define_der_coupling(c: _Ctx) -> None:
    """Battery state of charge and EV energy neutrality across periods."""
    b, T, lp, dt = c.spec.bids, c.T, c.lp, c.dt
    ders = c.spec.ders
    # batteries with a bid here (a battery without one keeps its charge: no rows needed)
    stor = np.intersect1d(np.flatnonzero(ders.coupling == COUPLING_STORAGE), b.der)
    in_bids = np.isin(b.der, stor)
    if len(stor):
        pos = np.full(len(ders), -1)
        pos[stor] = np.arange(len(stor))
        ns = len(stor)
        hi = np.repeat(ders.energy_mwh[stor], T)
        lo = np.zeros((ns, T))
        lo[:, -1] = ders.soc0_mwh[stor]  # end the horizon no emptier than it started
        soc = lp.add_variables("DER-soc", ns * T, lo=lo.ravel(), hi=hi).reshape(ns, T)
        eff = ders.efficiency[b.der[in_bids]]
        k = np.flatnonzero(in_bids)
        coef = np.where(b.direction[k] > 0, dt / eff, -dt * eff)
        # soc_t - soc_{t-1} + sum_k coef_k x_k = 0  (soc_{-1} = soc0)
        prev = np.ones((ns, T), dtype=bool)
        prev[:, 0] = False
        ri, ti = np.nonzero(prev)
        rows = np.concatenate([np.arange(ns * T), ri * T + ti, pos[b.der[k]] * T + b.period[k]])
        cols = np.concatenate([soc.ravel(), soc[ri, ti - 1], c.x[k]])
        vals = np.concatenate([np.ones(ns * T), -np.ones(len(ri)), coef])
        # the baseline's own charging and discharging (a wholesale schedule), then soc0
        rhs = ders.nominated_storage_flow_mwh()[stor]
        rhs[:, 0] += ders.soc0_mwh[stor]
        if c.spec.committed_mw is not None:
            # energy an earlier step already bought from these batteries (discharge > 0)
            cm = c.spec.committed_mw[stor]
            e = ders.efficiency[stor][:, None]
            rhs -= np.where(cm > 0, cm * dt / e, cm * dt * e)
        lp.add_constraints("DER-storage_soc", rows, cols, vals, ns * T, rhs.ravel(), rhs.ravel())
    shift = np.flatnonzero(ders.coupling == COUPLING_SHIFT)
    k = np.flatnonzero(np.isin(b.der, shift))
    if len(k):
        pos = np.full(len(ders), -1)
        used = np.unique(b.der[k])
        pos[used] = np.arange(len(used))
        lp.add_constraints(
            "DER-shift_energy",
            pos[b.der[k]],
            c.x[k],
            b.direction[k] * dt,
            len(used),
            0.0,
            0.0,
        )


@dataclass(frozen=True)
class BuiltMarket:
    """The LP of one problem, built and not yet solved, with its bids in canonical order
    (``order[k]`` is the caller's index of column k's bid)."""

    ctx: _Ctx
    order: np.ndarray
    problem: MarketProblem

    @property
    def lp(self) -> LinearProgram:
        """The linear program (add rows or columns here before solving)."""
        return self.ctx.lp

    @property
    def bids(self) -> BidTable:
        """The bids in the canonical column order."""
        return self.ctx.spec.bids


def build(problem: MarketProblem, hook: Hook | None = None) -> BuiltMarket:
    """Build the LP of ``problem`` with bids in canonical order (DER, direction, period,
    quantity, price), so that the result does not depend on the order in which bids
    arrived, even where the optimum is degenerate; ``hook(lp, bids)`` runs last."""
    b = problem.bids
    order = np.lexsort((b.price_eur_per_mwh, b.q_max_mw, b.period, b.direction, b.der))
    canonical = dataclasses.replace(problem, bids=b.subset(order))
    c = _Ctx(canonical, LinearProgram(), np.zeros(0, dtype=int), problem.periods, problem.dt_h)
    define_bids(c)
    if problem.reactive is not None and len(problem.reactive):
        define_reactive(c)
    if problem.balance:
        define_balance(c)
    if problem.transmission:
        define_transmission(c)
    for fpos in problem.feeders:
        define_feeder(c, fpos)
    define_der_coupling(c)
    if hook is not None:
        hook(c.lp, canonical.bids)
    return BuiltMarket(c, order, problem)


def solve_built(built: BuiltMarket) -> Solution:
    """Solve a built market with HiGHS under the problem's time limit."""
    return solve(built.lp, time_limit_s=built.problem.time_limit_s)


def extract(built: BuiltMarket, sol: Solution) -> Clearing:
    """The clearing of a solved market, activations in the caller's bid order."""
    out = _extract(built.ctx, sol)
    accepted = np.empty_like(out.accepted_mw)
    accepted[built.order] = out.accepted_mw
    return dataclasses.replace(out, accepted_mw=accepted, bids=built.problem.bids)


def clear_market(problem: MarketProblem, hook: Hook | None = None) -> Clearing:
    """Build, solve and extract one market clearing (see the module docstring for
    ``hook``); results come back in the caller's bid order."""
    built = build(problem, hook)
    return extract(built, solve_built(built))


def split_by_feeder(problem: MarketProblem) -> list[tuple[np.ndarray, MarketProblem]]:
    """The clearings ``problem`` separates into, exactly: without system balance and DC
    lines no row joins two feeders, so each modelled feeder clears alone over its own bids
    (one more clearing takes the bids in no modelled feeder). Returns (bid indices,
    problem) per part; a single part (``problem`` itself) when it does not separate."""
    whole = [(np.arange(len(problem.bids)), problem)]
    if problem.balance or problem.transmission or len(problem.feeders) < 2:
        return whole
    grid = problem.grid
    node = problem.bids.node
    owner = np.full(len(node), -1)
    for fpos in problem.feeders:
        f = grid.feeders[fpos]
        loc = f.local_index(grid.n_nodes)[node]
        mine = (loc >= 1) | ((loc == 0) & (not f.root_is_tdi))
        if (mine & (owner >= 0)).any():
            return whole  # a bid in two modelled feeders' rows: not separable
        owner[mine] = fpos
    parts = []
    q_owner = _reactive_feeder(problem)
    for fpos in problem.feeders:
        idx = np.flatnonzero(owner == fpos)
        sched = {fpos: problem.tdi_schedule_mw[fpos]} if fpos in problem.tdi_schedule_mw else {}
        r = problem.reactive
        sub = problem.replace(
            bids=problem.bids.subset(idx),
            feeders=(fpos,),
            tdi_schedule_mw=sched,
            reactive=None if r is None else r.subset(np.flatnonzero(q_owner == fpos)),
        )
        parts.append((idx, sub))
    rest = np.flatnonzero(owner < 0)
    if len(rest):
        parts.append(
            (
                rest,
                problem.replace(
                    bids=problem.bids.subset(rest), feeders=(), tdi_schedule_mw={}, reactive=None
                ),
            )
        )
    return parts


def _reactive_feeder(problem: MarketProblem) -> np.ndarray:
    """The modelled feeder (position) whose rows each reactive offer enters (-1: none; it
    then changes nothing and is never bought)."""
    r = problem.reactive
    if r is None:
        return np.zeros(0, dtype=int)
    owner = np.full(len(r), -1)
    for fpos in problem.feeders:
        loc = problem.grid.feeders[fpos].local_index(problem.grid.n_nodes)[r.node]
        owner[loc >= 1] = fpos
    return owner


def merge_clearings(problem: MarketProblem, parts: list[tuple[np.ndarray, Clearing]]) -> Clearing:
    """One clearing of ``problem`` from the clearings of the parts it separated into
    (``split_by_feeder``, in its order: part k clears feeder ``problem.feeders[k]``):
    activations in place, costs, slacks and sizes summed, each feeder's prices from its
    own part."""
    T, N = problem.periods, problem.grid.n_nodes
    bids = problem.bids
    accepted = np.zeros(len(bids))
    q_owner = _reactive_feeder(problem)
    reactive = np.zeros(len(q_owner))
    for (_, c), fpos in zip(parts, problem.feeders, strict=False):
        if len(c.reactive_mvar):
            reactive[q_owner == fpos] = c.reactive_mvar
    node_price = np.zeros((N, T))
    user: dict[str, np.ndarray] = {}
    row_duals: dict[str, np.ndarray] = {}
    for idx, c in parts:
        accepted[idx] = c.accepted_mw
        node_price += np.nan_to_num(c.node_price_eur_per_mwh)
        user.update(c.user)
        row_duals.update(c.row_duals)
    cs = [c for _, c in parts]
    failed = [c for c in cs if c.status != Status.OPTIMAL]
    solved = not any(np.isnan(c.objective_eur) for c in cs)  # every part has a solution
    return Clearing(
        failed[0].status if failed else Status.OPTIMAL,
        float(sum(c.objective_eur for c in cs)),
        accepted,
        bids,
        np.full(T, np.nan),
        node_price if solved else np.full((N, T), np.nan),
        np.zeros(T) if solved else np.full(T, np.nan),
        float(sum(c.lp_overload_mw for c in cs)),
        float(sum(c.lp_voltage_slack_pu2 for c in cs)),
        np.sum([c.penalty_eur_by_period for c in cs], axis=0),
        sum(c.n_variables for c in cs),
        sum(c.n_constraints for c in cs),
        sum(c.nnz for c in cs),
        float(sum(c.build_s for c in cs)),
        float(sum(c.solve_s for c in cs)),
        "; ".join(sorted({c.message for c in cs})),
        problem.dt_h,
        user,
        row_duals,
        problem.reactive,
        reactive,
    )


class MarketSession:
    """One market kept in the solver between clearings that differ only in their TDI
    schedules, in column bounds or in constraint blocks added later (cuts): each clearing
    after the first starts from the last basis. Results equal a cold ``clear_market`` of the
    same problem (up to degenerate ties; tested)."""

    def __init__(self, problem: MarketProblem, hook: Hook | None = None):
        self._built = build(problem, hook)
        self.solver = Solver(self._built.lp, time_limit_s=problem.time_limit_s)
        self.last: Solution | None = None

    @property
    def bids(self) -> BidTable:
        """The bids in the canonical column order (for hooks that add rows later)."""
        return self._built.bids

    def schedule_rows(self, fpos: int) -> str:
        """The name of feeder ``fpos``'s TDI schedule rows (one per period)."""
        return f"Feeder-{self._built.problem.grid.feeders[fpos].id}-tdi_schedule"

    def schedule_offset(self, fpos: int) -> np.ndarray:
        """Feeder ``fpos``'s TDI row bounds minus its import schedule (T,)."""
        return np.asarray(self._built.ctx.tdi_offset[fpos], dtype=float)

    def set_schedule(self, fpos: int, import_mw: np.ndarray) -> None:
        """Hold feeder ``fpos``'s TDI to a new import schedule (T,)."""
        rhs = np.asarray(import_mw, dtype=float) + self.schedule_offset(fpos)
        self.solver.set_row_bounds(self.schedule_rows(fpos), rhs, rhs)

    def clear(self) -> Clearing:
        """Solve (warm after the first time) and extract; the solver's raw outcome stays
        in ``last`` (duals of every row, for a relaxation of this market)."""
        self.last = self.solver.solve()
        return extract(self._built, self.last)

    def column(self, name: str) -> np.ndarray:
        """Column indices of variable block ``name``."""
        sl = self._built.lp.variables[name]
        return np.arange(sl.start, sl.stop)


def _extract(c: _Ctx, sol: Solution) -> Clearing:
    lp, T, N = c.lp, c.T, c.spec.grid.n_nodes
    nb = len(c.spec.bids)
    if not sol.has_solution:
        nan = np.full(T, np.nan)
        return Clearing(
            sol.status,
            float("nan"),
            np.zeros(nb),
            c.spec.bids,
            nan,
            np.full((N, T), np.nan),
            nan,
            float("nan"),
            float("nan"),
            nan,
            lp.n_cols,
            lp.n_rows,
            lp.nnz,
            sol.build_s,
            sol.solve_s,
            sol.message,
            c.dt,
            reactive=c.spec.reactive,
            reactive_mvar=np.zeros(0 if c.spec.reactive is None else len(c.spec.reactive)),
        )
    x = sol.x

    def block(name: str) -> np.ndarray:
        s = lp.variables.get(name)
        return x[s] if s is not None else np.zeros(0)

    def dual(name: str) -> np.ndarray | None:
        s = lp.constraints.get(name)
        return sol.duals[s] if s is not None and len(sol.duals) else None

    accepted = np.clip(block("Bid-activation"), 0.0, c.spec.bids.q_max_mw)
    unmet = (
        block("System-unmet_short") - block("System-unmet_surplus")
        if c.spec.balance
        else np.zeros(T)
    )
    y_bal = dual("System-balance")
    bal_price = y_bal / c.dt if y_bal is not None else np.full(T, np.nan)
    node_price = np.zeros((N, T)) + (bal_price if y_bal is not None else 0.0)
    for name, (rows, coef) in c.price_rows.items():
        y = dual(name)
        if y is None:
            continue
        y = y.reshape(-1, T)
        has = rows >= 0
        node_price[has] += coef[has, None] * y[rows[has]] / c.dt
    costs = np.concatenate(lp._cost)
    penalty = np.zeros(T)
    for name, sl in lp.variables.items():
        size = sl.stop - sl.start
        if (
            name == "Bid-activation"
            or name.startswith(("User-", "Reactive-"))
            or size % T
            or not costs[sl].any()
        ):
            continue
        penalty += (costs[sl] * x[sl]).reshape(-1, T).sum(axis=0)
    user = {k: x[sl] for k, sl in lp.variables.items() if k.startswith("User-")}
    row_duals = {
        k: sol.duals[sl]
        for k, sl in lp.constraints.items()
        if len(sol.duals) and (k.startswith("User-") or k.endswith("tdi_schedule"))
    }
    overload = sum(float(block(k).sum()) for k in lp.variables if k.endswith("overload"))
    vslack = sum(float(block(k).sum()) for k in lp.variables if k.endswith("voltage_slack"))
    r = c.spec.reactive
    reactive = np.zeros(0 if r is None else len(r))
    if r is not None and len(r):
        q_in = np.clip(block("Reactive-inject"), 0.0, r.q_max_mvar)
        q_out = np.clip(block("Reactive-absorb"), 0.0, r.q_max_mvar)
        reactive = q_in - q_out
    return Clearing(
        sol.status,
        sol.objective,
        accepted,
        c.spec.bids,
        bal_price,
        node_price,
        unmet,
        overload,
        vslack,
        penalty,
        lp.n_cols,
        lp.n_rows,
        lp.nnz,
        sol.build_s,
        sol.solve_s,
        sol.message,
        c.dt,
        user,
        row_duals,
        r,
        reactive,
    )
