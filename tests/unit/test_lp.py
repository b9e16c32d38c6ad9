from __future__ import annotations

import numpy as np

from tsodso.clearing.lp import LinearProgram, Status, solve


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
