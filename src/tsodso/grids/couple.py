"""Coupled T+D grids from a transmission case: distribution feeders (a simbench MV grid or
pandapower's CIGRE MV, with their own profiles) attached at chosen load buses, each scaled to
replace that bus's load, through an HV/MV transformer sized for it.

Owns: the attachment (which buses, the scaling, the transformer) and the layer marks that
tell ``grids.model`` which buses are transmission and which feeders. Must not: decide DERs,
markets or profiles' windows (``grids.sources`` reads the feeders' profiles as it reads a
simbench grid's).

Interpretations (assumptions, not data):

- A feeder replaces its bus's load as ``k`` identical copies of the feeder grid in parallel,
  fused node by node, with ``k`` = the bus's load / the feeder grid's load (nominal active
  power): loads, generators and their powers scale by ``k``, line impedances by ``1/k`` and
  line ratings by ``k``, so the feeder's voltages and loadings are those of one copy.
- The HV/MV transformer has simbench's 110/20 kV 25 MVA type's per-unit impedance (vk 12 %,
  vkr 0.41 %, no iron losses), an on-load tap changer on the HV side (+-9 steps of 1.5 %,
  set for the day by the scenario's tap schedule) and a rating of 1.25 x the larger of the
  scaled feeder's nominal apparent load and nominal generation, rounded up to 5 MVA.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np
import pandapower as pp
import pandas as pd
from pandapower.auxiliary import pandapowerNet

from tsodso.grids.sources import GridSourceError, load_net
from tsodso.grids.topology import (
    LAYER_COLUMN,
    fused_bus_map,
    line_in_operation,
    transmission_buses,
)

#: the HV/MV transformer's per-unit data (simbench 25 MVA 110/20 kV type) and sizing margin
TRAFO_VK_PERCENT = 12.0
TRAFO_VKR_PERCENT = 0.41
TRAFO_TAP_STEP_PERCENT = 1.5
TRAFO_TAP_STEPS = 9
TRAFO_MARGIN = 1.25
TRAFO_ROUND_MVA = 5.0


@dataclass(frozen=True)
class Attachment:
    """One feeder attached at a transmission bus."""

    bus: int  # the transmission bus (pandapower index in the coupled net)
    feeder: str  # the feeder's name (its buses' ``subnet``)
    scale: float  # k: copies of the feeder grid in parallel
    load_mw: float  # the bus's load it replaces (nominal)
    trafo: int  # the new HV/MV transformer's index


def largest_load_buses(net: pandapowerNet, count: int) -> list[int]:
    """The ``count`` transmission buses with the largest in-service load (nominal active
    power), largest first; ties by bus index."""
    load = _bus_loads(net)
    load = load[load > 0]
    order = sorted(load.index, key=lambda b: (-float(load.loc[b]), int(b)))
    return [int(b) for b in order[:count]]


def _bus_loads(net: pandapowerNet) -> pd.Series:
    ld = net.load[net.load.in_service.astype(bool)]
    scaling = ld.scaling if "scaling" in ld else 1.0
    return (ld.p_mw * scaling).groupby(ld.bus).sum()


def attach_feeders(
    net: pandapowerNet,
    feeder_grid: str,
    buses: tuple[int, ...] | list[int],
    transmission_min_kv: float = 60.0,
) -> tuple[pandapowerNet, list[Attachment]]:
    """A copy of the transmission case ``net`` with the feeder grid ``feeder_grid``
    ('simbench:CODE' of an MV grid, or 'pandapower:create_cigre_network_mv') attached at
    each of ``buses``, replacing its load. Raises GridSourceError naming every problem."""
    problems: list[str] = []
    t_bus = transmission_buses(net, transmission_min_kv)
    if not t_bus.all():
        low = net.bus.index[~t_bus.to_numpy()]
        problems.append(
            f"the transmission case has {len(low)} distribution buses ({_ids(low)}); feeders "
            "attach to a transmission case without distribution grids"
        )
    loads = _bus_loads(net)
    seen: set[int] = set()
    for b in buses:
        if b not in net.bus.index:
            problems.append(f"feeders.buses: bus {b} is not in the transmission case")
        elif float(loads.get(b, 0.0)) <= 0:
            problems.append(f"feeders.buses: bus {b} has no load for a feeder to replace")
        if b in seen:
            problems.append(f"feeders.buses: bus {b} is named twice")
        seen.add(b)
    if not buses:
        problems.append("feeders: no load bus to attach a feeder at")
    template = _feeder_template(feeder_grid, problems)
    if problems or template is None:
        raise GridSourceError(f"feeders on {feeder_grid!r}: " + "; ".join(problems))
    f_net, roots, members, base_name = template
    out = copy.deepcopy(net)
    out.bus[LAYER_COLUMN] = "transmission"
    f_load = float(_bus_loads(f_net).sum())
    attachments = []
    for b in buses:
        k = float(loads.loc[b]) / f_load
        part = _scaled(f_net, k)
        names = {
            r: f"{base_name}.T{b}" + (f".{i + 1}" if len(roots) > 1 else "")
            for i, r in enumerate(roots)
        }
        part.bus["subnet"] = f"{base_name}.T{b}"
        for r, name in names.items():
            part.bus.loc[part.bus.index.isin(members[r]), "subnet"] = name
        part.bus[LAYER_COLUMN] = "distribution"
        lookup = _append(out, part)
        out.load.drop(out.load.index[(out.load.bus == b).to_numpy()], inplace=True)
        for root, s_mva in roots.items():
            feeder = names[root]
            sn = TRAFO_ROUND_MVA * math.ceil(TRAFO_MARGIN * k * s_mva / TRAFO_ROUND_MVA)
            tr = pp.create_transformer_from_parameters(
                out,
                hv_bus=b,
                lv_bus=lookup[root],
                sn_mva=max(sn, TRAFO_ROUND_MVA),
                vn_hv_kv=float(out.bus.vn_kv.at[b]),
                vn_lv_kv=float(out.bus.vn_kv.at[lookup[root]]),
                vk_percent=TRAFO_VK_PERCENT,
                vkr_percent=TRAFO_VKR_PERCENT,
                pfe_kw=0.0,
                i0_percent=0.0,
                tap_side="hv",
                tap_neutral=0,
                tap_min=-TRAFO_TAP_STEPS,
                tap_max=TRAFO_TAP_STEPS,
                tap_pos=0,
                tap_step_percent=TRAFO_TAP_STEP_PERCENT,
                tap_changer_type="Ratio",
                name=f"HV/MV {feeder}",
            )
            attachments.append(
                Attachment(
                    bus=int(b),
                    feeder=feeder,
                    scale=k,
                    load_mw=float(loads.loc[b]),
                    trafo=int(tr),
                )
            )
    profiles = getattr(f_net, "profiles", None)
    if isinstance(profiles, dict):
        out["profiles"] = copy.deepcopy(profiles)
    return out, attachments


def _feeder_template(
    spec: str, problems: list[str]
) -> tuple[pandapowerNet, dict[int, float], dict[int, pd.Index], str] | None:
    """The feeder grid without its external grid, HV buses and HV/MV transformers: the net,
    its MV roots (each with the larger of its nominal apparent load and generation, MVA),
    each root's buses, and the grid's name."""
    if not (spec.startswith("simbench:") or spec == "pandapower:create_cigre_network_mv"):
        problems.append(
            f"feeders.grid = {spec!r}: expected 'simbench:CODE' of an MV grid or "
            "'pandapower:create_cigre_network_mv'"
        )
        return None
    try:
        f = copy.deepcopy(load_net(spec))
    except GridSourceError as err:
        problems.append(f"feeders.grid: {err}")
        return None
    extra = [
        f"{int(f[t].in_service.astype(bool).sum())} '{t}'"
        for t in ("gen", "shunt", "trafo3w", "impedance", "ward", "xward", "dcline", "storage")
        if t in f and len(f[t]) and f[t].in_service.astype(bool).any()
    ]
    if extra:
        problems.append(
            f"feeders.grid = {spec!r} has elements a feeder does not take: {', '.join(extra)}"
        )
    if len(f.ext_grid) != 1:
        problems.append(
            f"feeders.grid = {spec!r}: expected one external grid, not {len(f.ext_grid)}"
        )
    if problems:
        return None
    fmap = fused_bus_map(f)
    hv_nodes = {int(fmap.loc[int(f.ext_grid.bus.iloc[0])])}
    hv = f.bus.index[[int(fmap.get(int(b), -1)) in hv_nodes for b in f.bus.index]]
    tr = f.trafo[f.trafo.hv_bus.isin(hv)]
    if tr.empty or len(tr) != len(f.trafo):
        problems.append(
            f"feeders.grid = {spec!r}: expected only HV/MV transformers at its external grid's "
            f"bus (it has {len(f.trafo)} transformers, {len(tr)} there)"
        )
        return None
    on_hv = [
        f"{t} {_ids(f[t].index[f[t].bus.isin(hv)])}"
        for t in ("load", "sgen")
        if f[t].bus.isin(hv).any()
    ]
    if f.line.from_bus.isin(hv).any() or f.line.to_bus.isin(hv).any():
        on_hv.append("lines")
    if on_hv:
        problems.append(
            f"feeders.grid = {spec!r}: elements at the HV bus ({'; '.join(on_hv)}); a feeder "
            "starts at the transformers' MV side"
        )
        return None
    roots_raw = {int(fmap.loc[int(b)]) for b in tr.lv_bus}
    sw = f.switch
    f.switch.drop(
        sw.index[(sw.bus.isin(hv)) | ((sw.et == "b") & sw.element.isin(hv)) | (sw.et == "t")],
        inplace=True,
    )
    other = sorted(set(f.switch.et) - {"b", "l"})
    if other:
        problems.append(f"feeders.grid = {spec!r}: switches of kinds {other} are not taken")
        return None
    f.trafo.drop(f.trafo.index, inplace=True)
    if "measurement" in f:  # state-estimation measurements: tsodso does not use them
        f.measurement.drop(f.measurement.index, inplace=True)
    f.ext_grid.drop(f.ext_grid.index, inplace=True)
    f.bus.drop(hv, inplace=True)
    # each root's nominal apparent load and generation, over the buses it feeds
    comp = _components(f)
    ld, sg = f.load[f.load.in_service.astype(bool)], f.sgen[f.sgen.in_service.astype(bool)]
    roots: dict[int, float] = {}
    members: dict[int, pd.Index] = {}
    for r in sorted(roots_raw):
        m = comp[comp == comp.loc[r]].index
        in_m, sg_m = ld.bus.isin(m), sg.bus.isin(m)
        s_load = float(np.hypot(ld.p_mw[in_m].sum(), ld.q_mvar[in_m].sum()))
        roots[r] = max(s_load, float(sg.p_mw[sg_m].sum()))
        members[r] = m
    name = "CIGRE-MV" if spec.startswith("pandapower:") else spec.split(":", 1)[1]
    if "subnet" in f.bus:
        names = f.bus.subnet.dropna().astype(str).str.split("_").str[0]
        if len(names):
            name = str(names.mode().iloc[0])
    name = name.replace("_", "-")
    if float(_bus_loads(f).sum()) <= 0:
        problems.append(f"feeders.grid = {spec!r}: has no load to scale")
        return None
    return f, roots, members, name


def _append(out: pandapowerNet, part: pandapowerNet) -> dict[int, int]:
    """Append the feeder ``part`` (buses, lines, switches, loads, static generators) to
    ``out`` in place under fresh indices; returns the feeder's bus lookup (old -> new)."""

    def shifted(table: str) -> dict[int, int]:
        start = int(out[table].index.max()) + 1 if len(out[table]) else 0
        return {int(x): start + i for i, x in enumerate(part[table].index)}

    bus_of, line_of = shifted("bus"), shifted("line")
    tables = {"bus": bus_of, "line": line_of, "load": shifted("load"), "sgen": shifted("sgen")}
    tables["switch"] = shifted("switch")
    rows = {t: part[t].rename(index=m) for t, m in tables.items()}
    for t in ("load", "sgen"):
        rows[t]["bus"] = rows[t].bus.map(bus_of)
    rows["line"]["from_bus"] = rows["line"].from_bus.map(bus_of)
    rows["line"]["to_bus"] = rows["line"].to_bus.map(bus_of)
    sw = rows["switch"]
    sw["bus"] = sw.bus.map(bus_of)
    sw["element"] = [
        bus_of[int(e)] if et == "b" else line_of[int(e)]
        for e, et in zip(sw.element, sw.et, strict=True)
    ]
    for t, r in rows.items():
        if r.empty:
            continue
        for c in out[t].columns.difference(r.columns):
            r[c] = np.nan if out[t][c].dtype != bool else False
        merged = pd.concat([out[t], r[r.columns]], sort=False)
        out[t] = merged
    return bus_of


def _components(net: pandapowerNet) -> pd.Series:
    """Connected component of every bus over closed switches and lines in operation."""
    fmap = fused_bus_map(net)
    parent = {int(b): int(fmap.loc[b]) for b in fmap.index}

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    ln = net.line[line_in_operation(net)]
    for a, b in zip(ln.from_bus.to_numpy(), ln.to_bus.to_numpy(), strict=True):
        if int(a) in parent and int(b) in parent:
            ra, rb = find(int(a)), find(int(b))
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    return pd.Series({b: find(b) for b in parent})


def _scaled(f: pandapowerNet, k: float) -> pandapowerNet:
    """``k`` copies of the feeder grid in parallel, fused node by node."""
    g = copy.deepcopy(f)
    for col in ("p_mw", "q_mvar", "sn_mva"):
        for t in ("load", "sgen"):
            if col in g[t]:
                g[t][col] = g[t][col] * k
    for col in ("max_p_mw", "min_p_mw", "max_q_mvar", "min_q_mvar"):
        if col in g.sgen:
            g.sgen[col] = g.sgen[col] * k
    g.line["r_ohm_per_km"] = g.line.r_ohm_per_km / k
    g.line["x_ohm_per_km"] = g.line.x_ohm_per_km / k
    g.line["c_nf_per_km"] = g.line.c_nf_per_km * k
    if "g_us_per_km" in g.line:
        g.line["g_us_per_km"] = g.line.g_us_per_km * k
    g.line["max_i_ka"] = g.line.max_i_ka * k
    return g


def _ids(index: pd.Index) -> str:
    items = [str(i) for i in index[:5]]
    return ", ".join(items) + (", ..." if len(index) > 5 else "")
