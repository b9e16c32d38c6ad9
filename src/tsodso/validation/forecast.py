"""The operators' forecast (``grids.forecast.GridForecast``) from the baseline AC power flow.

Owns: calibrating each DSO's LinDistFlow model to the AC forecast and the TSO's DC ratings
to its AC loading. Must not: know about markets.
"""

from __future__ import annotations

import numpy as np

from tsodso.grids.distflow import lindistflow
from tsodso.grids.forecast import GridForecast
from tsodso.grids.model import CoupledGrid, dc_flows
from tsodso.validation.ac import AcModel, AcResult


def operators_forecast(
    grid: CoupledGrid, ac_model: AcModel, p_mw: np.ndarray, q_mvar: np.ndarray
) -> tuple[GridForecast, AcResult]:
    """The baseline AC power flow of node injections ``p_mw``/``q_mvar`` (N, T) and the
    forecast calibrated to it: root voltages, LinDistFlow offsets and DC rating factors."""
    base = ac_model.run(p_mw, q_mvar)
    roots = [f.nodes[0] for f in grid.feeders]
    root_vm = base.vm_pu[:, roots].T if roots else base.vm_pu[:, :0].T
    offsets = tuple(
        base.vm_pu[:, f.nodes].T ** 2
        - lindistflow(f, p_mw[f.nodes], q_mvar[f.nodes], root_vm[k]).v2
        for k, f in enumerate(grid.feeders)
    )
    # a period whose baseline AC flow did not converge has no AC forecast: the operators
    # fall back to their linear models there (1 pu at the roots, no calibration)
    root_vm = np.nan_to_num(root_vm, nan=1.0)
    offsets = tuple(np.nan_to_num(o, nan=0.0) for o in offsets)
    return GridForecast(root_vm, offsets, dc_rating_factor(grid, ac_model, base, p_mw)), base


def dc_rating_factor(
    grid: CoupledGrid, ac_model: AcModel, base: AcResult, p_mw: np.ndarray
) -> np.ndarray:
    """Per transmission branch and period: |DC flow| / AC apparent power at the forecast,
    in [0.5, 1] (1 where the branch is lightly loaded, < 10 %, or not in the AC model).
    Reactive flows and off-nominal voltages load a line beyond its active power; the TSO's
    DC limit is tightened by what its AC forecast shows."""
    tg = grid.transmission
    T = p_mw.shape[1]
    factor = np.ones((tg.n_branch, T))
    if tg.n_branch == 0:
        return factor
    dc = np.abs(dc_flows(grid, p_mw))  # (m, T)
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
