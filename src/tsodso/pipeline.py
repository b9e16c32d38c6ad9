"""The one orchestrator: scenario -> baseline AC forecast -> coordination model ->
dispatch -> AC check -> KPIs. Every step returns a new object; nothing is written back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from tsodso.coordination.catalogue import get_model
from tsodso.coordination.families.central import run_central
from tsodso.coordination.families.implicit import run_implicit
from tsodso.coordination.families.iterative import run_iterative
from tsodso.coordination.families.joint import run_joint
from tsodso.coordination.families.parallel import run_parallel
from tsodso.coordination.families.sequential import run_sequential
from tsodso.coordination.mechanism import Mechanism, ModelPreset
from tsodso.coordination.outcome import MarketContext, ModelOutcome, delta_mw
from tsodso.grids.distflow import lindistflow
from tsodso.grids.model import dc_flows
from tsodso.kpi.metrics import compute_kpis
from tsodso.scenario.domain import Scenario
from tsodso.validation.ac import AcModel, AcResult

Family = Callable[[MarketContext, Mechanism], ModelOutcome]

#: mechanism family -> implementation (MODELS.md section 3)
FAMILIES: dict[str, Family] = {
    "central": run_central,
    "joint": run_joint,
    "sequential": run_sequential,
    "parallel": run_parallel,
    "local": run_parallel,  # a local market is the fragmented case: d_path = none
    "implicit": run_implicit,
    "iterative": run_iterative,
}


@dataclass(frozen=True)
class Prepared:
    """A scenario with its AC model and the baseline (no flexibility) AC power flow."""

    scn: Scenario
    ac_model: AcModel
    baseline: AcResult
    ctx: MarketContext
    outcomes: dict[str, ModelOutcome] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class RunResult:
    model: ModelPreset
    outcome: ModelOutcome
    ac: AcResult
    kpis: dict[str, float | int]


def prepare(scn: Scenario, time_limit_s: float = 300.0) -> Prepared:
    """Run the baseline AC power flow once; its root voltages are the DSOs' forecast."""
    ac_model = AcModel(scn.net, scn.grid, scn.dt_h)
    base = ac_model.run(scn.node_injection_mw(), scn.node_q0_mvar)
    roots = [f.nodes[0] for f in scn.grid.feeders]
    root_vm = base.vm_pu[:, roots].T if roots else base.vm_pu[:, :0].T
    p, q = scn.node_injection_mw(), scn.node_q0_mvar
    offsets = tuple(
        base.vm_pu[:, f.nodes].T ** 2 - lindistflow(f, p[f.nodes], q[f.nodes], root_vm[k]).v2
        for k, f in enumerate(scn.grid.feeders)
    )
    factor = _dc_rating_factor(scn, ac_model, base)
    ctx = MarketContext(scn, root_vm, offsets, factor, time_limit_s)
    return Prepared(scn, ac_model, base, ctx)


def _dc_rating_factor(scn: Scenario, ac_model: AcModel, base: AcResult) -> np.ndarray:
    """Per transmission branch and period: |DC flow| / AC apparent power at the forecast,
    in [0.5, 1] (1 where the branch is lightly loaded, < 10 %, or not in the AC model).
    Reactive flows and off-nominal voltages load a line beyond its active power; the TSO's
    DC limit is tightened by what its AC forecast shows."""
    tg = scn.grid.transmission
    T = scn.periods
    factor = np.ones((tg.n_branch, T))
    if tg.n_branch == 0:
        return factor
    dc = np.abs(dc_flows(scn.grid, scn.node_injection_mw()))  # (m, T)
    pos = {
        (k, int(e)): i
        for i, (k, e) in enumerate(zip(ac_model.branch_kind, ac_model.branch_element, strict=True))
    }
    for b in range(tg.n_branch):
        i = pos.get((str(tg.branch_kind[b]), int(tg.branch_element[b])))
        if i is None:
            continue
        s_ac = base.branch_loading[:, i] * base.branch_rating_mva[i]
        with np.errstate(divide="ignore", invalid="ignore"):
            f = np.where(base.branch_loading[:, i] > 0.1, dc[b] / s_ac, 1.0)
        factor[b] = np.clip(np.nan_to_num(f, nan=1.0), 0.5, 1.0)
    return factor


def run_model(prep: Prepared, model: ModelPreset | str) -> RunResult:
    """Run one coordination model on a prepared scenario."""
    preset = get_model(model) if isinstance(model, str) else model
    family = FAMILIES[preset.mechanism.family]
    t0 = time.perf_counter()
    key = repr(preset.mechanism)
    outcome = prep.outcomes.get(key)
    if outcome is None:  # presets that share a mechanism share its outcome
        outcome = family(prep.ctx, preset.mechanism)
        prep.outcomes[key] = outcome
    scn = prep.scn
    delta = delta_mw(scn, outcome.accepted_mw)
    ac = prep.ac_model.run(scn.node_injection_mw(delta), scn.node_q0_mvar)
    wall = time.perf_counter() - t0
    return RunResult(preset, outcome, ac, compute_kpis(scn, outcome, ac, wall))
