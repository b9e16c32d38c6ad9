"""Outages of scenario events: which lines and transformers may trip without islanding
anyone, the grid as it is while they are out, and which branches are open per period.

A transmission line may trip if the transmission layer stays connected to a slack; a
transformer if another one in operation still feeds its low-voltage node (one of a TDI
pair). Distribution lines may not: feeders are radial, and their reconfiguration (closing
a ring switch) is not modelled. Owns: those checks and the outage net. Must not: decide
what operators do about an outage (``operation.contingency``).
"""

from __future__ import annotations

import copy

import numpy as np
from pandapower.auxiliary import pandapowerNet
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from tsodso.grids.model import CoupledGrid, GridModelError, build_coupled_grid
from tsodso.grids.topology import line_in_operation, trafo_in_operation, transmission_buses
from tsodso.schema.config import Event

OUTAGE_KINDS = {"line_outage": "line", "trafo_outage": "trafo"}


def outage_net(net: pandapowerNet, events: tuple[Event, ...]) -> pandapowerNet:
    """A copy of ``net`` with every outage element of ``events`` out of service."""
    out = copy.deepcopy(net)
    for e in events:
        table = OUTAGE_KINDS.get(e.kind)
        if table is not None:
            getattr(out, table).loc[e.element, "in_service"] = False
    return out


def _islanded(grid: CoupledGrid) -> int:
    """Transmission nodes not connected to any slack."""
    tg = grid.transmission
    n = len(tg.nodes)
    a = coo_matrix((np.ones(tg.n_branch), (tg.branch_from, tg.branch_to)), shape=(n, n)).tocsr()
    _, label = connected_components(a, directed=False)
    fed = np.isin(label, label[tg.slack])
    return int((~fed).sum())


def outage_problems(
    net: pandapowerNet,
    grid: CoupledGrid,
    events: tuple[Event, ...],
    transmission_min_kv: float,
    periods: int | None = None,
) -> list[str]:
    """Every reason the events of a scenario cannot happen on this grid (empty if none):
    each event alone, then (given the scenario's ``periods``) every set of outages that
    overlap in time, together."""
    problems = _each_alone(net, grid, events, transmission_min_kv)
    if periods is not None and not problems:
        problems = _together(net, grid, events, transmission_min_kv, periods)
    return problems


def _together(
    net: pandapowerNet,
    grid: CoupledGrid,
    events: tuple[Event, ...],
    transmission_min_kv: float,
    periods: int,
) -> list[str]:
    """Outages each possible alone may together island a node: check every set of
    outages active in the same period (each distinct set once)."""
    outages = [i for i, e in enumerate(events) if e.kind in OUTAGE_KINDS]
    active = {i: event_periods(events[i], periods) for i in outages}
    seen: dict[tuple[int, ...], list[int]] = {}
    for t in range(periods):
        key = tuple(i for i in outages if active[i][t])
        if len({(events[i].kind, events[i].element) for i in key}) >= 2:
            seen.setdefault(key, []).append(t)
    problems: list[str] = []
    for key, ts in seen.items():
        names = " and ".join(f"events[{i}]" for i in key)
        what = ", ".join(f"{OUTAGE_KINDS[events[i].kind]} {events[i].element}" for i in key)
        when = f"period {ts[0]}" if len(ts) == 1 else f"periods {ts[0]}-{ts[-1]}"
        net_out = outage_net(net, tuple(events[i] for i in key))
        lv = grid.bus_to_node.loc[net.trafo.lv_bus].to_numpy()
        fed_before = set(lv[trafo_in_operation(net).to_numpy()].tolist())
        fed_after = set(lv[trafo_in_operation(net_out).to_numpy()].tolist())
        lost = sorted(fed_before - fed_after)
        if lost:
            buses = ", ".join(str(int(grid.node_bus[n])) for n in lost)
            problems.append(
                f"{names} ({when}): together, the outages of {what} leave bus {buses} "
                "without a transformer in operation"
            )
            continue
        try:
            g = build_coupled_grid(net_out, transmission_min_kv)
        except GridModelError as err:
            problems.append(f"{names} ({when}): the grid without {what} is invalid: {err}")
            continue
        if len(g.node_bus) != len(grid.node_bus) or len(g.feeders) != len(grid.feeders):
            problems.append(f"{names} ({when}): together, the outages of {what} change the feeders")
        elif n := _islanded(g):
            problems.append(
                f"{names} ({when}): together, the outages of {what} cut {n} transmission "
                "nodes off the external grid"
            )
    return problems


def _each_alone(
    net: pandapowerNet, grid: CoupledGrid, events: tuple[Event, ...], transmission_min_kv: float
) -> list[str]:
    problems: list[str] = []
    lines_on, trafos_on = line_in_operation(net), trafo_in_operation(net)
    feeder_ids = {f.id for f in grid.feeders}
    for i, e in enumerate(events):
        where = f"events[{i}]"
        if e.kind == "forecast_error":
            if e.feeder and e.feeder not in feeder_ids:
                problems.append(
                    f"{where}.feeder = {e.feeder!r}: no such feeder; expected one of "
                    f"{', '.join(sorted(feeder_ids))}"
                )
            continue
        if e.kind not in OUTAGE_KINDS:  # a message loss: no grid element
            continue
        table = OUTAGE_KINDS[e.kind]
        on = lines_on if table == "line" else trafos_on
        if e.element not in on.index:
            problems.append(f"{where}.element = {e.element}: the grid has no {table} {e.element}")
            continue
        if not on.loc[e.element]:
            problems.append(
                f"{where}.element = {e.element}: {table} {e.element} is not in operation"
            )
            continue
        if table == "line":
            fb = net.line.from_bus.loc[e.element]
            kv = float(net.bus.vn_kv.loc[fb])
            if not transmission_buses(net, transmission_min_kv).loc[fb]:
                problems.append(
                    f"{where}.element = {e.element}: line {e.element} is a {kv:g} kV "
                    "distribution line; radial feeders would be islanded (take a transmission "
                    "line or one of a TDI transformer pair)"
                )
                continue
        else:
            lv = grid.bus_to_node.loc[net.trafo.lv_bus]
            mine = int(lv.loc[net.trafo.lv_bus.loc[e.element]])
            others = (lv.to_numpy() == mine) & trafos_on.to_numpy()
            if others.sum() < 2:
                problems.append(
                    f"{where}.element = {e.element}: transformer {e.element} alone feeds bus "
                    f"{int(net.trafo.lv_bus.loc[e.element])}; its outage would island it"
                )
                continue
        try:
            g = build_coupled_grid(outage_net(net, (e,)), transmission_min_kv)
        except GridModelError as err:
            problems.append(f"{where}: the grid without {table} {e.element} is invalid: {err}")
            continue
        if len(g.node_bus) != len(grid.node_bus) or len(g.feeders) != len(grid.feeders):
            problems.append(f"{where}: the outage of {table} {e.element} changes the feeders")
        elif _islanded(g):
            problems.append(
                f"{where}.element = {e.element}: without line {e.element}, {_islanded(g)} "
                "transmission nodes lose their connection to the external grid"
            )
    return problems


def event_periods(e: Event, periods: int) -> np.ndarray:
    """(T,) bool: the periods in which ``e`` is active."""
    last = periods - 1 if e.last_period is None else min(e.last_period, periods - 1)
    mask = np.zeros(periods, dtype=bool)
    mask[e.first_period : last + 1] = True
    return mask
