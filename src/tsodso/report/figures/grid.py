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


def grid_map(data: ReportData) -> go.Figure:
    """Map of the grid: nodes coloured by their worst distance outside the voltage band
    (pu; red above, blue below), branches by peak loading (% of rating); the dropdowns pick
    the case (uncoordinated, each model) and zoom to a feeder."""
    nodes, branches = _geometry(data)
    ns, bs = data.detail("node_state"), data.detail("branch_state")
    if ns is None or bs is None:
        raise MissingData("not in this output: AC results per node and branch (details/)")
    cases = _cases(data, ns)
    x, y = nodes.x.to_numpy(), nodes.y.to_numpy()
    fr, to = branches.from_node.to_numpy(), branches.to_node.to_numpy()
    lx = np.column_stack([x[fr], x[to], np.full(len(fr), np.nan)]).ravel()
    ly = np.column_stack([y[fr], y[to], np.full(len(fr), np.nan)]).ravel()
    mx, my = (x[fr] + x[to]) / 2, (y[fr] + y[to]) / 2
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=np.round(lx, 5),
            y=np.round(ly, 5),
            mode="lines",
            line={"color": "#b5b5b5", "width": 1},
            hoverinfo="skip",
            showlegend=False,
            connectgaps=False,
        )
    )

    def state(case: str) -> tuple[dict[str, object], dict[str, object]]:
        b = bs[bs.case == case].set_index("branch").reindex(branches.branch)
        n = ns[ns.case == case].set_index("node").reindex(nodes.node)
        load = np.round(b.loading_max_pct.to_numpy(dtype=float), 1)
        exc = np.round(n.excess_pu.to_numpy(dtype=float), 4)
        bad = n.violation_periods.to_numpy() > 0
        return (
            {
                "color": np.nan_to_num(load).tolist(),
                "size": np.where(b.overload_periods.to_numpy() > 0, 9, 5).tolist(),
                "customdata": np.column_stack([load, b.overload_periods.to_numpy()]).tolist(),
            },
            {
                "color": np.nan_to_num(exc).tolist(),
                "size": np.where(bad, 8, 4).tolist(),
                "customdata": np.column_stack(
                    [
                        np.round(n.vm_min_pu.to_numpy(dtype=float), 4),
                        np.round(n.vm_max_pu.to_numpy(dtype=float), 4),
                        n.violation_periods.to_numpy(),
                    ]
                ).tolist(),
            },
        )

    states = {c: state(c) for c in cases}
    b0, n0 = states[cases[0]]
    btext = [
        f"{k} {e} ({layer})"
        for k, e, layer in zip(branches.kind, branches.element, branches.layer, strict=True)
    ]
    fig.add_trace(
        go.Scatter(
            x=np.round(mx, 5),
            y=np.round(my, 5),
            mode="markers",
            name="branch peak loading",
            text=btext,
            marker={
                "color": b0["color"],
                "size": b0["size"],
                "colorscale": LOADING_SCALE,
                "cmin": 0,
                "cmax": LOADING_MAX_PCT,
                "symbol": "square",
                "colorbar": {
                    "title": {"text": "peak loading %"},
                    "x": 1.0,
                    "y": 0.0,
                    "len": 0.48,
                    "yanchor": "bottom",
                    "thickness": 12,
                },
            },
            customdata=b0["customdata"],
            hovertemplate="%{text}<br>peak loading %{customdata[0]:.1f} %"
            "<br>overloaded in %{customdata[1]} periods<extra></extra>",
            showlegend=False,
        )
    )
    ntext = [
        f"{nm} ({v:g} kV, {layer})"
        for nm, v, layer in zip(nodes.name, nodes.vn_kv, nodes.layer, strict=True)
    ]
    fig.add_trace(
        go.Scatter(
            x=np.round(x, 5),
            y=np.round(y, 5),
            mode="markers",
            name="node voltage",
            text=ntext,
            marker={
                "color": n0["color"],
                "size": n0["size"],
                "colorscale": VOLTAGE_SCALE,
                "cmin": -VOLTAGE_RANGE_PU,
                "cmax": VOLTAGE_RANGE_PU,
                "colorbar": {
                    "title": {"text": "outside band pu"},
                    "x": 1.0,
                    "y": 1.0,
                    "len": 0.48,
                    "yanchor": "top",
                    "thickness": 12,
                },
            },
            customdata=n0["customdata"],
            hovertemplate="%{text}<br>voltage %{customdata[0]:.3f} to %{customdata[1]:.3f} pu"
            "<br>outside the band in %{customdata[2]} periods<extra></extra>",
            showlegend=False,
        )
    )
    case_buttons = []
    for c in cases:
        b, n = states[c]
        case_buttons.append(
            {
                "label": c,
                "method": "restyle",
                "args": [
                    {
                        "marker.color": [b["color"], n["color"]],
                        "marker.size": [b["size"], n["size"]],
                        "customdata": [b["customdata"], n["customdata"]],
                    },
                    [1, 2],
                ],
            }
        )
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
    ratio = lonlat_ratio(y) if np.nanmax(np.abs(y)) <= 90 and np.nanmax(np.abs(x)) <= 180 else 1.0
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor="x", scaleratio=ratio)
    n_first = ns[ns.case == cases[0]]
    b_first = bs[bs.case == cases[0]]
    return with_reading(
        fig,
        f"Shown: {cases[0]}: {int((n_first.violation_periods > 0).sum()):,} of {len(nodes):,} "
        "nodes outside their voltage band in some period, "
        f"{int((b_first.overload_periods > 0).sum())} "
        "branches overloaded; node colour is the worst distance outside the band (pu), "
        "square markers the branches' peak loading (%). Zoom to a feeder from the right-hand menu.",
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

    def grid(case: str, col: str) -> np.ndarray:
        t = fp[fp.case == case].pivot_table(
            index="layer", columns="period", values=col, aggfunc="sum"
        )
        return t.reindex(index=layers, columns=periods).fillna(0).to_numpy(dtype=int)

    z = {c: grid(c, "voltage_violations") for c in cases}
    over = {c: grid(c, "overloaded_branches") for c in cases}
    zmax = max(1, max(int(v.max(initial=0)) for v in z.values()))
    c0 = cases[0]
    fig = go.Figure(
        go.Heatmap(
            z=z[c0],
            x=labels,
            y=layers,
            customdata=over[c0],
            colorscale=[[0.0, "#f7f7f7"], [0.02, "#fee0d2"], [0.4, "#fb6a4a"], [1.0, "#67000d"]],
            zmin=0,
            zmax=zmax,
            colorbar={"title": {"text": "nodes outside band"}, "thickness": 12},
            hovertemplate="%{y} at %{x}<br>%{z} nodes outside their voltage band"
            "<br>%{customdata} branches overloaded<extra></extra>",
            xgap=1,
            ygap=1,
        )
    )
    buttons = [
        {
            "label": c,
            "method": "restyle",
            "args": [{"z": [z[c].tolist()], "customdata": [over[c].tolist()]}, [0]],
        }
        for c in cases
    ]
    base_layout(
        fig, "Voltage band violations per feeder and period (node count)", 160 + 18 * len(layers)
    )
    fig.update_layout(
        updatemenus=[dropdown(buttons, x=1.0, xanchor="right")] if len(cases) > 1 else []
    )
    fig.update_xaxes(title_text="quarter-hour starting", type="category")
    fig.update_yaxes(type="category", autorange="reversed")
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
