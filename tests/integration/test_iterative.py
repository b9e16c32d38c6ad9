"""The decomposition settles the interface exchange only when TSO and DSOs agree."""

from __future__ import annotations

import pytest

from tsodso.coordination.families import iterative
from tsodso.pipeline import Prepared, run_model


def test_unconverged_decomposition_pays_no_interface_exchange(
    small_prepared: Prepared, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(iterative, "MAX_ITERATIONS", 15)  # far from converged
    out = run_model(small_prepared, "smartnet-d-decentralised").outcome
    assert str(out.status) == "time_limit"
    (transfer,) = out.transfers
    assert transfer.eur == 0.0
    assert out.iterations == 15
