"""The scenario: its DERs by kind and owner (aggregator), and the facts of the day
(grid, sizes, the uncoordinated day's problems) as a table.

Owns: these figures. Must not: build scenarios.
"""

from __future__ import annotations

from typing import Any

import plotly.express as px
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from tsodso.report.figures.common import MissingData, base_layout, legend_right, with_reading
from tsodso.report.load import ReportData


def scenario_facts(data: ReportData) -> list[tuple[str, str]]:
    """(label, value) lines about the scenario, from whatever the output says."""
    s = data.scenario
    cfg: dict[str, Any] = s.get("config") or {}
    sz: dict[str, Any] = s.get("sizes") or {}
    base: dict[str, Any] = s.get("baseline") or {}
    reg: dict[str, Any] = s.get("registration") or {}
    out: list[tuple[str, str]] = []
    if s.get("name"):
        out.append(("scenario", f"{s['name']} ({s.get('digest', '')})"))
    if cfg.get("grid"):
        out.append(("grid", str(cfg["grid"])))
    if "day" in cfg:
        first = cfg.get("first_period", 0) or 0
        n = cfg.get("periods", sz.get("periods", "?"))
        out.append(
            (
                "day",
                f"day {cfg['day']} of 2016, {n} quarter-hours from "
                f"{first // 4:02d}:{first % 4 * 15:02d}",
            )
        )
    if sz:
        out.append(
            (
                "size",
                ", ".join(
                    f"{sz[k]:,} {label}"
                    for k, label in (
                        ("buses", "buses"),
                        ("nodes", "nodes"),
                        ("feeders", "feeders"),
                        ("ders", "DERs"),
                        ("aggregators", "aggregators"),
                        ("bids", "bids"),
                    )
                    if isinstance(sz.get(k), int)
                ),
            )
        )
    if base:
        parts = []
        if "overload_transmission_mwh" in base:
            parts.append(f"transmission overload {base['overload_transmission_mwh']:,} MWh")
        if "overload_distribution_mwh" in base:
            parts.append(f"distribution overload {base['overload_distribution_mwh']:,} MWh")
        if "voltage_violations" in base:
            parts.append(f"{base['voltage_violations']:,} node-intervals outside the voltage band")
        if "imbalance_mwh" in base:
            parts.append(f"TSO imbalance {base['imbalance_mwh']:,} MWh")
        out.append(("uncoordinated day (AC)", "; ".join(parts)))
    if reg:
        out.append(
            (
                "registration",
                ", ".join(
                    f"{k.replace('_', ' ')} {v:,}"
                    for k, v in reg.items()
                    if isinstance(v, int | float)
                ),
            )
        )
    return out


def ders_figure(data: ReportData) -> go.Figure:
    """DERs by kind: how many (left) and their rated MW (right), stacked by the aggregator
    that bids for them."""
    ders = data.detail("ders")
    if ders is None or ders.empty:
        raise MissingData("not in this output: the DER table (details/ders)")
    g = ders.groupby(["kind", "aggregator"], as_index=False)[
        ["ders", "qualified", "rated_mw"]
    ].sum()
    kinds = g.groupby("kind").ders.sum().sort_values(ascending=False).index.tolist()
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.08,
        subplot_titles=("DERs (count)", "rated power (MW)"),
    )
    palette = px.colors.qualitative.Set2
    for i, (agg, a) in enumerate(g.groupby("aggregator", sort=True)):
        a = a.set_index("kind").reindex(kinds).fillna(0)
        colour = palette[i % len(palette)]
        for col, values in ((1, a.ders), (2, a.rated_mw)):
            fig.add_trace(
                go.Bar(
                    x=kinds,
                    y=values,
                    name=str(agg),
                    legendgroup=str(agg),
                    showlegend=col == 1,
                    marker_color=colour,
                    customdata=a[["ders", "qualified", "rated_mw"]].to_numpy(),
                    hovertemplate=f"{agg}: "
                    + "%{x}: %{customdata[0]:.0f} DERs (%{customdata[1]:.0f} prequalified), "
                    "%{customdata[2]:,.1f} MW rated<extra></extra>",
                ),
                row=1,
                col=col,
            )
    base_layout(fig, "DERs by kind and aggregator", 380)
    legend_right(fig)
    fig.update_layout(barmode="stack")
    tot = g.groupby("kind")[["ders", "rated_mw"]].sum()
    n, q = int(g.ders.sum()), int(g.qualified.sum())
    top = ", ".join(f"{k} {int(tot.ders[k]):,} ({tot.rated_mw[k]:,.0f} MW)" for k in kinds[:3])
    return with_reading(
        fig,
        f"{n:,} DERs ({q:,} prequalified) bid through {g.aggregator.nunique()} aggregators; "
        f"most numerous: {top}.",
    )
