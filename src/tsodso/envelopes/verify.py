"""AC verification of dynamic operating envelopes: every customer at its limit at once,
checked with the AC power flow of the whole grid; where the linear model was optimistic,
the period's limits are scaled down until the AC check passes.

The tap changers are held where the forecast has them (``AcResult.tap_pos``): the DSO's
linear model takes the forecast root voltage as given, and this checks that model's
envelopes on the AC grid under the same premise. With the tap changers free to step, the
root can sit anywhere in its regulator's band (1.5 tap steps wide), which the envelopes do
not budget for; that is a known limit of the envelopes here, not of the check.

The check of a feeder and period: no node of the feeder further outside its voltage band
than in the forecast (the baseline AC power flow) and no branch of the feeder (its TDI
transformer included) above max(rating, forecast loading), with 1e-4 of tolerance. A push
moves a feeder's own voltages one way (export up, import down) and its flows up: that is
its *own side* of the check. Voltages moved the other way can only come from other feeders
through the transmission grid (an import in one area can raise the 110 kV voltage at
another): the *other side*.

``ac_verified_feeders`` verifies the envelopes of every feeder at once. Each step is ONE
whole-grid AC power flow (a batch over the periods still open) in which every feeder has its
own per-period scale. Each feeder searches its own scale on its own side (regula falsi on the
largest excess, Illinois variant, bisection where the power flow diverged, to a bracket of
1/128); feeder-periods that pass unscaled are not searched. A final AC check of the
returned scales together follows: a feeder failing on its own side is halved; where a feeder
fails on the other side, the others in that period are scaled down by the factor the
excess asks for (a linear estimate, 0.9 of it, between 1/16 and 1/2) until the check
passes (at scale 0 everywhere a period is the forecast itself, which passes).

Owns: the AC-verified envelope. Must not: compute envelopes (``envelopes.doe`` does).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tsodso.envelopes.doe import Envelope
from tsodso.scenario.domain import Scenario
from tsodso.validation.ac import AcModel, AcResult

BISECTION_STEPS = 7  # at most this many search steps; the bracket ends below 1 / 2**7
_TOL = 1e-4
_REPAIR_ROUNDS = 40


@dataclass(frozen=True)
class VerifiedEnvelopes:
    """AC-verified envelopes of every feeder (feeder order) for one method and direction."""

    envelopes: tuple[Envelope, ...]  # the linear envelopes scaled by ``scale``
    scale: np.ndarray  # (F, T) in [0, 1]
    unscaled_ok: np.ndarray  # (F, T) the linear envelope passed the AC check as it is
    hosts: np.ndarray  # (F, T) the linear envelope hosts something (> 0 MW)
    ac_runs: int  # whole-grid AC power flows (batches)
    ac_periods: int  # period-columns solved in them

    @property
    def ac_pass_share(self) -> float:
        """Share of the feeder-periods with some hosting whose unscaled envelope passed."""
        n = int(self.hosts.sum())
        return float((self.unscaled_ok & self.hosts).sum() / n) if n else 1.0

    @property
    def min_scale(self) -> float:
        """Smallest scale over the feeder-periods with some hosting (1 if none)."""
        return float(self.scale[self.hosts].min()) if self.hosts.any() else 1.0


def feeder_branches(ac_model: AcModel, scn: Scenario) -> np.ndarray:
    """(B,) feeder position of each AC branch (lines of the feeder and its TDI
    transformers), -1 for the others."""
    out = np.full(len(ac_model.branch_kind), -1)
    is_line = ac_model.branch_kind == "line"
    tr_lv = scn.grid.bus_to_node.loc[scn.net.trafo.lv_bus].to_numpy()
    tr_index = scn.net.trafo.index.to_numpy()
    for fpos, f in enumerate(scn.grid.feeders):
        out[is_line & np.isin(ac_model.branch_element, f.branch_element[1:])] = fpos
        trafos = tr_index[tr_lv == f.nodes[0]]
        out[~is_line & np.isin(ac_model.branch_element, trafos)] = fpos
    return out


class _GroupMax:
    """Largest value per feeder of (P, items) arrays (-inf for a feeder without items)."""

    def __init__(self, group: np.ndarray, n: int):
        order = np.flatnonzero(group >= 0)
        order = order[np.argsort(group[order], kind="stable")]
        counts = np.bincount(group[order], minlength=n)
        # a sentinel column (-inf) opens every group, so that none is empty
        sentinel = len(group)
        self.index = np.insert(order, np.r_[0, np.cumsum(counts)[:-1]], sentinel)
        self.starts = np.r_[0, np.cumsum(counts + 1)[:-1]]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """(n, P) group maxima of ``x`` (P, items); NaN counts as +inf."""
        x = np.where(np.isnan(x), np.inf, x)
        x = np.hstack([x, np.full((x.shape[0], 1), -np.inf)])[:, self.index]
        out: np.ndarray = np.maximum.reduceat(x, self.starts, axis=1).T
        return out


class _Checker:
    """The AC check of every feeder for node injections baseline + scaled envelopes, as
    excesses (> 0 fails) on each feeder's own side and on the other side."""

    def __init__(
        self,
        envs: Sequence[Envelope],
        ac_model: AcModel,
        scn: Scenario,
        vm0: np.ndarray,
        load0: np.ndarray,
        taps0: np.ndarray | None = None,
    ):
        grid = scn.grid
        F, N = len(grid.feeders), grid.n_nodes
        directions = {e.direction for e in envs if len(e.nodes)}
        if len(directions) > 1:
            raise ValueError("envelopes of one direction are verified together")
        self.direction = directions.pop() if directions else 1
        self.ac_model = ac_model
        self.taps0 = taps0
        self.p0, self.q0 = scn.node_injection_mw(), scn.node_q0_mvar
        self.unit = np.zeros((N, scn.periods))  # every envelope at scale 1
        self.node_feeder = np.full(N, F)  # F = no feeder (a zero row of the scales)
        node_f = np.full(N, -1)
        for fpos, (f, env) in enumerate(zip(grid.feeders, envs, strict=True)):
            self.unit[f.nodes[env.nodes]] = env.direction * env.limit_mw
            self.node_feeder[f.nodes[env.nodes]] = fpos
            node_f[f.nodes[1:]] = fpos
        self.hi = np.maximum(ac_model.node_vmax[None, :], vm0) + _TOL
        self.lo = np.minimum(ac_model.node_vmin[None, :], vm0) - _TOL
        self.lim = np.maximum(1.0, load0) + _TOL
        self.nodes = _GroupMax(node_f, F)
        self.branches = _GroupMax(feeder_branches(ac_model, scn), F)
        self.runs = self.columns = 0

    def excess(
        self, vm: np.ndarray, load: np.ndarray, periods: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(F, P) largest excess on each feeder's own side and on the other side."""
        above = self.nodes(vm - self.hi[periods])
        below = self.nodes(self.lo[periods] - vm)
        own_v, other = (above, below) if self.direction > 0 else (below, above)
        return np.maximum(own_v, self.branches(load - self.lim[periods])), other

    def __call__(self, scale: np.ndarray, periods: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Own-side and other-side excesses at ``scale`` (F, P) in ``periods``."""
        s = np.vstack([scale, np.zeros((1, len(periods)))])[self.node_feeder]
        ac = self.ac_model.run(
            self.p0[:, periods] + self.unit[:, periods] * s,
            self.q0[:, periods],
            hold_taps=None if self.taps0 is None else self.taps0[periods],
        )
        self.runs += 1
        self.columns += len(periods)
        own, other = self.excess(ac.vm_pu, ac.branch_loading, periods)
        own[:, ~ac.converged] = np.inf
        other[:, ~ac.converged] = np.inf
        return own, other


def ac_verified_feeders(
    envs: Sequence[Envelope],
    ac_model: AcModel,
    scn: Scenario,
    baseline: AcResult,
    steps: int = BISECTION_STEPS,
) -> VerifiedEnvelopes:
    """Verify the envelopes of every feeder (one per feeder, in feeder order; an envelope
    without customers for a feeder without) with one whole-grid AC power flow per step."""
    return _verify(
        envs, ac_model, scn, baseline.vm_pu, baseline.branch_loading, steps, baseline.tap_pos
    )


def _verify(
    envs: Sequence[Envelope],
    ac_model: AcModel,
    scn: Scenario,
    vm0: np.ndarray,
    load0: np.ndarray,
    steps: int,
    taps0: np.ndarray | None = None,
) -> VerifiedEnvelopes:
    F, T = len(scn.grid.feeders), scn.periods
    if len(envs) != F:
        raise ValueError(f"{len(envs)} envelopes for {F} feeders")
    check = _Checker(envs, ac_model, scn, vm0, load0, taps0)
    hosts = np.array([e.hosting_mw > 0 for e in envs]).reshape(F, T)
    # a period whose forecast did not converge cannot be verified: nothing is hosted there
    known = np.isfinite(vm0).all(axis=1) & np.isfinite(load0).all(axis=1)
    every = np.arange(T)
    base_own, base_other = check.excess(vm0, load0, every)  # the excesses at scale 0
    own1, other1 = np.full((F, T), np.inf), np.full((F, T), np.inf)
    cols = np.flatnonzero(known)
    if len(cols):
        own1[:, cols], other1[:, cols] = check(np.ones((F, len(cols))), cols)
    ok0 = (own1 <= 0) & (other1 <= 0) & known[None, :]
    lo = np.where(known[None, :] & ((own1 <= 0) | ~hosts), 1.0, 0.0)
    _search(check, own1, base_own, lo, hosts & known[None, :] & (own1 > 0), steps)
    scale = lo
    _repair(check, scale, hosts, known, base_own, base_other, ok0, steps)
    verified = tuple(
        dataclasses.replace(e, limit_mw=e.limit_mw * scale[k][None, :]) for k, e in enumerate(envs)
    )
    return VerifiedEnvelopes(verified, scale, ok0 & hosts, hosts, check.runs, check.columns)


def _search(
    check: _Checker,
    e_hi: np.ndarray,
    e_lo: np.ndarray,
    lo: np.ndarray,
    active: np.ndarray,
    steps: int,
) -> None:
    """Per active feeder-period, the largest scale in [0, 1] passing on its own side, by
    regula falsi (Illinois) between lo (passes, excess e_lo <= 0) and hi (fails, e_hi > 0);
    writes ``lo``. Other feeders stay at their current ``lo``."""
    hi = np.ones_like(lo)
    e_lo = np.minimum(e_lo, -_TOL).copy()
    e_hi = e_hi.copy()
    side = np.zeros(lo.shape, dtype=int)  # which end moved last: +1 lo, -1 hi
    width = 0.5**steps
    for _ in range(steps):
        act = active & (hi - lo > width)
        cols = np.flatnonzero(act.any(axis=0))
        if not len(cols):
            break
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = -e_lo / (e_hi - e_lo)
        frac = np.where(np.isfinite(e_hi) & np.isfinite(frac), np.clip(frac, 0.05, 0.95), 0.5)
        trial = np.where(act, lo + frac * (hi - lo), lo)
        e_own, _ = check(trial[:, cols], cols)
        a = act[:, cols]
        good = a & (e_own <= 0)
        bad = a & ~(e_own <= 0)
        sub = (slice(None), cols)
        # Illinois: an end kept twice has its excess halved, so the next trial moves past it
        e_hi[sub] = np.where(good & (side[sub] == 1), 0.5 * e_hi[sub], e_hi[sub])
        e_lo[sub] = np.where(bad & (side[sub] == -1), 0.5 * e_lo[sub], e_lo[sub])
        lo[sub] = np.where(good, trial[:, cols], lo[sub])
        e_lo[sub] = np.where(good, np.minimum(e_own, -_TOL), e_lo[sub])
        hi[sub] = np.where(bad, trial[:, cols], hi[sub])
        e_hi[sub] = np.where(bad, e_own, e_hi[sub])
        side[sub] = np.where(good, 1, np.where(bad, -1, side[sub]))


def _repair(
    check: _Checker,
    scale: np.ndarray,
    hosts: np.ndarray,
    known: np.ndarray,
    base_own: np.ndarray,
    base_other: np.ndarray,
    ok0: np.ndarray,
    steps: int,
) -> None:
    """The final check of all feeders together at ``scale``, lowered (in place) until it
    passes: a feeder failing on its own side is halved; a feeder failing on the other side
    (or on its own while pushing nothing) makes the others of the period scale down."""
    todo = np.flatnonzero(known & (((scale < 1.0) & hosts) | ~ok0).any(axis=0))
    for _ in range(_REPAIR_ROUNDS):
        if not len(todo):
            return
        own, other = check(scale[:, todo], todo)
        bad_own, bad_other = own > 0, other > 0
        if not (bad_own | bad_other).any():
            return
        sub = scale[:, todo]
        push = hosts[:, todo] & (sub > 0.0)
        victim = bad_other | (bad_own & ~push)
        # collateral excess ~ linear in the others' scale: e(f) = e0 + (e - e0) f
        e = np.where(bad_other, other, own)
        e0 = np.minimum(np.where(bad_other, base_other[:, todo], base_own[:, todo]), -_TOL)
        with np.errstate(divide="ignore", invalid="ignore"):
            need = np.where(victim, 0.9 * -e0 / (e - e0), 1.0)
        need = np.clip(np.nan_to_num(need, nan=0.5, posinf=0.5, neginf=0.5), 1 / 16, 0.5)
        factor = np.ones_like(sub)
        for v in np.argwhere(victim):  # the others of the victim's period
            others = np.arange(len(sub)) != v[0]
            factor[others, v[1]] = np.minimum(factor[others, v[1]], need[v[0], v[1]])
        factor = np.where(bad_own & push, np.minimum(factor, 0.5), factor)
        cut = push & (factor < 1.0)
        sub = np.where(cut, sub * factor, sub)
        sub[cut & (sub < 0.5**steps / 4)] = 0.0
        scale[:, todo] = sub
        todo = todo[(bad_own | bad_other).any(axis=0)]
    # not reached in practice (the forecast itself passes): host nothing there
    scale[:, todo] = np.where(hosts[:, todo], 0.0, scale[:, todo])
