from __future__ import annotations

import numpy as np

from tsodso.clearing.lp import LinearProgram, Solver, Status, solve


def test_optimal_with_duals() -> None:
    lp = LinearProgram()
    x = lp.add_variables("x", 2, lo=0, hi=10, cost=np.array([1.0, 3.0]))
    lp.add_constraints("demand", np.array([0, 0]), x, np.array([1.0, 1.0]), 1, 12.0, 12.0)
    sol = solve(lp)
    assert sol.status == Status.OPTIMAL
    assert np.allclose(sol.x, [10, 2])
    assert np.isclose(sol.objective, 16)
    assert np.isclose(sol.duals[0], 3.0)  # marginal unit comes from the dearer column


def test_infeasible_is_an_outcome_not_an_exception() -> None:
    lp = LinearProgram()
    x = lp.add_variables("x", 1, lo=0, hi=1)
    lp.add_constraints("too_much", np.array([0]), x, np.array([1.0]), 1, 5.0, 5.0)
    sol = solve(lp)
    assert sol.status == Status.INFEASIBLE
    assert not sol.has_solution


def test_duplicate_block_names_rejected() -> None:
    lp = LinearProgram()
    lp.add_variables("x", 1)
    try:
        lp.add_variables("x", 1)
    except KeyError:
        return
    raise AssertionError("duplicate name accepted")


def test_warm_solver_follows_changed_bounds_and_added_rows() -> None:
    lp = LinearProgram()
    x = lp.add_variables("x", 2, lo=0, hi=10, cost=np.array([1.0, 3.0]))
    lp.add_constraints("demand", np.array([0, 0]), x, np.array([1.0, 1.0]), 1, 12.0, 12.0)
    s = Solver(lp)
    assert np.isclose(s.solve().objective, 16)
    s.set_row_bounds("demand", 15.0, 15.0)  # cheap unit full, 5 from the dear one
    sol = s.solve()
    assert np.allclose(sol.x, [10, 5]) and np.isclose(sol.objective, 25)
    # a cut: the cheap unit may give at most 8; the dear one takes the rest
    s.add_rows("cap", np.array([0]), x[:1], np.array([1.0]), 1, -np.inf, 8.0)
    sol = s.solve()
    assert np.allclose(sol.x, [8, 7]) and np.isclose(sol.objective, 29)
    assert lp.constraints["cap"] == slice(1, 2)  # the program knows the new block
    assert np.isclose(solve(lp).objective, 29)  # and a cold solve of it agrees


def test_time_limit_is_per_solve_not_per_solver_lifetime() -> None:
    """HiGHS (< 2.0) checks its time limit against all runs of one instance together; a
    Solver re-solved many times (a decomposition's master) must still get its full limit
    on every solve."""
    rng = np.random.default_rng(0)
    m = n = 60  # transport problem: m supplies, n demands, m*n routes
    lp = LinearProgram()
    x = lp.add_variables("x", m * n, lo=0, hi=np.inf, cost=rng.uniform(1, 10, m * n))
    i, j = np.divmod(np.arange(m * n), n)
    lp.add_constraints("supply", i, x, np.ones(m * n), m, -np.inf, 2.0)
    lp.add_constraints("demand", j, x, np.ones(m * n), n, 1.0, 1.0)
    first = solve(lp)
    limit = max(0.25, 8 * (first.solve_s + 0.01))
    solver = Solver(lp, time_limit_s=limit, presolve=False)
    spent = 0.0
    while spent < 2 * limit:  # together far beyond one limit
        solver.h.clearSolver()  # no warm start: every run costs a full solve
        sol = solver.solve()
        spent += sol.solve_s
        assert sol.status == Status.OPTIMAL
        assert np.isclose(sol.objective, first.objective)
