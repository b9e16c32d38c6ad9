"""The one orchestrator: scenario -> baseline AC forecast -> coordination model ->
dispatch -> AC check -> KPIs. Every step returns a new object; nothing is written back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from tsodso.coordination.catalogue import CATALOGUE, get_model
from tsodso.coordination.families.central import run_central
from tsodso.coordination.families.joint import run_joint
from tsodso.coordination.mechanism import Mechanism, ModelPreset
from tsodso.coordination.outcome import MarketContext, ModelOutcome
from tsodso.grids.distflow import lindistflow
from tsodso.kpi.metrics import compute_kpis
from tsodso.scenario.domain import Scenario
from tsodso.validation.ac import AcModel, AcResult

Family = Callable[[MarketContext, Mechanism], ModelOutcome]

#: mechanism family -> implementation (MODELS.md section 3)
FAMILIES: dict[str, Family] = {
    "central": run_central,
    "joint": run_joint,
}


class UnsupportedModel(ValueError):
    """The model's mechanism family has no implementation yet."""


@dataclass(frozen=True)
class Prepared:
    """A scenario with its AC model and the baseline (no flexibility) AC power flow."""

    scn: Scenario
    ac_model: AcModel
    baseline: AcResult
    ctx: MarketContext


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
    return Prepared(scn, ac_model, base, MarketContext(scn, root_vm, offsets, time_limit_s))


def runnable(model: ModelPreset) -> bool:
    return model.mechanism.family in FAMILIES


def run_model(prep: Prepared, model: ModelPreset | str) -> RunResult:
    """Run one coordination model on a prepared scenario."""
    preset = get_model(model) if isinstance(model, str) else model
    family = FAMILIES.get(preset.mechanism.family)
    if family is None:
        raise UnsupportedModel(
            f"model {preset.id!r} needs the {preset.mechanism.family!r} family, "
            f"not implemented yet (implemented: {', '.join(sorted(FAMILIES))})"
        )
    t0 = time.perf_counter()
    outcome = family(prep.ctx, preset.mechanism)
    scn = prep.scn
    delta = _delta(scn, outcome)
    ac = prep.ac_model.run(scn.node_injection_mw(delta), scn.node_q0_mvar)
    wall = time.perf_counter() - t0
    return RunResult(preset, outcome, ac, compute_kpis(scn, outcome, ac, wall))


def _delta(scn: Scenario, outcome: ModelOutcome):
    import numpy as np

    d = np.zeros((scn.grid.n_nodes, scn.periods))
    b = scn.bids
    np.add.at(d, (b.node, b.period), b.direction * outcome.accepted_mw)
    return d


def all_model_ids() -> list[str]:
    return list(CATALOGUE)
