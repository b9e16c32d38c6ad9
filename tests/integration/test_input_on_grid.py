"""Inputs that only the grid can judge, and failures that are reported as outcomes
(issue 11): outages checked together, the voltage margin against the grid's own band, a
JSON file that is no pandapower net, a corrupt grid cache, a model the solver refuses or
that finds no solution within its time limit."""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path

import numpy as np
import pandapower.networks as pn
import pytest

from tests.conftest import feeder_case
from tsodso.clearing.lp import LinearProgram, Status, solve
from tsodso.grids import sources
from tsodso.grids.outage import outage_problems
from tsodso.grids.sources import GridCacheWarning, GridSourceError, load_net
from tsodso.pipeline import prepare, run_model
from tsodso.scenario.domain import Scenario
from tsodso.schema.config import Event, ScenarioConfigError


def test_outages_possible_alone_are_checked_together(small: Scenario) -> None:
    # transformers 4 and 5 feed feeder MV1.104 together: either may trip, not both at once
    t4 = Event(kind="trafo_outage", element=4, first_period=2, last_period=5)
    t5 = Event(kind="trafo_outage", element=5, first_period=4, last_period=6)
    later = Event(kind="trafo_outage", element=5, first_period=6, last_period=7)
    args = (small.net, small.grid)
    assert outage_problems(*args, (t4,), 60.0, 8) == []
    assert outage_problems(*args, (t5,), 60.0, 8) == []
    assert outage_problems(*args, (t4, later), 60.0, 8) == []  # never out together
    (p,) = outage_problems(*args, (t4, t5), 60.0, 8)
    assert p.startswith("events[0] and events[1] (periods 4-5): together, the outages of ")
    assert "trafo 4, trafo 5" in p and "without a transformer in operation" in p


def test_voltage_margin_against_the_grids_band(tmp_path: Path) -> None:
    import pandapower as pp

    net = pn.case33bw()  # its own band narrowed to 0.99..1.01 pu
    net.bus.loc[net.bus.min_vm_pu < 1.0, "min_vm_pu"] = 0.99
    net.bus.loc[net.bus.max_vm_pu > 1.0, "max_vm_pu"] = 1.01
    grid = tmp_path / "narrow.json"
    pp.to_json(net, str(grid))
    with pytest.raises(ScenarioConfigError) as e:
        feeder_case(grid=str(grid), d_voltage_margin_pu=0.015)
    (p,) = e.value.problems
    assert p.startswith("d_voltage_margin_pu = 0.015: leaves no voltage band at feeder")
    assert "0.99..1.01 pu" in p
    assert len(feeder_case(grid=str(grid), d_voltage_margin_pu=0.009).grid.feeders) == 1


def test_a_json_file_that_is_no_pandapower_net(tmp_path: Path) -> None:
    for text in ('{"a": 1}', "[]", "not json", ""):
        f = tmp_path / "grid.json"
        f.write_text(text)
        with pytest.raises(GridSourceError, match="not a pandapower net"):
            load_net(str(f))
    with pytest.raises(GridSourceError, match="is a directory"):
        (tmp_path / "dir.json").mkdir()
        load_net(str(tmp_path / "dir.json"))


def test_a_corrupt_grid_cache_is_rebuilt_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import simbench

    monkeypatch.setenv("TSODSO_CACHE", str(tmp_path))
    built = []

    def fake_source(code: str) -> object:  # a small net stands in for simbench's build
        built.append(code)
        return pn.case33bw()

    monkeypatch.setattr(simbench, "get_simbench_net", fake_source)
    first = sources._simbench_net("X")
    (cached,) = tmp_path.glob("simbench-X-*.pkl")
    cached.write_bytes(b"\x80\x04truncated")
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        again = sources._simbench_net("X")
    assert [w.category for w in said] == [GridCacheWarning]
    assert "could not be read" in str(said[0].message) and "rebuilding" in str(said[0].message)
    assert built == ["X", "X"] and len(again.bus) == len(first.bus)
    assert isinstance(pickle.loads(cached.read_bytes()), type(first))  # a good cache again
    cached.write_bytes(pickle.dumps({"not": "a net"}))
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        sources._simbench_net("X")
    assert "holds a dict, not a grid" in str(said[0].message)


def test_the_solver_refusing_a_model_is_an_outcome() -> None:
    lp = LinearProgram()
    lp.add_variables("x", 2, cost=1.0)
    coef = np.array([1.0, np.inf])  # HiGHS refuses an infinite matrix entry
    lp.add_constraints("r", np.array([0, 0]), np.array([0, 1]), coef, 1, 1.0, 2.0)
    sol = solve(lp)
    assert sol.status == Status.ERROR and "refused" in sol.message
    assert not sol.has_solution and np.isnan(sol.objective)


def test_no_solution_within_the_time_limit_reports_no_numbers() -> None:
    prep = prepare(feeder_case(), time_limit_s=1e-6)
    for model in ("smartnet-a", "smartnet-d", "coordinet-local", "smartnet-d-decentralised"):
        r = run_model(prep, model)
        assert r.outcome.status in (Status.TIME_LIMIT, Status.ERROR)
        assert not r.outcome.has_solution
        assert r.kpis["procurement_cost_eur"] is None and r.kpis["social_welfare_eur"] is None
        assert r.kpis["unresolved_imbalance_mwh"] is None and r.kpis["ledger_total_cents"] is None
        assert r.kpis["wall_time_s"] is not None  # what it took is still a fact
    solved = run_model(prepare(feeder_case()), "smartnet-a")
    assert solved.outcome.has_solution and solved.kpis["procurement_cost_eur"] is not None


def test_a_decomposition_without_the_balancing_need_runs() -> None:
    # found by the fuzz suite: the master added exchanges to a balance row it did not have
    from tsodso.coordination.catalogue import ModelPreset
    from tsodso.schema.mechanism import Mechanism

    mech = Mechanism(
        operator="separate",
        sequence="iterative",
        d_constraints="full",
        d_path="platform",
        interface="priced_flow",  # what the iterative family exchanges (issue 12)
        needs=("t_congestion", "voltage"),
    )
    r = run_model(prepare(feeder_case()), ModelPreset("m", "m", "user", "s", "d", mech))
    assert r.outcome.has_solution and r.kpis["ledger_total_cents"] == 0


def test_a_market_with_nothing_to_decide_is_optimal() -> None:
    sol = solve(LinearProgram())
    assert sol.status == Status.OPTIMAL and sol.objective == 0.0


def test_a_feeder_loaded_far_beyond_its_band_still_clears() -> None:
    # found by the fuzz suite: at 7x load the linear squared voltage at the end of case33bw
    # falls below zero; the market must price that as a violation, not be infeasible
    prep = prepare(feeder_case(periods=1, first_period=0, load_scale=7.0))
    for model in ("coordinet-local", "smartnet-d"):
        r = run_model(prep, model)
        assert str(r.outcome.status) == "optimal", model
        # the AC check still shows the feeder broken: no converged flow, or violations
        assert r.kpis["ac_unconverged_periods"] + r.kpis["voltage_violations"] > 0
