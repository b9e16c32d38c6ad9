"""Synthetic scaling on top of real feeders: every distribution feeder of a prepared
scenario ``copies`` times, each copy behind the same TDI with its own DERs and bids, so that
market sizes grow by a known factor while each feeder stays a real simbench feeder.

The copies multiply what each TDI carries, so the transmission ratings and the TSO's
imbalance are multiplied by ``copies`` too (the transmission problem keeps its shape). The
operators' forecast (root voltages, LinDistFlow calibration, DC rating factors) is copied
with the feeders. The result is for the markets only: its pandapower net is the original
one, so the AC check and the lifecycle after the clearing do not apply (``benchmarks/``).

Owns: the replicated scenario and market context. Must not: be used for results that are
reported as physics of a real grid.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from tsodso.coordination.context import MarketContext
from tsodso.grids.dso_areas import DsoAreas
from tsodso.grids.forecast import GridForecast
from tsodso.grids.model import CoupledGrid, Feeder
from tsodso.schema.tables import BidTable, DerTable


def _grid(grid: CoupledGrid, copies: int) -> tuple[CoupledGrid, np.ndarray]:
    """The grid with every feeder ``copies`` times (copies after the original nodes, in
    feeder order); also the original node of each node."""
    n0 = grid.n_nodes
    feeders = list(grid.feeders)
    origin = [np.arange(n0)]
    layer = [grid.node_layer]
    bus = [grid.node_bus]
    next_node, next_bus = n0, int(grid.node_bus.max()) + 1
    for c in range(1, copies):
        for f in grid.feeders:
            nodes = np.arange(next_node, next_node + f.n)
            next_node += f.n
            feeders.append(dataclasses.replace(f, id=f"{f.id}#{c}", nodes=nodes))
            origin.append(f.nodes)
            layer.append(np.full(f.n, len(feeders) - 1))
            bus.append(np.arange(next_bus, next_bus + f.n))
            next_bus += f.n
    orig = np.concatenate(origin)
    tg = dataclasses.replace(
        grid.transmission, branch_rating_mw=grid.transmission.branch_rating_mw * copies
    )
    node_bus = np.concatenate(bus)
    out = CoupledGrid(
        node_bus=node_bus,
        node_vn_kv=grid.node_vn_kv[orig],
        node_layer=np.concatenate(layer),
        transmission=tg,
        feeders=tuple(feeders),
        bus_to_node=pd.Series(np.arange(len(node_bus)), index=node_bus),
    )
    return out, orig


def _copy_of(f: Feeder, grid: CoupledGrid) -> int:
    return [g.id for g in grid.feeders].index(f.id.split("#")[0])


def replicate(ctx: MarketContext, copies: int) -> MarketContext:
    """A market context on the scenario of ``ctx`` scaled ``copies`` times: every feeder,
    its DERs and their bids copied; transmission-connected DERs, injections, ratings and
    the imbalance multiplied. Every flow and quantity of the copy is ``copies`` times the
    original's, so a market's optimum scales exactly (tests check the joint market)."""
    if copies < 1:
        raise ValueError(f"copies = {copies}: expected at least 1")
    scn = ctx.scn
    grid, orig = _grid(scn.grid, copies)
    n0, D = scn.grid.n_nodes, len(scn.ders)
    is_t = scn.grid.node_layer < 0
    # node of each original node in copy c (transmission nodes are shared)
    node_in = [np.arange(n0)]
    start = n0
    for _c in range(1, copies):
        m = np.arange(n0)
        for f in scn.grid.feeders:
            m[f.nodes] = np.arange(start, start + f.n)
            start += f.n
        node_in.append(m)
    d = scn.ders
    fields = {k: np.concatenate([getattr(d, k)] * copies) for k in DerTable.__dataclass_fields__}
    fields["node"] = np.concatenate([node_in[c][d.node] for c in range(copies)])
    fields["id"] = np.concatenate(
        [d.id] + [np.char.add(d.id.astype(str), f"#{c}") for c in range(1, copies)]
    )
    ders = DerTable(**fields)
    b = scn.bids
    bids = BidTable(
        der=np.concatenate([b.der + c * D for c in range(copies)]),
        direction=np.tile(b.direction, copies),
        period=np.tile(b.period, copies),
        q_max_mw=np.tile(b.q_max_mw, copies),
        price_eur_per_mwh=np.tile(b.price_eur_per_mwh, copies),
        node=np.concatenate([node_in[c][b.node] for c in range(copies)]),
        aggregator=np.tile(b.aggregator, copies),
    )
    # transmission nodes carry every copy's share; feeder nodes their own
    mult = np.where(is_t[orig], copies, 1.0)[:, None]
    first = np.arange(len(orig)) < n0
    keep = (first | ~is_t[orig])[:, None]
    p0 = scn.node_p0_mw[orig] * mult * keep
    q0 = scn.node_q0_mvar[orig] * mult * keep
    share = scn.imbalance_share[orig] * np.where(is_t[orig], 1.0, 1.0 / copies) * keep[:, 0]
    new = dataclasses.replace(
        scn,
        grid=grid,
        node_p0_mw=p0,
        node_q0_mvar=q0,
        imbalance_mw=scn.imbalance_mw * copies,
        brp_position_mw=None if scn.brp_position_mw is None else scn.brp_position_mw * copies,
        wholesale=None if scn.wholesale is None else scn.wholesale.tiled(copies),
        imbalance_share=share,
        ders=ders,
        bids=bids,
    )
    k = [_copy_of(f, scn.grid) for f in grid.feeders]
    # a copy of a feeder belongs to the DSO of its original (same substation)
    dsos = scn.dsos
    new = dataclasses.replace(
        new, dso_areas=DsoAreas(dsos.names, dsos.feeder_area[k], f"{dsos.rule}, replicated")
    )
    fc = ctx.forecast
    forecast = GridForecast(fc.root_vm_pu[k], tuple(fc.v2_offset[i] for i in k), fc.t_rating_factor)
    return MarketContext(new, forecast, ctx.time_limit_s)
