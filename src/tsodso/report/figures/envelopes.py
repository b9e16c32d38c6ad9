"""Dynamic operating envelopes: hosting against fairness per method (a run's DOE report)
or per model (models that use envelopes), and each customer's envelope on the map.

Owns: these figures. Must not: compute envelopes.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from tsodso.report.figures.common import (
    MissingData,
    base_layout,
    dropdown,
    kpi,
    lonlat_ratio,
    ordered_results,
    with_reading,
)
from tsodso.report.figures.grid import zoom_ranges
from tsodso.report.load import ReportData

DIRECTION = {1: "export", -1: "import"}


def envelope_figure(data: ReportData) -> go.Figure:
    """Hosting (MW, mean total over periods, AC-verified) against fairness (Jain index,
    1 = equal for all) per DOE method and direction; per model where a comparison has
    models that use envelopes."""
    summary = data.tables.get("doe_summary")
    fig = go.Figure()
    if summary is not None and not summary.empty:
        for d, g in summary.groupby("direction", sort=False):
            name = DIRECTION.get(int(d), str(d))
            fig.add_trace(
                go.Scatter(
                    x=g.jain,
                    y=g.hosting_mw,
                    mode="markers+text",
                    text=g.method.astype(str),
                    textposition="top center",
                    name=name,
                    marker={"size": 11, "symbol": "circle" if int(d) > 0 else "diamond"},
                    customdata=np.column_stack([g.ac_pass_share * 100, g.hosting_linear_mw])
                    if {"ac_pass_share", "hosting_linear_mw"} <= set(g.columns)
                    else None,
                    hovertemplate="%{text}: %{y:.1f} MW, Jain %{x:.3f}"
                    + (
                        "<br>unscaled AC pass %{customdata[0]:.0f} %,"
                        " linear %{customdata[1]:.1f} MW"
                        if {"ac_pass_share", "hosting_linear_mw"} <= set(g.columns)
                        else ""
                    )
                    + "<extra></extra>",
                )
            )
        best = summary.loc[summary.hosting_mw.idxmax()]
        fair = summary.loc[summary.jain.idxmax()]
        txt = (
            f"Most hosting: {best.method} {DIRECTION.get(int(best.direction), '')} "
            f"({best.hosting_mw:,.1f} MW, Jain {best.jain:.2f}); fairest: {fair.method} "
            f"(Jain {fair.jain:.2f}, {fair.hosting_mw:,.1f} MW). MW are after AC verification."
        )
        title = "Envelopes: hosting (MW) against fairness (Jain index), per method"
    else:
        r = ordered_results(data)
        h, j = kpi(r, "doe_hosting_mw"), kpi(r, "doe_fairness_jain")
        if h is None or j is None:
            raise MissingData(
                "not in this output: envelopes (doe_summary of `tsodso run`, or "
                "doe_hosting_mw of a model that uses envelopes)"
            )
        ok = h.notna() & j.notna()
        fig.add_trace(
            go.Scatter(
                x=j[ok],
                y=h[ok],
                mode="markers+text",
                text=r.model[ok],
                textposition="top center",
                marker={"size": 11},
                name="models with envelopes",
                hovertemplate="%{text}: %{y:.1f} MW, Jain %{x:.3f}<extra></extra>",
            )
        )
        txt = (
            f"{int(ok.sum())} model(s) use envelopes: "
            + ", ".join(
                f"{m} {hv:,.1f} MW (Jain {jv:.2f})"
                for m, hv, jv in zip(r.model[ok], h[ok], j[ok], strict=True)
            )
            + ". The others do not (left out)."
        )
        title = "Envelopes of the models that use them: hosting (MW) against fairness (Jain)"
    base_layout(fig, title, 420)
    fig.update_xaxes(title_text="Jain fairness index (1 = equal)", range=[0, 1.05])
    fig.update_yaxes(title_text="hosting MW (mean total over periods)", rangemode="tozero")
    return with_reading(fig, txt)


def envelope_map(data: ReportData) -> go.Figure:
    """Each customer's envelope (MW, mean over periods, AC-verified) on the map, per
    method and direction (dropdown)."""
    does = data.tables.get("does")
    nodes = data.detail("nodes")
    if does is None or does.empty:
        raise MissingData("not in this output: per-customer envelopes (does of `tsodso run`)")
    if nodes is None or nodes.x.isna().all():
        raise MissingData("not in this output: bus coordinates (details/nodes)")
    per = (
        does.groupby(["method", "direction", "bus"], observed=True, sort=False)
        .limit_mw.mean()
        .reset_index()
    )
    xy = nodes.drop_duplicates("bus").set_index("bus")[["x", "y", "name"]]
    per = per[per.bus.isin(xy.index)]
    have = set(zip(per.method.astype(str), per.direction.astype(int), strict=True))
    summary = data.tables.get("doe_summary")
    order = (
        list(zip(summary.method.astype(str), summary.direction.astype(int), strict=True))
        if summary is not None
        else sorted(have)
    )
    combos = [c for c in order if c in have] + sorted(have - set(order))
    per["method"] = per.method.astype(str)
    if not combos:
        raise MissingData("no envelope customer is on a bus with coordinates")
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=nodes.x,
            y=nodes.y,
            mode="markers",
            marker={"size": 2, "color": "#cccccc"},
            hoverinfo="skip",
            showlegend=False,
        )
    )
    cmax = float(np.nanpercentile(per.limit_mw, 98)) if len(per) else 1.0
    buttons = []
    for i, (m, d) in enumerate(combos):
        g = per[(per.method == m) & (per.direction == d)]
        pos = xy.loc[g.bus]
        fig.add_trace(
            go.Scatter(
                x=pos.x,
                y=pos.y,
                mode="markers",
                text=pos.name,
                customdata=np.round(g.limit_mw.to_numpy(), 3),
                marker={
                    "size": 6,
                    "color": g.limit_mw,
                    "colorscale": "Viridis",
                    "cmin": 0,
                    "cmax": max(cmax, 1e-3),
                    "colorbar": {"title": {"text": "MW"}, "thickness": 12},
                },
                hovertemplate="%{text}: %{customdata} MW<extra></extra>",
                visible=i == 0,
                showlegend=False,
            )
        )
        vis = [True] + [k == i for k in range(len(combos))]
        buttons.append(
            {
                "label": f"{m} {DIRECTION.get(int(d), d)}",
                "method": "update",
                "args": [{"visible": vis}],
            }
        )
    base_layout(fig, "Per-customer envelopes (MW, mean over periods, AC-verified)", 560)
    zoom = [
        {
            "label": f"zoom: {name}",
            "method": "relayout",
            "args": [{"xaxis.range": xr, "yaxis.range": yr}],
        }
        for name, (xr, yr) in zoom_ranges(nodes).items()
    ]
    fig.update_layout(
        updatemenus=[dropdown(buttons, x=0.0), dropdown(zoom, x=1.0, xanchor="right")]
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor="x", scaleratio=lonlat_ratio(nodes.y.to_numpy()))
    m0, d0 = combos[0]
    g0 = per[(per.method == m0) & (per.direction == d0)]
    return with_reading(
        fig,
        f"Shown: {m0} {DIRECTION.get(int(d0), d0)}: {len(g0):,} customers, median "
        f"{float(g0.limit_mw.median()):.3f} MW; the dropdown shows the other methods.",
    )
