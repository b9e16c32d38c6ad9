"""AC verification of dynamic operating envelopes: every customer at its limit at once,
checked with the AC power flow of the whole grid; where the linear model was optimistic,
the period's limits are scaled down (bisection) until the AC check passes.

Owns: the AC-verified envelope. Must not: compute envelopes (``envelopes.doe`` does).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from tsodso.envelopes.doe import Envelope
from tsodso.scenario.domain import Scenario
from tsodso.validation.ac import AcModel

BISECTION_STEPS = 10


def _ok(
    ac_model: AcModel,
    scn: Scenario,
    fpos: int,
    env: Envelope,
    scale: np.ndarray,
    vm0: np.ndarray,
    load0: np.ndarray,
) -> np.ndarray:
    """Per period: no node of the feeder further outside its band than in the forecast and
    no branch of the feeder (TDI transformer included) above its rating or forecast."""
    f = scn.grid.feeders[fpos]
    delta = np.zeros((scn.grid.n_nodes, scn.periods))
    delta[f.nodes[env.nodes]] = env.direction * env.limit_mw * scale[None, :]
    ac = ac_model.run(scn.node_injection_mw() + delta, scn.node_q0_mvar)
    nodes = f.nodes[1:]
    vm = ac.vm_pu[:, nodes]
    hi = np.maximum(ac.node_vmax[nodes], vm0) + 1e-4
    lo = np.minimum(ac.node_vmin[nodes], vm0) - 1e-4
    volt = ((vm <= hi) & (vm >= lo)).all(axis=1)
    mask = _feeder_branches(ac_model, scn, fpos)
    load = ac.branch_loading[:, mask]
    therm = (load <= np.maximum(1.0, load0[:, mask]) + 1e-4).all(axis=1)
    ok: np.ndarray = volt & therm & ac.converged
    return ok


def _feeder_branches(ac_model: AcModel, scn: Scenario, fpos: int) -> np.ndarray:
    lines = set(scn.grid.feeders[fpos].branch_element[1:].tolist())
    root_bus = set(
        scn.net.trafo.index[
            scn.grid.bus_to_node.loc[scn.net.trafo.lv_bus].to_numpy()
            == scn.grid.feeders[fpos].nodes[0]
        ].tolist()
    )
    return np.array(
        [
            (k == "line" and int(e) in lines) or (k == "trafo" and int(e) in root_bus)
            for k, e in zip(ac_model.branch_kind, ac_model.branch_element, strict=True)
        ]
    )


def ac_verified(
    env: Envelope,
    ac_model: AcModel,
    scn: Scenario,
    fpos: int,
    baseline_vm: np.ndarray,
    baseline_loading: np.ndarray,
) -> tuple[Envelope, np.ndarray]:
    """The envelope scaled per period so that the AC check passes; also the scale (T,)."""
    f = scn.grid.feeders[fpos]
    vm0 = baseline_vm[:, f.nodes[1:]]
    scale = np.ones(scn.periods)
    ok = _ok(ac_model, scn, fpos, env, scale, vm0, baseline_loading)
    if ok.all():
        return env, scale
    lo = np.where(ok, 1.0, 0.0)
    hi = np.ones(scn.periods)
    for _ in range(BISECTION_STEPS):
        mid = np.where(ok, 1.0, 0.5 * (lo + hi))
        good = _ok(ac_model, scn, fpos, env, mid, vm0, baseline_loading)
        lo = np.where(~ok & good, mid, lo)
        hi = np.where(~ok & ~good, mid, hi)
    scale = np.where(ok, 1.0, lo)
    return dataclasses.replace(env, limit_mw=env.limit_mw * scale[None, :]), scale
