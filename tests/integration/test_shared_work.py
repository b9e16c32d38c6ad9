"""Work that several presets share is done once per prepared scenario, exactly: identical
clearings (by what the LP reads) and identical feeder cost-curve sweeps (issue 13)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tsodso.comparison import compare
from tsodso.coordination.catalogue import get_model
from tsodso.pipeline import Prepared, RunResult, prepare, run_model
from tsodso.scenario.domain import Scenario
from tsodso.schema.mechanism import Mechanism


def test_a_tso_only_clearing_is_the_same_problem_whichever_feeder_data_its_operator_holds(
    small_prepared: Prepared,
) -> None:
    ctx, scn = small_prepared.ctx, small_prepared.scn
    operational = get_model("smartnet-d").mechanism
    planning = get_model("future-worlds-e").mechanism
    assert operational.d_model == "operational" and planning.d_model == "planning"
    assert ctx.forecast_for(operational) is not ctx.forecast_for(planning)
    # no feeder modelled: the LP reads no feeder calibration, so one solve serves both
    tso_op = ctx.problem(scn.bids, operational, feeders=())
    tso_pl = ctx.problem(scn.bids, planning, feeders=())
    assert tso_op.digest() == tso_pl.digest()
    # with the feeders modelled the calibration is part of the problem
    joint_op = ctx.problem(scn.bids, operational, feeders=ctx.all_feeders)
    joint_pl = ctx.problem(scn.bids, planning, feeders=ctx.all_feeders)
    assert joint_op.digest() != joint_pl.digest()


def test_a_feeder_curve_sweep_is_solved_once_and_reused_exactly(small: Scenario) -> None:
    base = get_model("smartnet-b").at_stages("single")
    # the same curves under another pricing rule: a different mechanism, the same sweep
    assert base.mechanism.pricing != "pay_as_clear"
    mech = Mechanism(**{**base.mechanism.model_dump(), "pricing": "pay_as_clear"})
    variant = dataclasses.replace(base, mechanism=mech)
    shared = prepare(small)
    run_model(shared, base)
    sweeps = shared.ctx.cache.n_memo
    assert sweeps > 0
    reused = run_model(shared, variant)
    assert shared.ctx.cache.n_memo == sweeps  # no new sweep
    alone = run_model(prepare(small), variant)  # the variant on a fresh scenario
    assert np.array_equal(reused.outcome.accepted_mw, alone.outcome.accepted_mw)
    assert reused.kpis["procurement_cost_eur"] == alone.kpis["procurement_cost_eur"]
    # the reused sweep's records are the fresh sweep's (names, operators, objectives)

    def records(run: RunResult) -> list[tuple[str, str, str, float]]:
        return [(s.name, s.operator, s.status, s.objective_eur) for s in run.outcome.steps]

    assert any(r[0].startswith("curve") for r in records(reused))
    assert records(reused) == records(alone)


def test_models_run_at_once_give_what_each_gives_alone(
    small: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    # presets that share clearings, curve sweeps and whole outcomes, run on 3 threads
    ids = ["smartnet-d", "coordinet-common", "smartnet-e", "future-worlds-e", "smartnet-b"]
    ids += ["future-worlds-a", "smartnet-a"]
    monkeypatch.setenv("TSODSO_MODEL_THREADS", "3")
    together = compare(prepare(small), ids)
    monkeypatch.setenv("TSODSO_MODEL_THREADS", "1")
    alone = compare(prepare(small), ids)
    assert [r.model.id for r in together.runs] == ids
    for a, b in zip(together.runs, alone.runs, strict=True):
        assert np.array_equal(a.outcome.accepted_mw, b.outcome.accepted_mw), a.model.id
        ka = {k: v for k, v in a.kpis.items() if not k.endswith("_s")}
        kb = {k: v for k, v in b.kpis.items() if not k.endswith("_s")}
        assert ka == kb, a.model.id
    # the clearings the presets share were solved once on the threaded run too
    assert len(together.prepared.ctx.cache) == len(alone.prepared.ctx.cache)
