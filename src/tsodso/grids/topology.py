"""Switch-aware topology of a pandapower net: which buses are one electrical node, which
branches are in operation, and the radial trees of distribution areas.

Owns: bus fusion over closed bus-bus switches, branch status from line/trafo switches, and
rooting a radial feeder. Must not: touch profiles, markets or power flow results.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandapower.auxiliary import pandapowerNet


def fused_bus_map(net: pandapowerNet) -> pd.Series:
    """Map every in-service bus id to the smallest bus id it is joined to by closed bus-bus
    switches (a zero-impedance connection, as pandapower itself fuses them)."""
    buses = net.bus.index[net.bus.in_service].to_numpy()
    parent = {int(b): int(b) for b in buses}

    def find(b: int) -> int:
        while parent[b] != b:
            parent[b] = parent[parent[b]]
            b = parent[b]
        return b

    sw = net.switch[(net.switch.et == "b") & net.switch.closed]
    for a, b in zip(sw.bus.to_numpy(), sw.element.to_numpy(), strict=True):
        if int(a) not in parent or int(b) not in parent:
            continue
        ra, rb = find(int(a)), find(int(b))
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return pd.Series({b: find(b) for b in parent}, name="node").sort_index()


#: bus column that fixes a bus's layer ("transmission" | "distribution") where its nominal
#: voltage says nothing: MATPOWER cases (case14's transformer secondaries are 0.208 kV buses of
#: the transmission model) and feeders attached to them
LAYER_COLUMN = "tsodso_layer"


def transmission_buses(net: pandapowerNet, transmission_min_kv: float) -> pd.Series:
    """True for every bus of the transmission layer: the bus's ``tsodso_layer`` where set,
    else its nominal voltage at or above ``transmission_min_kv``."""
    by_kv = net.bus.vn_kv.astype(float) >= transmission_min_kv
    if LAYER_COLUMN not in net.bus:
        return by_kv.rename("transmission")
    layer = net.bus[LAYER_COLUMN]
    fixed = layer.isin(["transmission", "distribution"])
    return by_kv.where(~fixed, layer == "transmission").astype(bool).rename("transmission")


def _open_elements(net: pandapowerNet, et: str) -> set[int]:
    sw = net.switch
    return {int(e) for e in sw.element[(sw.et == et) & ~sw.closed.astype(bool)]}


def line_in_operation(net: pandapowerNet) -> pd.Series:
    """True for lines in service with no open line switch at either end."""
    open_lines = _open_elements(net, "l")
    status = net.line.in_service.astype(bool) & ~net.line.index.isin(list(open_lines))
    return status.rename("in_operation")


def trafo_in_operation(net: pandapowerNet) -> pd.Series:
    """True for transformers in service with no open transformer switch."""
    open_tr = _open_elements(net, "t")
    status = net.trafo.in_service.astype(bool) & ~net.trafo.index.isin(list(open_tr))
    return status.rename("in_operation")


@dataclass(frozen=True)
class RadialTree:
    """A rooted tree over node ids. ``order`` lists nodes root first (breadth first);
    ``parent[i]`` is the position in ``order`` of node i's parent (-1 for the root) and
    ``branch[i]`` the index (into the caller's edge list) of the edge to the parent."""

    order: np.ndarray
    parent: np.ndarray
    branch: np.ndarray


class NotRadialError(ValueError):
    """Raised when edges over a node set contain a cycle or leave nodes unreached."""


def root_tree(root: int, nodes: np.ndarray, edges: np.ndarray) -> RadialTree:
    """Root the tree spanned by ``edges`` (shape (m, 2) of node ids) at ``root``.

    Raises NotRadialError naming the problem when the edges do not form a spanning tree."""
    node_set = {int(n) for n in nodes}
    adj: dict[int, list[tuple[int, int]]] = {n: [] for n in node_set}
    for k, (a, b) in enumerate(edges):
        adj[int(a)].append((int(b), k))
        adj[int(b)].append((int(a), k))
    pos = {root: 0}
    order, parent, branch = [root], [-1], [-1]
    queue = deque([root])
    while queue:
        n = queue.popleft()
        for m, k in adj[n]:
            if k == branch[pos[n]]:
                continue
            if m in pos:
                raise NotRadialError(f"cycle through nodes {n} and {m}")
            pos[m] = len(order)
            order.append(m)
            parent.append(pos[n])
            branch.append(k)
            queue.append(m)
    if len(order) != len(node_set):
        missing = sorted(node_set - set(pos))[:10]
        raise NotRadialError(
            f"{len(node_set) - len(order)} nodes not reached from {root}: {missing}"
        )
    return RadialTree(np.array(order), np.array(parent), np.array(branch))
