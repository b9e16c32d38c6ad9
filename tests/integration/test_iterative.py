"""The decomposition settles the interface exchange only when TSO and DSOs agree."""

from __future__ import annotations

import pytest

from tsodso.coordination.catalogue import get_model
from tsodso.coordination.families import iterative
from tsodso.pipeline import Prepared, run_model


def test_unconverged_decomposition_pays_no_interface_exchange(
    small_prepared: Prepared, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(iterative, "MAX_ITERATIONS", 3)  # far from converged
    try:
        out = run_model(
            small_prepared, get_model("smartnet-d-decentralised").at_stages("single")
        ).outcome
    finally:  # the shared prepared scenario must not keep this unconverged outcome
        small_prepared.cache.outcomes.clear()
        small_prepared.cache.encodings.clear()
    assert str(out.status) == "time_limit"
    assert len(out.transfers) == small_prepared.scn.dsos.n  # one per DSO
    assert all(t.eur == 0.0 for t in out.transfers)
    assert out.iterations == 3


def test_decomposition_brackets_and_reaches_the_joint_optimum(
    small_prepared: Prepared,
) -> None:
    # the joint market clears the same bids and needs in one LP: its optimum lies between
    # the decomposition's lower bound and its best cost, which are within GAP of each other
    joint = (
        run_model(small_prepared, get_model("smartnet-d").at_stages("single"))
        .outcome.steps[0]
        .objective_eur
    )
    r = run_model(small_prepared, get_model("smartnet-d-decentralised").at_stages("single"))
    k = r.kpis
    lb, best = float(k["decomposition_lower_bound_eur"]), float(k["decomposition_best_eur"])
    assert str(r.outcome.status) == "optimal"
    assert lb <= joint * (1 + 1e-6) and joint <= best * (1 + 1e-6)
    assert best - lb <= iterative.GAP * best and k["decomposition_gap"] <= iterative.GAP
    assert 1 < r.outcome.iterations < iterative.MAX_ITERATIONS


def test_box_interior_is_exact() -> None:
    import numpy as np

    lo, hi = np.zeros((1, 3)), np.full((1, 3), 10.0)
    centre, half = np.full((1, 3), 5.0), np.full((1, 3), 1.0)
    assert iterative._interior(np.array([[5.0, 4.5, 5.9]]), centre, half, lo, hi)
    assert not iterative._interior(np.array([[5.0, 4.0, 5.0]]), centre, half, lo, hi)
    # the master at the range's own edge (the box reaches beyond it) is inside the box
    at_range = np.array([[0.5, 5.0, 5.0]])
    assert iterative._interior(np.array([[0.0, 5.0, 5.0]]), at_range, half, lo, hi)
