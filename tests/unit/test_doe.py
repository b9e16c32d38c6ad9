"""Dynamic operating envelopes: closed forms vs the LPs, the one-LP form vs the per-period
LPs, proportional fairness, every method's AC-verified envelopes applied together in an AC
power flow, and the report's tables."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tsodso.envelopes import doe
from tsodso.envelopes.doe import METHODS, Envelope, envelope, lp_envelopes
from tsodso.envelopes.report import DoeReport, customers, doe_report, feeder_states
from tsodso.envelopes.verify import feeder_branches
from tsodso.grids.distflow import FeederState
from tsodso.grids.model import Feeder
from tsodso.pipeline import Prepared

MARGIN = 0.005
THERMAL = 0.1
CAP = 50.0


def _feeder_case(prep: Prepared, fpos: int = 0) -> tuple[Feeder, FeederState, np.ndarray]:
    scn, ctx = prep.scn, prep.ctx
    st = feeder_states(scn, ctx.forecast)[fpos]
    return scn.grid.feeders[fpos], st, customers(scn)[fpos]


def _rel(x: np.ndarray, ref: np.ndarray) -> float:
    return float(np.max(np.abs(x - ref) / np.maximum(np.abs(ref), 1e-9)))


def _pwl_log(f: Feeder, st: FeederState, cust: np.ndarray, d: int, x: np.ndarray) -> np.ndarray:
    """Per period, the tangent approximation of sum log(limit) that proportional fairness
    maximises (xi = limit / what the customer could host alone, tangents at r^j / m_a)."""
    a, b = doe._rows(f, st, d, MARGIN, THERMAL)
    alone = doe._alone_mw(a[:, cust], b, CAP)
    ok = alone >= doe.MIN_LIMIT_MW
    m_a = np.maximum(ok.sum(axis=0), 1)
    xi = np.where(ok, x / np.where(ok, alone, 1.0), 1.0)
    out = np.zeros(x.shape[1])
    for t in range(x.shape[1]):
        k = 1 + math.ceil(math.log(max(m_a[t], 1)) / math.log(doe.TANGENT_RATIO))
        pts = doe.TANGENT_RATIO ** np.arange(k) / m_a[t]
        g = (np.log(pts)[None, :] + xi[ok[:, t], t][:, None] / pts[None, :] - 1.0).min(axis=1)
        out[t] = g.sum()
    return out


@pytest.mark.parametrize("direction", [1, -1])
def test_methods_order_and_fairness(small_prepared: Prepared, direction: int) -> None:
    f, st, cust = _feeder_case(small_prepared)
    env = {m: envelope(f, st, cust, m, direction, margin_pu=MARGIN) for m in METHODS}
    same = env["same_for_all"]
    assert same.jain() == pytest.approx(1.0)
    assert env["static"].jain() == pytest.approx(1.0)
    # the LP optimum hosts at least what any closed form hosts (they are feasible for it)
    for m in ("same_for_all", "proportional", "max_min", "proportional_fairness"):
        assert (env["max_total"].hosting_mw >= env[m].hosting_mw - 1e-6).all(), m
    # max-min never gives anyone less than the uniform limit, and is fairer than max-total
    assert (env["max_min"].limit_mw.min(axis=0) >= same.limit_mw.min(axis=0) - 1e-6).all()
    assert env["max_min"].jain() >= env["max_total"].jain() - 1e-9
    assert env["proportional_fairness"].jain() >= env["max_total"].jain() - 1e-9
    # every LP method's limits satisfy the linear constraints they were computed under
    a, b = doe._rows(f, st, direction, MARGIN, THERMAL)
    for m in doe.LP_METHODS:
        assert (a[:, cust] @ env[m].limit_mw <= b + 1e-6).all(), m
        assert (env[m].limit_mw >= 0).all() and (env[m].limit_mw <= CAP + 1e-9).all()


@pytest.mark.parametrize("direction", [1, -1])
def test_one_lp_matches_per_period_lps(small_prepared: Prepared, direction: int) -> None:
    """One block-diagonal LP over all periods (rows implied by others dropped, max_min's
    first stage in closed form) gives the optima of the former per-period LPs (max_min's
    first stage an LP with a min variable): the optima are unique even where the limits
    are not (ties between customers)."""
    f, st, cust = _feeder_case(small_prepared, 7)
    one = {m: envelope(f, st, cust, m, direction, margin_pu=MARGIN) for m in doe.LP_METHODS}
    per = {
        m: envelope(f, st, cust, m, direction, margin_pu=MARGIN, per_period=True)
        for m in doe.LP_METHODS
    }
    assert one["max_total"].hosting_mw.max() > 1.0  # a case with something to host
    assert _rel(one["max_total"].hosting_mw, per["max_total"].hosting_mw) < 1e-6
    assert _rel(one["max_min"].limit_mw.min(axis=0), per["max_min"].limit_mw.min(axis=0)) < 1e-6
    assert _rel(one["max_min"].hosting_mw, per["max_min"].hosting_mw) < 1e-6
    pf1 = _pwl_log(f, st, cust, direction, one["proportional_fairness"].limit_mw)
    pf0 = _pwl_log(f, st, cust, direction, per["proportional_fairness"].limit_mw)
    assert _rel(pf1, pf0) < 1e-6
    # several feeders in one LP: the same optima as one LP per feeder
    cases = [_feeder_case(small_prepared, k) for k in (0, 7, 10)]
    together = lp_envelopes(cases, "max_total", direction, margin_pu=MARGIN)
    for (fk, sk, ck), e in zip(cases, together, strict=True):
        alone = envelope(fk, sk, ck, "max_total", direction, margin_pu=MARGIN)
        assert _rel(e.hosting_mw, alone.hosting_mw) < 1e-6


def test_proportional_fairness_hosts_everyone_the_grid_allows(small_prepared: Prepared) -> None:
    """Max-total starves customers the grid would let host something; proportional fairness
    gives a positive limit to every customer who could host alone, and is fairer."""
    starved = 0
    for fpos in (0, 7, 10):
        f, st, cust = _feeder_case(small_prepared, fpos)
        for d in (1, -1):
            tot = envelope(f, st, cust, "max_total", d, margin_pu=MARGIN)
            pf = envelope(f, st, cust, "proportional_fairness", d, margin_pu=MARGIN)
            a, b = doe._rows(f, st, d, MARGIN, THERMAL)
            allowed = doe._alone_mw(a[:, cust], b, CAP) >= doe.MIN_LIMIT_MW
            starved += int((allowed & (tot.limit_mw <= 1e-9)).sum())
            assert (pf.limit_mw[allowed] > 0).all()
            assert (pf.limit_mw[~allowed] == 0).all()
            assert pf.jain() >= tot.jain()
            # no customer gets less than 1 / m_a of what it could host alone (the floor)
            alone = doe._alone_mw(a[:, cust], b, CAP)
            m_a = np.maximum(allowed.sum(axis=0), 1)
            assert (pf.limit_mw[allowed] >= (alone / m_a)[allowed] * (1 - 1e-6)).all()
    assert starved > 100


@pytest.fixture(scope="module")
def report(small_prepared: Prepared) -> DoeReport:
    p = small_prepared
    return doe_report(p.scn, p.ac_model, p.baseline, p.forecast)


def test_verified_envelopes_pass_the_ac_check(small_prepared: Prepared, report: DoeReport) -> None:
    """Every method's verified envelopes of all feeders applied together: no feeder node
    further outside its band than in the forecast, no feeder branch above max(1, forecast
    loading); the static cap, which ignores the grid, fails unscaled far more often."""
    p = small_prepared
    scn, base = p.scn, p.baseline
    nodes = np.concatenate([f.nodes[1:] for f in scn.grid.feeders])
    branches = feeder_branches(p.ac_model, scn) >= 0
    vm0, load0 = base.vm_pu[:, nodes], base.branch_loading[:, branches]
    hi = np.maximum(base.node_vmax[nodes], vm0) + 1e-4
    lo = np.minimum(base.node_vmin[nodes], vm0) - 1e-4
    for r in report.runs:
        delta = np.zeros((scn.grid.n_nodes, scn.periods))
        for f, e in zip(scn.grid.feeders, r.verified.envelopes, strict=True):
            delta[f.nodes[e.nodes]] = e.direction * e.limit_mw
        # under the envelopes' premise: the tap changers where the forecast has them
        ac = p.ac_model.run(scn.node_injection_mw(delta), scn.node_q0_mvar, hold_taps=base.tap_pos)
        key = (r.method, r.direction)
        assert ac.converged.all(), key
        vm = ac.vm_pu[:, nodes]
        assert ((vm <= hi) & (vm >= lo)).all(), key
        assert (ac.branch_loading[:, branches] <= np.maximum(1.0, load0) + 1e-4).all(), key
        for lin, ver in zip(r.linear, r.verified.envelopes, strict=True):
            assert (ver.limit_mw <= lin.limit_mw + 1e-12).all()
    s = report.summary().set_index(["method", "direction"])
    # the grid-aware exports hold in AC as computed (or nearly): the static cap does not
    for m in ("same_for_all", "proportional", "max_total", "max_min", "proportional_fairness"):
        assert s.loc[(m, 1), "ac_pass_share"] >= 0.9, m
    assert s.loc[("static", 1), "ac_pass_share"] < 0.5
    assert s.loc[("static", 1), "min_scale"] < 0.5


def test_report_tables(small_prepared: Prepared, report: DoeReport) -> None:
    scn = small_prepared.scn
    s = report.summary()
    assert len(s) == len(METHODS) * 2
    assert {
        "method",
        "direction",
        "hosting_mw",
        "jain",
        "ac_pass_share",
        "min_scale",
        "compute_s",
    } <= set(s.columns)
    assert set(s.method) == set(METHODS)
    assert (s.hosting_mw <= s.hosting_linear_mw + 1e-9).all()
    assert s.jain.between(0, 1 + 1e-9).all() and s.ac_pass_share.between(0, 1).all()
    assert s.min_scale.between(0, 1).all() and (s.compute_s >= 0).all()
    # max-total hosts the most (linear), proportional fairness is the fairer LP
    lin = s.set_index(["method", "direction"]).hosting_linear_mw
    for d in (1, -1):
        assert lin["max_total", d] >= lin["same_for_all", d] - 1e-6
    js = s.set_index(["method", "direction"]).jain
    assert js["proportional_fairness", -1] > js["max_total", -1]

    n_cust = sum(len(c) for c in customers(scn))
    assert n_cust == sum(len(b) for b in report.customer_bus)
    assert n_cust > 0.9 * sum(f.n - 1 for f in scn.grid.feeders)  # nearly every node
    lim = report.limits()
    assert list(lim.columns) == [
        "method",
        "direction",
        "feeder",
        "bus",
        "period",
        "limit_mw",
        "limit_mw_linear",
    ]
    assert len(lim) == len(METHODS) * 2 * n_cust * scn.periods
    assert (lim.limit_mw >= 0).all() and (lim.limit_mw <= lim.limit_mw_linear + 1e-12).all()
    assert set(lim.feeder.unique()) == {str(f.id) for f in scn.grid.feeders}
    assert set(lim.bus.unique()) <= set(scn.net.bus.index)
    # the long table sums back to the summary's hosting
    host = lim.groupby(["method", "direction"], observed=True).limit_mw.sum() / scn.periods
    hs = s.set_index(["method", "direction"]).hosting_mw
    for key, v in host.items():
        assert v == pytest.approx(hs[key], rel=1e-9)


def test_envelope_rejects_unknown_method(small_prepared: Prepared) -> None:
    f, st, cust = _feeder_case(small_prepared)
    with pytest.raises(ValueError, match="unknown DOE method"):
        envelope(f, st, cust, "nope")
    with pytest.raises(ValueError, match="direction"):
        envelope(f, st, cust, "same_for_all", 2)
    empty = envelope(f, st, cust[:0], "max_total")
    assert isinstance(empty, Envelope) and empty.limit_mw.shape == (0, small_prepared.scn.periods)
