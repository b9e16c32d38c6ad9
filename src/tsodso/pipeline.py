"""The one orchestrator: scenario -> registration and prequalification -> baseline AC
forecast -> coordination model -> stacking, dispatch, delivery, baselines, settlement
(``lifecycle``) -> AC check of what was delivered -> KPIs. Every step returns a new
object; nothing is written back.
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
from tsodso.coordination.outcome import MarketContext, ModelOutcome
from tsodso.grids.distflow import lindistflow
from tsodso.grids.model import dc_flows
from tsodso.kpi.metrics import compute_kpis
from tsodso.lifecycle import Lifecycle, run_lifecycle
from tsodso.operation.contingency import RealTime
from tsodso.registration.grid import GridCheck, static_hosting_check
from tsodso.registration.products import Registry, register
from tsodso.scenario.domain import Scenario
from tsodso.scenario.history import der_history
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
    """A registered scenario (only prequalified offers), the DSO's grid prequalification,
    the AC model and the baseline (no flexibility) AC power flow: the operators' forecast."""

    scn: Scenario
    registry: Registry
    grid_check: GridCheck
    ac_model: AcModel
    baseline: AcResult
    ctx: MarketContext
    realtime: RealTime
    outcomes: dict[str, ModelOutcome] = field(default_factory=dict, compare=False, repr=False)
    _history: dict[str, np.ndarray] = field(default_factory=dict, compare=False, repr=False)

    def history_mw(self) -> np.ndarray | None:
        """(D, Y, T) DER history for the X-of-Y baseline (None where the scenario day has
        too few earlier days of its type); read once."""
        if "h" not in self._history:
            try:
                self._history["h"] = der_history(self.scn, self.scn.config.settlement.history_days)[
                    0
                ]
            except ValueError:
                self._history["h"] = np.zeros(0)
        h = self._history["h"]
        return h if h.size else None


@dataclass(frozen=True)
class RunResult:
    model: ModelPreset
    outcome: ModelOutcome
    life: Lifecycle
    ac: AcResult  # of what was delivered
    kpis: dict[str, float | int | None]


def prepare(scn: Scenario, time_limit_s: float = 300.0) -> Prepared:
    """Register every DER (withdrawing offers that fail the product prequalification),
    then run the baseline AC power flow once: its root voltages are the DSOs' forecast."""
    registry = register(scn)
    scn = registry.apply(scn)
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
    grid_check = static_hosting_check(scn, scn.bids, root_vm, offsets)
    realtime = RealTime.of(scn, ac_model)
    return Prepared(scn, registry, grid_check, ac_model, base, ctx, realtime)


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


def run_model(prep: Prepared, model: ModelPreset | str, with_history: bool = False) -> RunResult:
    """Run one coordination model on a prepared scenario, from clearing to settlement.
    ``with_history`` also computes the historical baseline when it does not settle."""
    preset = get_model(model) if isinstance(model, str) else model
    family = FAMILIES[preset.mechanism.family]
    t0 = time.perf_counter()
    key = repr(preset.mechanism)
    outcome = prep.outcomes.get(key)
    if outcome is None:  # presets that share a mechanism share its outcome
        outcome = family(prep.ctx, preset.mechanism)
        prep.outcomes[key] = outcome
    scn = prep.scn
    needs_history = scn.config.settlement.baseline == "historical" or with_history
    history = prep.history_mw() if needs_history else None
    life = run_lifecycle(scn, preset.mechanism, outcome, history, prep.ac_model, prep.realtime)
    delta = life.delivery.node_delta_mw(scn)
    ac = prep.ac_model.run(
        scn.node_injection_mw(delta),
        scn.node_q0_mvar,
        out_of_service=prep.realtime.out_of_service,
    )
    wall = time.perf_counter() - t0
    return RunResult(preset, outcome, life, ac, compute_kpis(scn, outcome, life, ac, wall))
