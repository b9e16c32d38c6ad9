"""The coupled transmission + distribution grid as plain arrays, derived from a pandapower net.

Owns: splitting a net into a transmission layer (DC model) and radial distribution feeders
(LinDistFlow model) behind T-D interfaces (TDI). Nodes are *fused* buses (closed bus-bus
switches joined); every array indexes nodes 0..N-1 in ``CoupledGrid.node_bus`` order.
Must not: read profiles, DERs or market data.

Conventions: power in MW / Mvar, base power 1 MVA, voltages in pu, injections positive.
A feeder's branch ``i`` joins node ``order[i]`` to its parent; its flow is positive from the
parent towards the node (towards the feeder's end).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pandapower.auxiliary import pandapowerNet

from tsodso.grids.topology import (
    fused_bus_map,
    line_in_operation,
    root_tree,
    trafo_in_operation,
    transmission_buses,
)

SQRT3 = float(np.sqrt(3.0))


@dataclass(frozen=True)
class TransmissionGrid:
    """DC model of the transmission layer. ``nodes`` are global node indices."""

    nodes: np.ndarray
    slack: np.ndarray  # bool per transmission node: fixed angle (external grid)
    slack_angle_rad: np.ndarray  # per transmission node (0 where not slack)
    branch_from: np.ndarray  # positions into ``nodes``
    branch_to: np.ndarray
    branch_x_pu: np.ndarray  # on 1 MVA base, tap ratio included
    branch_rating_mw: np.ndarray
    branch_kind: np.ndarray  # "line" | "trafo"
    branch_element: np.ndarray  # pandapower index in its table

    @property
    def n_branch(self) -> int:
        return len(self.branch_x_pu)

    def susceptance(self) -> tuple[np.ndarray, np.ndarray]:
        """Return (B, Bf): nodal susceptance (n x n) and branch-flow matrix (m x n), dense."""
        n, m = len(self.nodes), self.n_branch
        b = 1.0 / self.branch_x_pu
        bf = np.zeros((m, n))
        bf[np.arange(m), self.branch_from] = b
        bf[np.arange(m), self.branch_to] = -b
        inc = np.zeros((m, n))
        inc[np.arange(m), self.branch_from] = 1.0
        inc[np.arange(m), self.branch_to] = -1.0
        return inc.T @ bf, bf


@dataclass(frozen=True)
class Feeder:
    """A radial distribution feeder rooted at the distribution side of its TDI.

    ``nodes[0]`` is the root. Branch arrays have one entry per node; entry 0 (root) is unused."""

    id: str
    tdi_node: int  # global node index on the transmission side
    nodes: np.ndarray  # global node indices, root first
    parent: np.ndarray  # position of each node's parent in ``nodes`` (-1 for root)
    r_pu: np.ndarray
    x_pu: np.ndarray
    rating_mva: np.ndarray  # inf for the root and for switch-like branches
    branch_element: np.ndarray  # pandapower line index (-1 for the root)
    vn_kv: float
    vmin_pu: np.ndarray
    vmax_pu: np.ndarray
    root_is_tdi: bool  # True when the TDI is a line (root = transmission node)
    tdi_rating_mva: float = float("inf")  # transformer(s) at the TDI (inf for a line TDI)

    @property
    def n(self) -> int:
        return len(self.nodes)

    def local_index(self, n_nodes: int) -> np.ndarray:
        """Position in this feeder of each of the grid's ``n_nodes`` nodes (-1 outside)."""
        local = np.full(n_nodes, -1)
        local[self.nodes] = np.arange(self.n)
        return local

    def subtree(self) -> np.ndarray:
        """Dense (n x n) matrix T with T[i, j] = 1 when node j lies in the subtree of node i."""
        n = self.n
        t = np.eye(n)
        for i in range(n - 1, 0, -1):  # children come after parents (breadth first)
            t[self.parent[i]] += t[i]
        return t

    def path_impedance(self) -> tuple[np.ndarray, np.ndarray]:
        """Dense (n x n) R and X with R[i, j] = resistance of the path shared by root->i and
        root->j (pu). LinDistFlow: v^2 = v_root^2 + 2 (R p + X q) for injections p, q."""
        t = self.subtree()
        # branch i contributes r_i to every pair (a, b) with both a and b in subtree(i)
        r = (t.T * self.r_pu) @ t
        x = (t.T * self.x_pu) @ t
        return r, x


@dataclass(frozen=True)
class CoupledGrid:
    """Transmission layer, feeders and the node table that joins them."""

    node_bus: np.ndarray  # pandapower bus id representing each node
    node_vn_kv: np.ndarray
    node_layer: np.ndarray  # -1 transmission, else feeder position
    transmission: TransmissionGrid
    feeders: tuple[Feeder, ...]
    bus_to_node: pd.Series = field(repr=False)  # pandapower bus id -> node index

    @property
    def n_nodes(self) -> int:
        return len(self.node_bus)

    def tdi_of_node(self) -> np.ndarray:
        """Global transmission node where each node's injection enters the DC model."""
        tdi = np.arange(self.n_nodes)
        for f in self.feeders:
            tdi[f.nodes] = f.tdi_node
        return tdi


def dc_flows(grid: CoupledGrid, p_node_mw: np.ndarray) -> np.ndarray:
    """DC power flow of the transmission layer: branch flows (m, T) for node injections
    (N, T), every feeder lumped at its TDI (radial and lossless in the DC model), slack
    nodes at their fixed angles."""
    tg = grid.transmission
    p_node_mw = np.atleast_2d(p_node_mw.T).T
    B, Bf = tg.susceptance()
    t_index = np.full(grid.n_nodes, -1)
    t_index[tg.nodes] = np.arange(len(tg.nodes))
    p_t = np.zeros((len(tg.nodes), p_node_mw.shape[1]))
    np.add.at(p_t, t_index[grid.tdi_of_node()], p_node_mw)
    ns, sl = ~tg.slack, tg.slack
    theta = np.zeros_like(p_t)
    theta[sl] = tg.slack_angle_rad[sl][:, None]
    rhs = p_t[ns] - B[np.ix_(ns, sl)] @ theta[sl]
    theta[ns] = np.linalg.solve(B[np.ix_(ns, ns)], rhs)
    return Bf @ theta


class GridModelError(ValueError):
    """The net cannot be split into a DC transmission layer and radial feeders."""


def _line_params(net: pandapowerNet) -> pd.DataFrame:
    ln = net.line
    par = ln.parallel.astype(float)
    return pd.DataFrame(
        {
            "r_ohm": ln.r_ohm_per_km * ln.length_km / par,
            "x_ohm": ln.x_ohm_per_km * ln.length_km / par,
            "imax_ka": ln.max_i_ka * par * ln.df,
        },
        index=ln.index,
    )


def _trafo_x_pu(net: pandapowerNet, sn_base: float = 1.0) -> pd.Series:
    """DC series reactance of each two-winding transformer on ``sn_base`` and the LV bus
    voltage base, divided by the off-nominal ratio as pandapower's DC model does."""
    tr = net.trafo
    vk, vkr = tr.vk_percent / 100.0, tr.vkr_percent / 100.0
    xk = np.sqrt(np.maximum(vk**2 - vkr**2, 0.0))
    vn_lv_bus = net.bus.vn_kv.loc[tr.lv_bus].to_numpy()
    vn_hv_bus = net.bus.vn_kv.loc[tr.hv_bus].to_numpy()
    x = xk * sn_base / tr.sn_mva * (tr.vn_lv_kv / vn_lv_bus) ** 2 / tr.parallel
    steps = (tr.tap_pos.fillna(0) - tr.tap_neutral.fillna(0)) * tr.tap_step_percent.fillna(0) / 100
    if "tap_changer_type" in tr:  # pandapower ignores tap_pos without a tap changer type
        steps = steps.where(tr.tap_changer_type.notna(), 0.0)
    hv_side = tr.tap_side.fillna("hv") == "hv"
    vn_hv = np.where(hv_side, tr.vn_hv_kv * (1 + steps), tr.vn_hv_kv)
    vn_lv = np.where(hv_side, tr.vn_lv_kv, tr.vn_lv_kv * (1 + steps))
    ratio = (vn_hv / vn_lv) / (vn_hv_bus / vn_lv_bus)
    return pd.Series(np.asarray(x) * ratio, index=tr.index)


def build_coupled_grid(
    net: pandapowerNet, transmission_min_kv: float = 60.0, min_x_pu: float = 1e-9
) -> CoupledGrid:
    """Split ``net`` into transmission (vn >= ``transmission_min_kv``, a bus marked
    transmission in ``tsodso_layer``, or an external grid) and
    radial distribution feeders, one per connected component of the remaining nodes."""
    problems: list[str] = []
    fmap = fused_bus_map(net)
    node_bus = np.unique(fmap.to_numpy())
    node_of_rep = pd.Series(np.arange(len(node_bus)), index=node_bus)
    bus_to_node = pd.Series(node_of_rep.loc[fmap.to_numpy()].to_numpy(), index=fmap.index)
    vn = net.bus.vn_kv.loc[node_bus].to_numpy(dtype=float)
    n = len(node_bus)

    eg = net.ext_grid[net.ext_grid.in_service.astype(bool)]
    if eg.empty:
        raise GridModelError("the net has no in-service ext_grid (slack)")
    slack_nodes = bus_to_node.loc[eg.bus].to_numpy()
    is_t = transmission_buses(net, transmission_min_kv).loc[node_bus].to_numpy()
    is_t[slack_nodes] = True

    lp = _line_params(net)
    lines = net.line[line_in_operation(net)]
    lf = bus_to_node.loc[lines.from_bus].to_numpy()
    lt = bus_to_node.loc[lines.to_bus].to_numpy()
    trafos = net.trafo[trafo_in_operation(net)]
    th = bus_to_node.loc[trafos.hv_bus].to_numpy()
    tl = bus_to_node.loc[trafos.lv_bus].to_numpy()

    # --- transmission layer -------------------------------------------------------------
    t_nodes = np.flatnonzero(is_t)
    t_pos = np.full(n, -1)
    t_pos[t_nodes] = np.arange(len(t_nodes))
    zb = vn[lf] ** 2  # ohm base on 1 MVA
    tl_mask = is_t[lf] & is_t[lt] & (lf != lt)
    tt_mask = is_t[th] & is_t[tl] & (th != tl)
    trx = _trafo_x_pu(net).loc[trafos.index].to_numpy()
    line_x = (lp.x_ohm.loc[lines.index].to_numpy() / zb)[tl_mask]
    line_rating = (lp.imax_ka.loc[lines.index].to_numpy() * vn[lf] * SQRT3)[tl_mask]
    tr_rating = (trafos.sn_mva * trafos.parallel).to_numpy()[tt_mask]
    slack_angle = np.zeros(len(t_nodes))
    slack_angle[t_pos[slack_nodes]] = np.deg2rad(eg.va_degree.to_numpy(dtype=float))
    slack = np.zeros(len(t_nodes), dtype=bool)
    slack[t_pos[slack_nodes]] = True
    transmission = TransmissionGrid(
        nodes=t_nodes,
        slack=slack,
        slack_angle_rad=slack_angle,
        branch_from=np.concatenate([t_pos[lf[tl_mask]], t_pos[th[tt_mask]]]),
        branch_to=np.concatenate([t_pos[lt[tl_mask]], t_pos[tl[tt_mask]]]),
        branch_x_pu=np.maximum(np.concatenate([line_x, trx[tt_mask]]), min_x_pu),
        branch_rating_mw=np.concatenate([line_rating, tr_rating]),
        branch_kind=np.array(["line"] * int(tl_mask.sum()) + ["trafo"] * int(tt_mask.sum())),
        branch_element=np.concatenate(
            [lines.index.to_numpy()[tl_mask], trafos.index.to_numpy()[tt_mask]]
        ),
    )

    # --- distribution feeders -----------------------------------------------------------
    d_line = ~is_t[lf] & ~is_t[lt] & (lf != lt)
    d_edges = np.column_stack([lf[d_line], lt[d_line]])
    d_line_idx = lines.index.to_numpy()[d_line]
    # TDIs: trafos from a transmission node to a distribution node, or such lines
    tdi_trafo = is_t[th] & ~is_t[tl]
    tdi_line_fwd = is_t[lf] & ~is_t[lt]
    tdi_line_bwd = ~is_t[lf] & is_t[lt]
    if (~is_t[th] & is_t[tl]).any():
        problems.append("a transformer has its HV side in distribution and LV in transmission")
    if (~is_t[th] & ~is_t[tl] & (th != tl)).any():
        problems.append("transformers inside a distribution area are not supported (MV/LV)")

    # components of distribution nodes
    parent = np.arange(n)

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for a, b in d_edges:
        ra, rb = find(int(a)), find(int(b))
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    d_nodes = np.flatnonzero(~is_t)
    comp = np.array([find(int(a)) for a in d_nodes])
    d_lp = lp.loc[d_line_idx]
    bus_vmin = net.bus.min_vm_pu if "min_vm_pu" in net.bus else pd.Series(np.nan, net.bus.index)
    bus_vmax = net.bus.max_vm_pu if "max_vm_pu" in net.bus else pd.Series(np.nan, net.bus.index)
    feeders: list[Feeder] = []
    seen_names: set[str] = set()
    node_layer = np.full(n, -1)
    for c in np.unique(comp):
        members = d_nodes[comp == c]
        mset = set(members.tolist())
        # find the TDI: a trafo LV side in the component, else a line from transmission
        tdi_tr = [k for k in np.flatnonzero(tdi_trafo) if tl[k] in mset]
        tdi_ln = [(lt[k], lf[k], k) for k in np.flatnonzero(tdi_line_fwd) if lt[k] in mset]
        tdi_ln += [(lf[k], lt[k], k) for k in np.flatnonzero(tdi_line_bwd) if lf[k] in mset]
        name = _feeder_name(net, node_bus[members])
        if any(f.id == name for f in feeders) or name in seen_names:
            name = f"{name}-{int(node_bus[members].min())}"
        seen_names.add(name)
        if len(tdi_tr) + len(tdi_ln) == 0:
            problems.append(f"distribution area {name} has no connection to transmission")
            continue
        roots = {int(tl[k]) for k in tdi_tr} | {int(d) for d, _, _ in tdi_ln}
        hv = {int(th[k]) for k in tdi_tr} | {int(t) for _, t, _ in tdi_ln}
        if len(roots) > 1 or len(hv) > 1 or (tdi_tr and tdi_ln):
            problems.append(
                f"distribution area {name} has {len(tdi_tr) + len(tdi_ln)} interfaces at "
                "different nodes; a feeder needs one root"
            )
            continue
        in_comp = np.isin(d_edges[:, 0], members)
        edges = d_edges[in_comp]
        eidx = np.flatnonzero(in_comp)
        tdi_node = hv.pop()
        if tdi_tr:
            root, tree_nodes, extra = roots.pop(), members, None
        else:
            d_root, t_node, k = tdi_ln[0]
            root, tree_nodes = t_node, np.concatenate([[t_node], members])
            edges = np.vstack([edges, [[t_node, d_root]]])
            extra = k
        try:
            tree = root_tree(int(root), tree_nodes, edges)
        except Exception as exc:  # NotRadialError
            problems.append(f"distribution area {name} is not radial: {exc}")
            continue
        m = len(tree.order)
        r = np.zeros(m)
        x = np.zeros(m)
        rating = np.full(m, np.inf)
        elem = np.full(m, -1)
        vnf = float(vn[members[0]])
        for i in range(1, m):
            e = tree.branch[i]
            if e < len(eidx):
                li = d_line_idx[eidx[e]]
                row = d_lp.loc[li]
            else:
                li = lines.index.to_numpy()[extra]
                row = lp.loc[li]
            r[i], x[i] = row.r_ohm / vnf**2, row.x_ohm / vnf**2
            rating[i] = row.imax_ka * vnf * SQRT3
            elem[i] = li
        buses = node_bus[tree.order]
        vmin = bus_vmin.loc[buses].fillna(0.9).to_numpy(dtype=float)
        vmax = bus_vmax.loc[buses].fillna(1.1).to_numpy(dtype=float)
        node_layer[members] = len(feeders)
        feeders.append(
            Feeder(
                id=name,
                tdi_node=int(tdi_node),
                nodes=tree.order,
                parent=tree.parent,
                r_pu=r,
                x_pu=x,
                rating_mva=rating,
                branch_element=elem,
                vn_kv=vnf,
                vmin_pu=vmin,
                vmax_pu=vmax,
                root_is_tdi=not tdi_tr,
                tdi_rating_mva=float((trafos.sn_mva * trafos.parallel).to_numpy()[tdi_tr].sum())
                if tdi_tr
                else float("inf"),
            )
        )
    if problems:
        raise GridModelError("; ".join(problems))
    return CoupledGrid(
        node_bus=node_bus,
        node_vn_kv=vn,
        node_layer=node_layer,
        transmission=transmission,
        feeders=tuple(feeders),
        bus_to_node=bus_to_node,
    )


def _feeder_name(net: pandapowerNet, buses: np.ndarray) -> str:
    if "subnet" in net.bus:
        names = net.bus.subnet.loc[buses].dropna().astype(str)
        if len(names):
            base = names.str.split("_").str[0].mode()
            if len(base):
                return str(base.iloc[0])
    return f"area-{int(buses.min())}"
