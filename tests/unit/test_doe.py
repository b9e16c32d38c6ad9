"""Dynamic operating envelopes: closed forms vs the LP reference, fairness, and every
grid-aware method verified with the AC power flow at the envelope limits."""

from __future__ import annotations

import numpy as np
import pytest

from tsodso.envelopes.doe import METHODS, envelope
from tsodso.envelopes.verify import _ok, ac_verified
from tsodso.grids.distflow import FeederState, lindistflow
from tsodso.pipeline import Prepared


def _feeder_case(prep: Prepared, fpos: int = 0):  # type: ignore[no-untyped-def]
    scn, ctx = prep.scn, prep.ctx
    f = scn.grid.feeders[fpos]
    p, q = scn.node_injection_mw(), scn.node_q0_mvar
    st = lindistflow(f, p[f.nodes], q[f.nodes], ctx.root_vm_pu[fpos])
    st = FeederState(st.v2 + ctx.v2_offset[fpos], st.p_flow, st.q_flow)
    load_nodes = set(scn.grid.bus_to_node.loc[scn.net.load.bus].tolist())
    customers = np.array([i for i in range(1, f.n) if int(f.nodes[i]) in load_nodes])
    return scn, f, st, customers


@pytest.mark.parametrize("direction", [1, -1])
def test_methods_order_and_fairness(small_prepared: Prepared, direction: int) -> None:
    _, f, st, cust = _feeder_case(small_prepared)
    env = {m: envelope(f, st, cust, m, direction) for m in METHODS}
    same = env["same_for_all"]
    assert same.jain() == pytest.approx(1.0)
    assert env["static"].jain() == pytest.approx(1.0)
    # the LP optimum hosts at least what any closed form hosts (they are feasible for it)
    assert (env["max_total"].hosting_mw >= same.hosting_mw - 1e-6).all()
    assert (env["max_total"].hosting_mw >= env["proportional"].hosting_mw - 1e-6).all()
    # max-min never gives anyone less than the uniform limit
    assert (env["max_min"].limit_mw.min(axis=0) >= same.limit_mw.min(axis=0) - 1e-6).all()
    assert env["max_min"].jain() >= env["max_total"].jain() - 1e-9


def test_limits_pass_the_ac_check(small_prepared: Prepared) -> None:
    """Every grid-aware method, AC-verified: the verified limits pass the AC check, and the
    linear model alone is close (the verification scales by at most 20 %)."""
    scn, f, st, cust = _feeder_case(small_prepared)
    base = small_prepared.baseline
    checked = 0
    for direction in (1, -1):
        for m in ("same_for_all", "proportional", "max_total", "max_min"):
            env = envelope(f, st, cust, m, direction)
            if env.hosting_mw.max() < 1e-3:
                continue
            ver, scale = ac_verified(
                env, small_prepared.ac_model, scn, 0, base.vm_pu, base.branch_loading
            )
            assert scale.min() >= 0.8, (m, direction, scale)
            assert (ver.limit_mw <= env.limit_mw + 1e-12).all()
            vm0 = base.vm_pu[:, f.nodes[1:]]
            ok = _ok(
                small_prepared.ac_model, scn, 0, ver, np.ones(scn.periods), vm0, base.branch_loading
            )
            assert ok.all(), (m, direction)
            checked += 1
    assert checked >= 4
