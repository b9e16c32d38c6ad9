"""An assessment's figures (``tsodso assess --out``): the ranking by annual cost to serve
with its 90 % intervals and stability, the net present value and its parts, the switching
values of the assumptions, and the tornado of the leading model's NPV.

Owns: these figures. Must not: assess (``tsodso.assess`` does; the report reads its
Parquet tables only).
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from tsodso.report.figures.common import MissingData, base_layout, with_reading
from tsodso.report.load import ReportData


def _table(data: ReportData, name: str, *columns: str) -> pd.DataFrame:
    t = data.tables.get(name)
    if t is None or t.empty:
        raise MissingData(f"not in this output: the assessment's {name} table")
    missing = [c for c in columns if c not in t]
    if missing:
        raise MissingData(f"not in this output: {', '.join(missing)} in the {name} table")
    return t


def _eur(v: float) -> str:
    return f"EUR {v:,.0f}"


def ranking_figure(data: ReportData) -> go.Figure:
    """Annual cost to serve per model (best first) with its 90 % interval, and how often
    each model ranked first and in the top three."""
    t = _table(data, "ranking", "model", "cost_to_serve_eur", "p05", "p95")
    t = t.sort_values("cost_to_serve_eur", kind="stable").reset_index(drop=True)
    first = t.get("share_first", pd.Series([float("nan")] * len(t)))
    top3 = t.get("share_top3", pd.Series([float("nan")] * len(t)))
    fig = go.Figure(
        go.Bar(
            y=t.model,
            x=t.cost_to_serve_eur,
            orientation="h",
            error_x={
                "type": "data",
                "symmetric": False,
                "array": (t.p95 - t.cost_to_serve_eur).clip(lower=0),
                "arrayminus": (t.cost_to_serve_eur - t.p05).clip(lower=0),
            },
            customdata=list(zip(t.p05, t.p95, first, top3, strict=True)),
            hovertemplate="%{y}: EUR %{x:,.0f} a year (90 %: %{customdata[0]:,.0f} - "
            "%{customdata[1]:,.0f}); first in %{customdata[2]:.0%}, top three in "
            "%{customdata[3]:.0%}<extra></extra>",
            marker_color="#1f3b57",
        )
    )
    base_layout(fig, "Annual cost to serve, 90 % interval (EUR a year)", 120 + 24 * len(t), True)
    fig.update_xaxes(title_text="EUR a year")
    lead = t.iloc[0]
    txt = (
        f"{lead.model} serves the needs at the least annual cost, "
        f"{_eur(lead.cost_to_serve_eur)} (90 %: {lead.p05:,.0f} - {lead.p95:,.0f})"
    )
    if pd.notna(first.iloc[0]):
        txt += f"; it ranks first in {first.iloc[0]:.0%} of the draws"
    if len(t) > 1:
        nxt = t.iloc[1]
        overlap = nxt.p05 <= lead.p95
        txt += f"; the next, {nxt.model}, costs {_eur(nxt.cost_to_serve_eur)}" + (
            " and their intervals overlap" if overlap else " and their intervals are apart"
        )
    return with_reading(fig, txt + ".")


#: the NPV's parts (column, label, sign in the NPV)
NPV_PARTS = (
    ("capex_eur", "implementation (one-off)", -1.0),
    ("opex_eur_year1", "operating cost, year 1", -1.0),
    ("operational_benefit_eur_year1", "operational benefit, year 1", 1.0),
    ("network_benefit_eur_year1", "network benefit, year 1", 1.0),
)


def npv_figure(data: ReportData) -> go.Figure:
    """Net present value per model (best first) beside its parts: the one-off
    implementation cost and year 1's operating cost and benefits, as signed bars."""
    t = _table(data, "npv", "model", "npv_eur")
    t = t.sort_values("npv_eur", ascending=False, kind="stable").reset_index(drop=True)
    fig = go.Figure()
    for col, label, sign in NPV_PARTS:
        if col in t:
            fig.add_trace(
                go.Bar(
                    y=t.model,
                    x=sign * t[col],
                    name=label,
                    orientation="h",
                    hovertemplate=f"%{{y}}: {label} EUR %{{x:,.0f}}<extra></extra>",
                )
            )
    fig.add_trace(
        go.Scatter(
            y=t.model,
            x=t.npv_eur,
            mode="markers",
            name="net present value",
            marker={"symbol": "diamond", "size": 11, "color": "#222"},
            hovertemplate="%{y}: NPV EUR %{x:,.0f}<extra></extra>",
        )
    )
    base_layout(fig, "Net present value and its parts (EUR)", 160 + 26 * len(t), True)
    fig.update_layout(barmode="relative")
    fig.update_xaxes(title_text="EUR (costs negative, benefits positive)")
    lead, last = t.iloc[0], t.iloc[-1]
    txt = (
        f"{lead.model} has the highest net present value ({_eur(lead.npv_eur)}), "
        f"{last.model} the lowest ({_eur(last.npv_eur)}); bars are the one-off "
        "implementation cost and year 1's costs and benefits, the diamond the NPV over the "
        "horizon"
    )
    return with_reading(fig, txt + ".")


def switching_figure(data: ReportData) -> go.Figure:
    """For each assumption, how far it must move (as a multiple of its central value) to
    change the model ranked first by NPV; none drawn where no value in reach does."""
    t = _table(data, "switching", "assumption", "central", "switching_value")
    t = t.copy()
    ratio = t["ratio_to_central"] if "ratio_to_central" in t else t.switching_value / t.central
    t["ratio"] = pd.to_numeric(ratio, errors="coerce")
    found = t[t.ratio.notna()].sort_values("ratio", key=lambda s: (s - 1).abs(), kind="stable")
    if found.empty:
        raise MissingData("no assumption changes the first place within the values tried")
    within = found.get("within_range", pd.Series([None] * len(found), index=found.index))
    colours = ["#c0392b" if w is True else "#7f8c8d" for w in within]
    hover = [
        f"{r.assumption}: central {r.central:g}, first place changes at {r.switching_value:g}"
        + (f" (to {r.new_leader})" if "new_leader" in found and pd.notna(r.new_leader) else "")
        for r in found.itertuples()
    ]
    fig = go.Figure(
        go.Bar(
            y=found.assumption,
            x=found.ratio,
            orientation="h",
            marker_color=colours,
            hovertext=hover,
            hoverinfo="text",
        )
    )
    base_layout(
        fig, "Switching values (multiple of the central value)", 120 + 26 * len(found), True
    )
    fig.add_vline(x=1.0, line_dash="dot", line_color="#555")
    fig.update_xaxes(title_text="switching value / central value")
    near = found.iloc[0]
    inside = int((within == True).sum())  # noqa: E712 - a column of booleans and None
    txt = (
        f"The first place is closest to changing with {near.assumption} "
        f"(at {near.ratio:.2f}x its central value); {inside} of {len(found)} switching "
        "values lie inside their assumption's low-high range (red)"
    )
    return with_reading(fig, txt + ".")


def tornado_figure(data: ReportData) -> go.Figure:
    """The NPV of the model ranked first at each assumption's low and high value, widest
    swing on top (at most 12 assumptions)."""
    t = _table(data, "tornado", "assumption", "model", "npv_low_eur", "npv_high_eur")
    npv = data.tables.get("npv")
    if npv is not None and not npv.empty and "npv_eur" in npv:
        lead = str(npv.sort_values("npv_eur", ascending=False).iloc[0].model)
    else:
        lead = str(t.model.iloc[0])
    g = t[t.model == lead].copy()
    if g.empty:
        raise MissingData(f"not in this output: the tornado rows of {lead}")
    centre = float(g["npv_central_eur"].iloc[0]) if "npv_central_eur" in g else 0.0
    g["swing"] = (g.npv_high_eur - g.npv_low_eur).abs()
    g = g.sort_values("swing", ascending=False).head(12)
    fig = go.Figure()
    for col, label, colour in (
        ("npv_low_eur", "assumption at its low value", "#2980b9"),
        ("npv_high_eur", "assumption at its high value", "#e67e22"),
    ):
        fig.add_trace(
            go.Bar(
                y=g.assumption,
                x=g[col] - centre,
                base=centre,
                name=label,
                orientation="h",
                marker_color=colour,
                hovertemplate=f"%{{y}}: NPV EUR %{{x:,.0f}} ({label})<extra></extra>",
            )
        )
    base_layout(fig, f"Tornado: NPV of {lead} (EUR)", 140 + 26 * len(g), True)
    fig.update_layout(barmode="overlay")
    fig.update_xaxes(title_text="EUR")
    top = g.iloc[0]
    txt = (
        f"The NPV of {lead} ({_eur(centre)} at central values) moves most with "
        f"{top.assumption}: {_eur(top.npv_low_eur)} to {_eur(top.npv_high_eur)}"
    )
    return with_reading(fig, txt + ".")
