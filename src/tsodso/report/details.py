"""The compact tables a report draws from, written next to a run's or a comparison's output
as ``details/*.parquet`` (an edge: it reads results, computes nothing new).

A report must open from files alone, so what its figures need beyond the KPIs is written
here, small enough to keep for every model of ``compare --models all``:

- the grid: ``nodes`` (bus coordinates, layer, voltage band), ``branches`` (end nodes,
  rating), ``ders`` (counts and MW by kind, aggregator and feeder), ``needs`` (the TSO's
  imbalance per period, MW, and the period length);
- what the AC power flow showed, per case (``uncoordinated``: the baseline forecast, then
  each model's delivered day): ``node_state`` (extremes and periods outside the band),
  ``branch_state`` (peak loading, overloaded periods), ``feeder_periods`` (violations per
  feeder and period);
- per model: ``messages`` (the actor message log), ``ledger`` (postings), ``procurement``
  (standing activations by buyer, period, direction and DER kind) and ``stacking_cuts``
  (what stacking cut, by reason).

Every table has a ``model`` or ``case`` column so that one file holds every model.
Owns: these tables and their layout. Must not: render, or compute results the core owns.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

DETAILS_DIR = "details"
#: the case of the baseline AC power flow (every unit on its schedule, no flexibility)
UNCOORDINATED = "uncoordinated"
TRANSMISSION = "transmission"
_TOL = 1e-6  # the AC check's tolerance on voltage bands and ratings


def _xy(net: Any, buses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates of ``buses`` (GeoJSON points in ``bus.geo``, or the older
    ``bus_geodata`` table); NaN where the grid has none."""
    x = np.full(len(buses), np.nan)
    y = np.full(len(buses), np.nan)
    if "geo" in net.bus:
        geo = net.bus.geo.reindex(buses)
        for i, g in enumerate(geo.to_numpy()):
            if isinstance(g, str) and g:
                g = json.loads(g)
            if isinstance(g, dict) and g.get("type") == "Point":
                x[i], y[i] = g["coordinates"][:2]
    elif hasattr(net, "bus_geodata") and len(net.bus_geodata):
        gd = net.bus_geodata.reindex(buses)
        x, y = gd.x.to_numpy(float), gd.y.to_numpy(float)
    return x, y


def _layer_names(grid: Any) -> np.ndarray:
    ids = np.array([TRANSMISSION, *(str(f.id) for f in grid.feeders)], dtype=object)
    return np.asarray(ids[grid.node_layer + 1])


def grid_tables(prep: Any) -> dict[str, pd.DataFrame]:
    """Nodes, branches (as in the AC check's results), DERs and the TSO's needs."""
    scn, ac = prep.scn, prep.ac_model
    grid, net = scn.grid, scn.net
    x, y = _xy(net, grid.node_bus)
    layer = _layer_names(grid)
    names = net.bus.name.reindex(grid.node_bus).astype(str).to_numpy()
    nodes = pd.DataFrame(
        {
            "node": np.arange(grid.n_nodes),
            "bus": grid.node_bus.astype(np.int64),
            "name": names,
            "x": x,
            "y": y,
            "vn_kv": grid.node_vn_kv,
            "layer": layer,
            "vmin_pu": ac.node_vmin,
            "vmax_pu": ac.node_vmax,
        }
    )
    fr, to = _branch_ends(prep)
    blayer = np.where(layer[to] != TRANSMISSION, layer[to], layer[fr])
    base = prep.baseline
    branches = pd.DataFrame(
        {
            "branch": np.arange(len(fr)),
            "kind": ac.branch_kind.astype(str),
            "element": ac.branch_element.astype(np.int64),
            "from_node": fr,
            "to_node": to,
            "layer": blayer,
            "distribution": base.branch_is_distribution.astype(bool),
            "rating_mva": base.branch_rating_mva,
        }
    )
    reg = prep.registry.table
    ders = (
        reg.assign(layer=reg.feeder.fillna(TRANSMISSION).astype(str), count=1)
        .groupby(["kind", "aggregator", "layer"], as_index=False, sort=True)
        .agg(ders=("count", "sum"), qualified=("qualified", "sum"), rated_mw=("rated_mw", "sum"))
    )
    needs = pd.DataFrame(
        {
            "period": np.arange(scn.periods),
            "imbalance_mw": np.asarray(scn.imbalance_mw, float),
            "dt_h": scn.dt_h,
        }
    )
    return {"nodes": nodes, "branches": branches, "ders": ders, "needs": needs}


def _branch_ends(prep: Any) -> tuple[np.ndarray, np.ndarray]:
    """From and to node of each branch of the AC check's results (lines, then trafos)."""
    net, ac, b2n = prep.scn.net, prep.ac_model, prep.scn.grid.bus_to_node
    line = ac.branch_kind == "line"
    el = ac.branch_element
    fr = np.empty(len(el), dtype=np.int64)
    to = np.empty(len(el), dtype=np.int64)
    fr[line] = b2n.loc[net.line.from_bus.loc[el[line]]].to_numpy()
    to[line] = b2n.loc[net.line.to_bus.loc[el[line]]].to_numpy()
    fr[~line] = b2n.loc[net.trafo.hv_bus.loc[el[~line]]].to_numpy()
    to[~line] = b2n.loc[net.trafo.lv_bus.loc[el[~line]]].to_numpy()
    return fr, to


def grid_state(
    ac: Any, case: str, nodes: pd.DataFrame, branches: pd.DataFrame
) -> dict[str, pd.DataFrame]:
    """What one AC power flow (T periods) shows per node, branch and feeder-period;
    ``nodes`` and ``branches`` are the tables of ``grid_tables`` (their ``layer``)."""
    vm = np.asarray(ac.vm_pu, dtype=float)
    with np.errstate(invalid="ignore"):
        above = vm - ac.node_vmax
        below = ac.node_vmin - vm
        bad = (above > _TOL) | (below > _TOL)
        over = ac.branch_loading > 1.0 + _TOL
    up = np.nan_to_num(above, nan=0.0).max(axis=0, initial=0.0)
    dn = np.nan_to_num(below, nan=0.0).max(axis=0, initial=0.0)
    worst = np.where(up >= dn, np.maximum(up, 0.0), -np.maximum(dn, 0.0))
    all_nan = np.isnan(vm).all(axis=0) if len(vm) else np.ones(vm.shape[1], dtype=bool)
    vmin = np.full(vm.shape[1], np.nan)
    vmax = np.full(vm.shape[1], np.nan)
    vmin[~all_nan] = np.nanmin(vm[:, ~all_nan], axis=0)
    vmax[~all_nan] = np.nanmax(vm[:, ~all_nan], axis=0)
    node_state = pd.DataFrame(
        {
            "case": case,
            "node": nodes.node.to_numpy(),
            "vm_min_pu": vmin.astype(np.float32),
            "vm_max_pu": vmax.astype(np.float32),
            "excess_pu": worst.astype(np.float32),  # + above the band, - below, 0 inside
            "violation_periods": bad.sum(axis=0).astype(np.int32),
        }
    )
    load = np.asarray(ac.branch_loading, dtype=float)
    peak = np.full(load.shape[1], np.nan)
    has = ~np.isnan(load).all(axis=0) if len(load) else np.zeros(load.shape[1], dtype=bool)
    peak[has] = np.nanmax(load[:, has], axis=0)
    branch_state = pd.DataFrame(
        {
            "case": case,
            "branch": np.arange(load.shape[1]),
            "loading_max_pct": (peak * 100).astype(np.float32),
            "overload_periods": over.sum(axis=0).astype(np.int32),
        }
    )
    layer = nodes.layer.to_numpy()
    blayer = branches.layer.to_numpy()
    names = pd.unique(layer)
    T = vm.shape[0]
    v_count = np.zeros((len(names), T), dtype=np.int32)
    o_count = np.zeros((len(names), T), dtype=np.int32)
    for k, name in enumerate(names):
        v_count[k] = bad[:, layer == name].sum(axis=1)
        o_count[k] = over[:, blayer == name].sum(axis=1)
    feeder_periods = pd.DataFrame(
        {
            "case": case,
            "layer": np.repeat(np.asarray(names, dtype=object), T),
            "period": np.tile(np.arange(T), len(names)),
            "voltage_violations": v_count.ravel(),
            "overloaded_branches": o_count.ravel(),
        }
    )
    return {
        "node_state": node_state,
        "branch_state": branch_state,
        "feeder_periods": feeder_periods,
    }


def model_tables(prep: Any, result: Any) -> dict[str, pd.DataFrame]:
    """One model's message log, ledger, standing procurement and stacking cuts."""
    scn = prep.scn  # the registered scenario: purchases index its bids
    mid = result.model.id
    life = result.life
    dt = scn.dt_h
    encoded = getattr(result, "encoded", None)
    if encoded is not None:  # as the data-exchange KPIs count them: in the standard's bytes
        msgs = encoded.table()
    else:
        msgs = pd.concat([result.messages.table(), life.messages.table()], ignore_index=True)
    b = scn.bids
    kinds = scn.ders.kind[b.der]
    parts = []
    for p in life.stack.purchases:
        k = np.flatnonzero(p.accepted_mw > 1e-9)
        if not len(k):
            continue
        parts.append(
            pd.DataFrame(
                {
                    "buyer": p.buyer,
                    "step": p.step,
                    "period": b.period[k],
                    "direction": np.where(b.direction[k] > 0, "up", "down"),
                    "der_kind": kinds[k],
                    "mwh": p.accepted_mw[k] * dt,
                    "eur": p.payments_eur[k],
                }
            )
        )
    cols = ["buyer", "step", "period", "direction", "der_kind"]
    proc = (
        pd.concat(parts, ignore_index=True).groupby(cols, as_index=False, sort=True).sum()
        if parts
        else pd.DataFrame(columns=[*cols, "mwh", "eur"])
    )
    cuts = life.stack.cuts
    if len(cuts):
        cuts = (
            cuts.assign(
                reason=cuts.reason.astype(str).str.split(":").str[0],
                mwh=cuts.cut_mw * dt,
                cuts=1,
            )
            .groupby(["buyer", "step", "period", "direction", "reason"], as_index=False)
            .agg(mwh=("mwh", "sum"), cuts=("cuts", "sum"))
        )
    else:
        cuts = pd.DataFrame(
            {
                "buyer": pd.Series(dtype=str),
                "step": pd.Series(dtype=str),
                "period": pd.Series(dtype=np.int64),
                "direction": pd.Series(dtype=str),
                "reason": pd.Series(dtype=str),
                "mwh": pd.Series(dtype=float),
                "cuts": pd.Series(dtype=np.int64),
            }
        )
    out = {
        "messages": msgs,
        "ledger": life.settlement.ledger.postings,
        "procurement": proc,
        "stacking_cuts": cuts,
    }
    return {k: v.assign(model=mid)[["model", *v.columns]] for k, v in out.items()}


class Details:
    """Collects the report tables of a scenario and each model run on it, one model at a
    time (a comparison keeps only these small tables, not the runs)."""

    def __init__(self) -> None:
        self._parts: dict[str, list[pd.DataFrame]] = defaultdict(list)
        self._grid: dict[str, pd.DataFrame] = {}

    def add(self, prep: Any, result: Any) -> None:
        """Add one model's run (``pipeline.RunResult``) on ``prep``; the first call also
        adds the grid and the uncoordinated day."""
        if not self._grid:
            self._grid = grid_tables(prep)
            for k, v in self._grid.items():
                self._parts[k].append(v)
            self._state(prep.baseline, UNCOORDINATED)
        self._state(result.ac, result.model.id)
        for k, v in model_tables(prep, result).items():
            self._parts[k].append(v)

    def _state(self, ac: Any, case: str) -> None:
        for k, v in grid_state(ac, case, self._grid["nodes"], self._grid["branches"]).items():
            self._parts[k].append(v)

    def tables(self) -> dict[str, pd.DataFrame]:
        return {k: pd.concat(v, ignore_index=True) for k, v in self._parts.items()}

    def write(self, out_dir: Path) -> list[Path]:
        """Write every table to ``out_dir/details/NAME.parquet``; return the paths."""
        d = Path(out_dir) / DETAILS_DIR
        d.mkdir(parents=True, exist_ok=True)
        paths = []
        for name, df in self.tables().items():
            p = d / f"{name}.parquet"
            df.to_parquet(p, index=False)
            paths.append(p)
        return paths


def write_details(out_dir: Path, prep: Any, results: Iterable[Any]) -> list[Path]:
    """The report tables of ``results`` (runs on ``prep``) under ``out_dir/details``."""
    det = Details()
    for r in results:
        det.add(prep, r)
    return det.write(out_dir)
