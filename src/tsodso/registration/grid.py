"""Grid prequalification by the DSO: does the full activation of an offer, alone, keep the
feeder within its limits at the DSO's forecast? (static hosting check, MODELS.md section 5)

For each distribution bid, the DSO's calibrated LinDistFlow forecast is moved by the bid's
full quantity; the bid fails when that creates a new violation or worsens an existing one
(voltage band or branch rating, no margin). A DER direction fails for the whole day if it
fails in any period (static). The reason names the first period, the limit and where.

Owns: the check and its reasons. Must not: decide what a market does with them
(``coordination.filters`` applies them for ``d_constraints = static_prequal``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tsodso.grids.distflow import FeederState, lindistflow, sensitivities
from tsodso.grids.forecast import GridForecast
from tsodso.grids.model import Feeder
from tsodso.scenario.domain import Scenario
from tsodso.schema.tables import BidTable

_LIMITS = ("voltage above band", "voltage below band", "branch rating")


@dataclass(frozen=True)
class GridCheck:
    """Per bid: blocked for the day; per failing DER direction: why."""

    blocked: np.ndarray  # bool per bid of the checked table
    reasons: pd.DataFrame  # der, direction, feeder, period, limit, where, excess

    def blocked_ders(self) -> np.ndarray:
        """Positions of DERs with at least one blocked direction."""
        return np.unique(self.reasons.der_pos.to_numpy(dtype=int))


def excess(
    f: Feeder, st: FeederState, margin_v: float = 0.0, margin_th: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distance beyond the (margin-tightened) limits: over-voltage, under-voltage (pu^2),
    thermal (MW), each (n, T); positive = stressed. The root row never counts."""
    vmax2 = (f.vmax_pu - margin_v)[:, None] ** 2
    vmin2 = (f.vmin_pu + margin_v)[:, None] ** 2
    over = st.v2 - vmax2
    under = vmin2 - st.v2
    rating = np.where(np.isfinite(f.rating_mva), f.rating_mva, 1e9)[:, None] * (1 - margin_th)
    pmax = np.sqrt(np.maximum(rating**2 - st.q_flow**2, 0.0))
    th = np.abs(st.p_flow) - pmax
    over[0] = under[0] = th[0] = -np.inf
    return over, under, th


def forecast_state(
    scn: Scenario,
    fpos: int,
    forecast: GridForecast,
    base_delta_mw: np.ndarray | None = None,
) -> FeederState:
    """The DSO's forecast of feeder ``fpos``: LinDistFlow of the baseline (moved by
    ``base_delta_mw``) from the forecast root voltage, calibrated to the AC forecast."""
    f = scn.grid.feeders[fpos]
    p = scn.node_p0_mw if base_delta_mw is None else scn.node_p0_mw + base_delta_mw
    st = lindistflow(f, p[f.nodes], scn.node_q0_mvar[f.nodes], forecast.root_vm_pu[fpos])
    return FeederState(st.v2 + forecast.v2_offset[fpos], st.p_flow, st.q_flow)


def static_hosting_check(
    scn: Scenario,
    bids: BidTable,
    forecast: GridForecast,
    base_delta_mw: np.ndarray | None = None,
) -> GridCheck:
    """Grid prequalification of ``bids`` (transmission bids always pass)."""
    blocked = np.zeros(len(bids), dtype=bool)
    layer = scn.grid.node_layer[bids.node]
    rows: list[pd.DataFrame] = []
    for fpos, f in enumerate(scn.grid.feeders):
        in_f = np.flatnonzero(layer == fpos)
        if not len(in_f):
            continue
        st = forecast_state(scn, fpos, forecast, base_delta_mw)
        dv2, dfl = sensitivities(f)
        local = f.local_index(scn.grid.n_nodes)
        j = local[bids.node[in_f]]
        t = bids.period[in_f]
        up = bids.direction[in_f] > 0
        dq = bids.q_max_mw[in_f] * np.where(up, 1.0, -1.0)
        # new excess per (node or branch, bid) for each limit; a bid fails where its push
        # is positive and the limit ends up broken
        worst = np.full((3, len(in_f)), -np.inf)
        where = np.zeros((3, len(in_f)), dtype=int)
        over, under, th = excess(f, st)
        for k, (delta, ex) in enumerate(
            (
                (dv2[:, j] * dq, over),
                (-dv2[:, j] * dq, under),
                (np.sign(st.p_flow[:, t]) * dfl[:, j] * dq, th),
            )
        ):
            new = np.where(delta > 1e-9, ex[:, t] + delta, -np.inf)
            where[k] = new.argmax(axis=0)
            worst[k] = new.max(axis=0)
        fail = (worst > 1e-9).any(axis=0)
        der = bids.der[in_f]
        key = der * 2 + up
        failed_keys = np.unique(key[fail])
        blocked[in_f[np.isin(key, failed_keys)]] = True
        if not fail.any():
            continue
        # one reason per failing DER direction: its first failing period, worst limit
        first = pd.DataFrame({"key": key[fail], "pos": np.flatnonzero(fail), "t": t[fail]})
        first = first.sort_values(["key", "t"]).drop_duplicates("key")
        pos = first.pos.to_numpy()
        lim = worst[:, pos].argmax(axis=0)
        at = where[lim, pos]
        rows.append(
            pd.DataFrame(
                {
                    "der_pos": der[pos],
                    "der": scn.ders.id[der[pos]],
                    "direction": np.where(up[pos], "up", "down"),
                    "feeder": f.id,
                    "period": t[pos],
                    "limit": np.array(_LIMITS)[lim],
                    "at_bus": scn.grid.node_bus[f.nodes[at]],
                    "excess": worst[lim, pos],
                    "excess_unit": np.where(lim < 2, "pu^2", "MW"),
                }
            )
        )
    cols = [
        "der_pos",
        "der",
        "direction",
        "feeder",
        "period",
        "limit",
        "at_bus",
        "excess",
        "excess_unit",
    ]
    reasons = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=cols)
    return GridCheck(blocked, reasons)
