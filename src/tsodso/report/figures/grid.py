"""The grid: a map of the network from the buses' coordinates, coloured by voltage band
violations (nodes) and peak branch loading (a marker at each branch's middle), before
(the uncoordinated day) and after each model; and a feeder x period heatmap of
violations.

simbench places every bus; its MV feeders sit in a few km around their substation on a
map of the whole 110 kV grid, so the map zooms to each feeder from a dropdown. No tiles:
the map is a plain plot of longitude and latitude, so nothing is fetched.

Owns: these figures. Must not: run power flows (the AC check's results are read).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from tsodso.report.details import TRANSMISSION, UNCOORDINATED
from tsodso.report.figures.common import (
    MissingData,
    base_layout,
    dropdown,
    lonlat_ratio,
    num,
    period_labels,
    with_reading,
)
from tsodso.report.load import ReportData

VOLTAGE_SCALE = [
    [0.0, "#2166ac"],
    [0.45, "#c6dbef"],
    [0.5, "#d0d0d0"],
    [0.55, "#fcbba1"],
    [1.0, "#b2182b"],
]
LOADING_SCALE = [[0.0, "#e0e0e0"], [0.5, "#fdae61"], [0.8333, "#d7191c"], [1.0, "#4d0013"]]
VOLTAGE_RANGE_PU = 0.05  # colour saturates this far outside the band
LOADING_MAX_PCT = 120.0
STRESSED_PCT = 60.0  # branches loaded above this at peak are marked on the map


def _cases(data: ReportData, table: pd.DataFrame) -> list[str]:
    have = set(table.case.astype(str))
    first = [UNCOORDINATED] if UNCOORDINATED in have else []
    models = [m for m in data.model_ids if m in have]
    rest = [c for c in pd.unique(table.case.astype(str)) if c not in first and c not in models]
    return first + models + rest


def _geometry(data: ReportData) -> tuple[pd.DataFrame, pd.DataFrame]:
    nodes, branches = data.detail("nodes"), data.detail("branches")
    if nodes is None or branches is None:
        raise MissingData("not in this output: the grid's nodes and branches (details/)")
    if nodes.x.isna().all():
        raise MissingData("this grid has no bus coordinates, so no map can be drawn")
    return nodes, branches


def zoom_ranges(
    nodes: pd.DataFrame, pad: float = 0.06
) -> dict[str, tuple[list[float], list[float]]]:
    """x and y ranges of the whole grid and of each feeder, padded."""
    out = {}
    groups = [("whole grid", nodes)] + [
        (str(layer), g) for layer, g in nodes.groupby("layer", sort=True) if layer != TRANSMISSION
    ]
    for name, g in groups:
        x, y = g.x.dropna(), g.y.dropna()
        if x.empty:
            continue
        dx = max(float(x.max() - x.min()), 1e-3) * pad
        dy = max(float(y.max() - y.min()), 1e-3) * pad
        out[name] = (
            [float(x.min()) - dx, float(x.max()) + dx],
            [float(y.min()) - dy, float(y.max()) + dy],
        )
    return out


def _by_case(table: pd.DataFrame, key: str, index: np.ndarray) -> dict[str, pd.DataFrame]:
    """One frame per case, indexed by ``key`` in the order of ``index``."""
    return {str(c): g.set_index(key).reindex(index) for c, g in table.groupby("case", sort=False)}


def grid_map(data: ReportData) -> go.Figure:
    """Map of the grid: nodes outside their voltage band coloured by the worst distance
    outside it (pu; red above, blue below), branches loaded above ``STRESSED_PCT`` of
    their rating marked by peak loading (%); every other node and branch in grey. The
    dropdowns pick the case (uncoordinated, each model) and zoom to a feeder."""
    nodes, branches = _geometry(data)
    ns, bs = data.detail("node_state"), data.detail("branch_state")
    if ns is None or bs is None:
        raise MissingData("not in this output: AC results per node and branch (details/)")
    cases = _cases(data, ns)
    x, y = nodes.x.to_numpy(dtype=float), nodes.y.to_numpy(dtype=float)
    fr, to = branches.from_node.to_numpy(), branches.to_node.to_numpy()
    lx = np.column_stack([x[fr], x[to], np.full(len(fr), np.nan)]).ravel()
    ly = np.column_stack([y[fr], y[to], np.full(len(fr), np.nan)]).ravel()
    mx, my = (x[fr] + x[to]) / 2, (y[fr] + y[to]) / 2
    ntext = np.array(
        [
            f"{nm} ({v:g} kV, {layer})"
            for nm, v, layer in zip(nodes.name, nodes.vn_kv, nodes.layer, strict=True)
        ],
        dtype=object,
    )
    btext = np.array(
        [
            f"{k} {e} ({layer})"
            for k, e, layer in zip(branches.kind, branches.element, branches.layer, strict=True)
        ],
        dtype=object,
    )
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=lx.astype(np.float32),
            y=ly.astype(np.float32),
            mode="lines",
            line={"color": "#c4c4c4", "width": 1},
            hoverinfo="skip",
            showlegend=False,
        )
    )
    fig.add_trace(
        go.Scatter(
            x=x.astype(np.float32),
            y=y.astype(np.float32),
            mode="markers",
            marker={"color": "#bdbdbd", "size": 3},
            text=ntext,
            hovertemplate="%{text}<extra></extra>",
            showlegend=False,
        )
    )
    node_by = _by_case(ns, "node", nodes.node.to_numpy())
    branch_by = _by_case(bs, "branch", branches.branch.to_numpy())
    counts = {}
    for i, c in enumerate(cases):
        b, n = branch_by[c], node_by[c]
        load = b.loading_max_pct.to_numpy(dtype=float)
        hot = np.flatnonzero(np.nan_to_num(load) >= STRESSED_PCT)
        over = b.overload_periods.to_numpy()
        fig.add_trace(
            go.Scatter(
                x=mx[hot].astype(np.float32),
                y=my[hot].astype(np.float32),
                mode="markers",
                text=btext[hot],
                marker={
                    "color": np.round(load[hot], 1),
                    "size": np.where(over[hot] > 0, 10, 7),
                    "symbol": "square",
                    "colorscale": LOADING_SCALE,
                    "cmin": 0,
                    "cmax": LOADING_MAX_PCT,
                    "colorbar": {
                        "title": {"text": "peak loading %"},
                        "x": 1.0,
                        "y": 0.0,
                        "len": 0.48,
                        "yanchor": "bottom",
                        "thickness": 12,
                    },
                },
                customdata=over[hot],
                hovertemplate="%{text}<br>peak loading %{marker.color:.1f} %"
                "<br>overloaded in %{customdata} periods<extra></extra>",
                showlegend=False,
                visible=i == 0,
            )
        )
        periods = n.violation_periods.to_numpy()
        bad = np.flatnonzero(periods > 0)
        vm = np.column_stack([n.vm_min_pu.to_numpy(dtype=float), n.vm_max_pu.to_numpy(dtype=float)])
        fig.add_trace(
            go.Scatter(
                x=x[bad].astype(np.float32),
                y=y[bad].astype(np.float32),
                mode="markers",
                text=ntext[bad],
                marker={
                    "color": np.round(n.excess_pu.to_numpy(dtype=float)[bad], 4),
                    "size": 8,
                    "colorscale": VOLTAGE_SCALE,
                    "cmin": -VOLTAGE_RANGE_PU,
                    "cmax": VOLTAGE_RANGE_PU,
                    "line": {"width": 0.5, "color": "#555"},
                    "colorbar": {
                        "title": {"text": "outside band pu"},
                        "x": 1.0,
                        "y": 1.0,
                        "len": 0.48,
                        "yanchor": "top",
                        "thickness": 12,
                    },
                },
                customdata=np.column_stack([np.round(vm[bad], 4), periods[bad]]),
                hovertemplate="%{text}<br>voltage %{customdata[0]:.3f} to %{customdata[1]:.3f} pu"
                "<br>outside the band in %{customdata[2]} periods<extra></extra>",
                showlegend=False,
                visible=i == 0,
            )
        )
        counts[c] = (len(bad), int((over > 0).sum()), len(hot))
    case_buttons = [
        {
            "label": c,
            "method": "restyle",
            "args": [
                {"visible": [True, True] + [k == i for k in range(len(cases)) for _ in (0, 1)]}
            ],
        }
        for i, c in enumerate(cases)
    ]
    zoom_buttons = [
        {
            "label": f"zoom: {name}",
            "method": "relayout",
            "args": [{"xaxis.range": xr, "yaxis.range": yr}],
        }
        for name, (xr, yr) in zoom_ranges(nodes).items()
    ]
    menus = [dropdown(zoom_buttons, x=1.0, xanchor="right")]
    if len(cases) > 1:
        menus.insert(0, dropdown(case_buttons, x=0.0))
    base_layout(fig, "The grid: voltage band violations and peak branch loading", 640)
    fig.update_layout(updatemenus=menus, margin={"l": 10, "r": 10, "t": 100, "b": 10})
    lonlat = np.nanmax(np.abs(y)) <= 90 and np.nanmax(np.abs(x)) <= 180
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor="x", scaleratio=lonlat_ratio(y) if lonlat else 1.0)
    n_bad, n_over, n_hot = counts[cases[0]]
    return with_reading(
        fig,
        f"Shown: {cases[0]}: {n_bad:,} of {len(nodes):,} nodes outside their voltage band in "
        f"some period (coloured by the worst distance outside it, pu), {n_hot} branches above "
        f"{STRESSED_PCT:.0f} % of their rating at peak ({n_over} overloaded; squares, %). "
        "The menus pick the case and zoom to a feeder.",
    )


def violation_heatmap(data: ReportData) -> go.Figure:
    """Voltage band violations per feeder and period (nodes outside their band), one
    case at a time (dropdown: the uncoordinated day, each model); one colour scale for all."""
    fp = data.detail("feeder_periods")
    if fp is None:
        raise MissingData("not in this output: violations per feeder and period (details/)")
    cases = _cases(data, fp)
    layers = [TRANSMISSION] if TRANSMISSION in set(fp.layer) else []
    layers += sorted(set(fp.layer.astype(str)) - {TRANSMISSION})
    periods = np.sort(fp.period.unique())
    labels = period_labels(data, periods)
    row = {name: i for i, name in enumerate(layers)}
    col = {int(p): j for j, p in enumerate(periods)}
    z = {c: np.zeros((len(layers), len(periods)), dtype=np.int32) for c in cases}
    over = {c: np.zeros((len(layers), len(periods)), dtype=np.int32) for c in cases}
    r = fp.layer.astype(str).map(row).to_numpy()
    k = fp.period.astype(int).map(col).to_numpy()
    for c, idx in fp.groupby("case", sort=False).indices.items():
        np.add.at(z[str(c)], (r[idx], k[idx]), fp.voltage_violations.to_numpy()[idx])
        np.add.at(over[str(c)], (r[idx], k[idx]), fp.overloaded_branches.to_numpy()[idx])
    zmax = max(1, max(int(v.max(initial=0)) for v in z.values()))
    fig = go.Figure()
    for i, c in enumerate(cases):
        fig.add_trace(
            go.Heatmap(
                z=z[c],
                x=labels,
                y=layers,
                customdata=over[c],
                colorscale=[
                    [0.0, "#f7f7f7"],
                    [0.02, "#fee0d2"],
                    [0.4, "#fb6a4a"],
                    [1.0, "#67000d"],
                ],
                zmin=0,
                zmax=zmax,
                colorbar={"title": {"text": "nodes outside band"}, "thickness": 12},
                hovertemplate="%{y} at %{x}<br>%{z} nodes outside their voltage band"
                "<br>%{customdata} branches overloaded<extra></extra>",
                xgap=1,
                ygap=1,
                name=c,
                visible=i == 0,
            )
        )
    buttons = [
        {
            "label": c,
            "method": "restyle",
            "args": [{"visible": [k == i for k in range(len(cases))]}],
        }
        for i, c in enumerate(cases)
    ]
    base_layout(
        fig, "Voltage band violations per feeder and period (node count)", 160 + 18 * len(layers)
    )
    fig.update_layout(
        updatemenus=[dropdown(buttons, x=1.0, xanchor="right")] if len(cases) > 1 else []
    )
    fig.update_xaxes(title_text="quarter-hour starting", type="category")
    fig.update_yaxes(type="category", autorange="reversed")
    c0 = cases[0]
    totals = {c: int(v.sum()) for c, v in z.items()}
    worst = layers[int(z[c0].sum(axis=1).argmax())] if totals[c0] else None
    txt = f"Shown: {c0}, {totals[c0]:,} node-intervals outside the band"
    txt += f" (most on {worst})" if worst else ""
    others = {c: v for c, v in totals.items() if c != c0}
    if others:
        lo, hi = min(others, key=others.__getitem__), max(others, key=others.__getitem__)
        txt += (
            f"; fewest after coordination: {lo} ({num(others[lo], digits=0)}), "
            f"most: {hi} ({num(others[hi], digits=0)})"
        )
    return with_reading(fig, txt + ".")
