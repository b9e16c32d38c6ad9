"""What every report figure shares: the missing-data signal, the one-line reading, model
order by family, KPI access that tolerates absent keys, time labels and dropdowns.

Owns: these helpers. Must not: draw a particular figure.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from tsodso.report.load import ReportData

#: families in the order the report groups models (MODELS.md section 3); others follow
FAMILY_ORDER = ("central", "joint", "sequential", "parallel", "local", "iterative", "implicit")
#: colours of the parties (operators, the platform, providers)
PARTY_COLOURS = {
    "TSO": "#1f77b4",
    "DSO": "#2ca02c",
    "IDSO": "#17becf",
    "MO": "#9467bd",
    "Aggregators": "#ff7f0e",
    "DERs": "#8c564b",
}
FONT = "system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif"
_AXIS = {"gridcolor": "#ebebeb", "zerolinecolor": "#d9d9d9", "linecolor": "#d9d9d9"}
#: a light white template: plotly's own templates are large and copied into every figure
TEMPLATE = {
    "layout": {
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "colorway": [
            "#636efa",
            "#EF553B",
            "#00cc96",
            "#ab63fa",
            "#FFA15A",
            "#19d3f3",
            "#FF6692",
            "#B6E880",
            "#FF97FF",
            "#FECB52",
        ],
        "xaxis": _AXIS,
        "yaxis": _AXIS,
        "hoverlabel": {"align": "left"},
    }
}


class MissingData(LookupError):
    """A figure's data is not in this output; the message says what is missing."""


def with_reading(fig: go.Figure, reading: str) -> go.Figure:
    """Attach the figure's one-line reading (``fig.layout.meta['reading']``)."""
    meta = dict(fig.layout.meta) if isinstance(fig.layout.meta, dict) else {}
    meta["reading"] = reading
    fig.update_layout(meta=meta)
    return fig


def reading(fig: go.Figure) -> str:
    """The one-line reading attached by ``with_reading`` ('' when none)."""
    meta = fig.layout.meta
    return str(meta.get("reading", "")) if isinstance(meta, dict) else ""


def base_layout(fig: go.Figure, title: str, height: int = 420, models: bool = False) -> go.Figure:
    """Title, size, font, template and a legend above the plot; ``models``: a horizontal
    bar chart of models, listed top down."""
    if models:
        fig.update_yaxes(autorange="reversed")
    fig.update_layout(
        title={"text": title, "x": 0.0, "xanchor": "left", "font": {"size": 15}},
        height=height,
        margin={"l": 10, "r": 10, "t": 60, "b": 40},
        font={"family": FONT, "size": 12},
        template=TEMPLATE,
        legend={"orientation": "h", "x": 0.0, "xanchor": "left", "y": 1.0, "yanchor": "bottom"},
    )
    return fig


def legend_right(fig: go.Figure) -> go.Figure:
    """A legend right of the plot (for subplots, whose titles sit above them)."""
    fig.update_layout(
        legend={"orientation": "v", "x": 1.01, "xanchor": "left", "y": 1.0, "yanchor": "top"}
    )
    return fig


def ordered_results(data: ReportData) -> pd.DataFrame:
    """The results grouped by family (FAMILY_ORDER, unknown last), input order within."""
    r = data.results.copy()
    if r.empty or "model" not in r:
        raise MissingData("no model results in this output")
    if "family" not in r:
        r["family"] = "(family not in this output)"
    r["family"] = r["family"].fillna("(unknown)").astype(str)
    rank = {f: i for i, f in enumerate(FAMILY_ORDER)}
    r["_f"] = r["family"].map(lambda f: rank.get(f, len(rank)))
    r["_i"] = np.arange(len(r))
    return r.sort_values(["_f", "_i"]).drop(columns=["_f", "_i"]).reset_index(drop=True)


def kpi(r: pd.DataFrame, key: str) -> pd.Series | None:
    """A KPI column as floats, or None when no model has it."""
    if key not in r:
        return None
    s = pd.to_numeric(r[key], errors="coerce")
    return None if s.isna().all() else s


def need_kpis(r: pd.DataFrame, *keys: str) -> dict[str, pd.Series]:
    """The KPI columns of ``keys`` that are present; MissingData when none is."""
    got = {k: s for k in keys if (s := kpi(r, k)) is not None}
    if not got:
        raise MissingData(f"not in this output: {', '.join(keys)}")
    return got


def model_axis(r: pd.DataFrame) -> list[list[str]]:
    """A two-level category axis: family, then model."""
    return [r["family"].tolist(), r["model"].astype(str).tolist()]


def bar_height(n: int, per: int = 22, base: int = 170) -> int:
    return base + per * max(n, 1)


def eur(v: float) -> str:
    return f"EUR {v:,.0f}"


def num(v: float, unit: str = "", digits: int = 1) -> str:
    s = f"{v:,.{digits}f}" if not float(v).is_integer() or digits == 0 else f"{v:,.0f}"
    return f"{s} {unit}".strip()


def period_labels(data: ReportData, periods: np.ndarray) -> list[str]:
    """Quarter-hour start times (HH:MM) of scenario periods when the scenario says where
    the day starts; else the period numbers."""
    cfg = data.scenario.get("config") or {}
    first = cfg.get("first_period")
    if not isinstance(first, int):
        return [str(int(p)) for p in periods]
    out = []
    for p in periods:
        minutes = (first + int(p)) * 15
        out.append(f"{minutes // 60:02d}:{minutes % 60:02d}")
    return out


def dropdown(
    buttons: list[dict[str, Any]], x: float = 0.0, y: float = 1.12, xanchor: str = "left"
) -> dict[str, Any]:
    """A plotly dropdown (updatemenu) placed above the plot."""
    return {
        "type": "dropdown",
        "buttons": buttons,
        "x": x,
        "y": y,
        "xanchor": xanchor,
        "yanchor": "bottom",
        "showactive": True,
        "active": 0,
        "bgcolor": "#f7f7f7",
        "font": {"size": 11},
    }


def lonlat_ratio(y: np.ndarray) -> float:
    """Aspect ratio (y units per x unit) that makes longitude/latitude look true."""
    lat = float(np.nanmean(y)) if len(y) and np.isfinite(np.nanmean(y)) else 0.0
    if abs(lat) > 89:
        return 1.0
    return 1.0 / max(math.cos(math.radians(lat)), 0.1)
