"""A sweep's KPIs: one group of bars per scenario point, one bar per model; a dropdown
picks the KPI.

Owns: this figure. Must not: run sweeps.
"""

from __future__ import annotations

import re

import pandas as pd
import plotly.graph_objects as go

from tsodso.report.figures.common import MissingData, base_layout, dropdown, with_reading
from tsodso.report.load import ReportData

#: KPIs offered first, in this order, when present; any other numeric column follows
SWEEP_KPIS = (
    "cost_to_serve_eur",
    "procurement_cost_eur",
    "social_welfare_eur",
    "unresolved_imbalance_mwh",
    "overload_mwh",
    "voltage_violations",
    "curtailment_mwh",
    "message_bytes",
    "compute_time_s",
)
_POINT = re.compile(r"\[(.*)\]$")


def point_label(name: str) -> str:
    """'small[renewable_scale=1.3, ders.battery_share=0.1]' -> the bracketed part."""
    m = _POINT.search(str(name))
    return m.group(1) if m else str(name)


def sweep_figure(data: ReportData) -> go.Figure:
    """Each KPI (dropdown) per scenario point and model."""
    t = data.sweep
    if t is None or t.empty or "model" not in t:
        raise MissingData("not in this output: sweep.csv with a model column")
    t = t.copy()
    t["point"] = t["scenario"].map(point_label) if "scenario" in t else t.index.astype(str)
    numeric = [c for c in t.columns if pd.api.types.is_numeric_dtype(t[c]) and t[c].notna().any()]
    keys = [k for k in SWEEP_KPIS if k in numeric] + [
        k for k in numeric if k not in SWEEP_KPIS and not k.startswith("baseline_mae_")
    ]
    if not keys:
        raise MissingData("no numeric KPI in sweep.csv")
    models = list(pd.unique(t.model.astype(str)))
    points = list(pd.unique(t.point))
    fig = go.Figure()
    for m in models:
        g = t[t.model.astype(str) == m].set_index("point").reindex(points)
        fig.add_trace(go.Bar(x=points, y=g[keys[0]], name=m))
    buttons = []
    for k in keys:
        ys = [
            t[t.model.astype(str) == m].set_index("point").reindex(points)[k].tolist()
            for m in models
        ]
        buttons.append(
            {"label": k, "method": "update", "args": [{"y": ys}, {"yaxis.title.text": k}]}
        )
    base_layout(fig, "Sweep: KPI per scenario point and model", 460)
    fig.update_layout(barmode="group", updatemenus=[dropdown(buttons, x=1.0, xanchor="right")])
    fig.update_yaxes(title_text=keys[0])
    fig.update_xaxes(title_text="scenario point")
    k0 = keys[0]
    best = t.loc[pd.to_numeric(t[k0], errors="coerce").idxmin()]
    return with_reading(
        fig,
        f"{len(points)} points x {len(models)} models; shown: {k0}, lowest {best.model} at "
        f"{best.point} ({best[k0]:,.1f}); units are in the KPI's name (_eur, _mwh, _s).",
    )
