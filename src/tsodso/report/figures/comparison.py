"""Comparison figures: one bar per model, grouped by family, for cost, unmet needs, AC
violations, curtailment and discarded flexibility, data exchanged and compute time.

Every figure reads the KPI columns that are present and draws what it finds; a KPI added
later (e.g. ``cost_to_serve_eur`` and ``cost_to_serve_<part>_eur``) is picked up, one
that is absent is left out. Owns: these figures. Must not: compute KPIs.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from tsodso.report.figures.common import (
    PARTY_COLOURS,
    MissingData,
    bar_height,
    base_layout,
    eur,
    kpi,
    legend_right,
    model_axis,
    need_kpis,
    num,
    ordered_results,
    with_reading,
)
from tsodso.report.load import ReportData

HEADLINE_COST = ("cost_to_serve_eur", "procurement_cost_eur")


def _hbar(fig: go.Figure, y: list[list[str]], x: object, name: str, **kw: object) -> None:
    fig.add_trace(go.Bar(y=y, x=x, name=name, orientation="h", **kw))


def _extremes(r: pd.DataFrame, s: pd.Series, fmt: Callable[[float], str]) -> str:
    """'lowest MODEL (value), highest MODEL (value)' over the models that have ``s``."""
    ok = s.notna()
    if not ok.any():
        return ""
    lo, hi = s[ok].idxmin(), s[ok].idxmax()
    if len(s[ok]) == 1:
        return f"{r.model[lo]}: {fmt(s[lo])}"
    return f"lowest {r.model[lo]} ({fmt(s[lo])}), highest {r.model[hi]} ({fmt(s[hi])})"


def cost_figure(data: ReportData) -> go.Figure:
    """Cost to serve per model (EUR), stacked by component where the output splits it
    (``cost_to_serve_<part>_eur``), else by payer as the markets cleared (TSO, DSO)."""
    r = ordered_results(data)
    total_key = next((k for k in HEADLINE_COST if kpi(r, k) is not None), None)
    if total_key is None:
        raise MissingData(f"not in this output: {' or '.join(HEADLINE_COST)}")
    total = kpi(r, total_key)
    assert total is not None
    parts = {
        k: s
        for k in r.columns
        if k.startswith("cost_to_serve_") and k.endswith("_eur") and k != "cost_to_serve_eur"
        if (s := kpi(r, k)) is not None
    }
    y = model_axis(r)
    fig = go.Figure()
    if parts:
        how = "by component"
        for k, s in parts.items():
            name = k.removeprefix("cost_to_serve_").removesuffix("_eur").replace("_", " ")
            _hbar(fig, y, s, name)
    else:
        how = "by payer, as the markets cleared"
        for key, who in (("tso_cost_eur", "TSO"), ("dso_cost_eur", "DSO")):
            s = kpi(r, key)
            if s is not None:
                _hbar(fig, y, s, f"{who} pays", marker_color=PARTY_COLOURS[who])
    gap = kpi(r, "gap_to_joint_eur")
    fig.add_trace(
        go.Scatter(
            y=y,
            x=total,
            mode="markers",
            name="total" if total_key == "procurement_cost_eur" else "cost to serve",
            marker={"symbol": "diamond", "size": 9, "color": "#222"},
            customdata=gap if gap is not None else None,
            hovertemplate="%{y}<br>total EUR %{x:,.0f}"
            + ("<br>gap to joint EUR %{customdata:,.0f}" if gap is not None else "")
            + "<extra></extra>",
        )
    )
    base_layout(fig, f"Cost to serve per model (EUR), {how}", bar_height(len(r)), models=True)
    fig.update_layout(barmode="relative")
    fig.update_xaxes(title_text="EUR", tickformat=",.0f")
    return with_reading(
        fig,
        f"Cost to serve ({total_key}, EUR): {_extremes(r, total, eur)}. "
        f"Bars stack it {how}; the diamond is the total.",
    )


def unmet_figure(data: ReportData) -> go.Figure:
    """Needs left unmet (MWh): the imbalance as delivered and as the markets cleared."""
    r = ordered_results(data)
    got = need_kpis(r, "unresolved_imbalance_mwh", "market_unmet_imbalance_mwh")
    names = {
        "unresolved_imbalance_mwh": "unmet after delivery",
        "market_unmet_imbalance_mwh": "unmet in the market",
    }
    fig = go.Figure()
    for k, s in got.items():
        _hbar(fig, model_axis(r), s, names[k])
    base_layout(fig, "Unmet needs per model (MWh)", bar_height(len(r), per=30), models=True)
    fig.update_layout(barmode="group")
    fig.update_xaxes(title_text="MWh")
    first = next(iter(got))
    base = (data.scenario.get("baseline") or {}).get("imbalance_mwh")
    tail = f" of the day's {num(base, 'MWh')} imbalance" if base is not None else ""
    return with_reading(
        fig,
        f"{names[first].capitalize()} (MWh){tail}: "
        f"{_extremes(r, got[first], lambda v: num(v, 'MWh'))}.",
    )


def violations_figure(data: ReportData) -> go.Figure:
    """What the AC power flow of the delivered day finds: overload (MWh above rating) and
    voltage band violations (node-intervals), split by layer where the output does."""
    r = ordered_results(data)
    need_kpis(r, "overload_mwh", "voltage_violations")
    fig = make_subplots(
        rows=1,
        cols=2,
        shared_yaxes=True,
        horizontal_spacing=0.04,
        subplot_titles=("branch overload (MWh)", "voltage band violations (node-intervals)"),
    )
    y = model_axis(r)
    base = data.scenario.get("baseline") or {}
    for col, total, split, ref in (
        (
            1,
            "overload_mwh",
            ("overload_transmission_mwh", "overload_distribution_mwh"),
            "overload_mwh",
        ),
        (
            2,
            "voltage_violations",
            ("voltage_violations_transmission", "voltage_violations_distribution"),
            "voltage_violations",
        ),
    ):
        parts = [(k, s) for k in split if (s := kpi(r, k)) is not None]
        if len(parts) == 2:
            for (k, s), colour in zip(parts, ("#1f77b4", "#2ca02c"), strict=True):
                layer = "transmission" if "transmission" in k else "distribution"
                fig.add_trace(
                    go.Bar(
                        y=y,
                        x=s,
                        orientation="h",
                        name=layer,
                        marker_color=colour,
                        legendgroup=layer,
                        showlegend=col == 1,
                    ),
                    row=1,
                    col=col,
                )
        elif (s := kpi(r, total)) is not None:
            fig.add_trace(go.Bar(y=y, x=s, orientation="h", name=total, showlegend=False), 1, col)
        if isinstance(base.get(ref), int | float):
            fig.add_vline(
                x=float(base[ref]),
                line_dash="dot",
                line_color="#b2182b",
                annotation_text="uncoordinated",
                annotation_font_size=10,
                row=1,
                col=col,
            )
    base_layout(fig, "AC violations of the delivered day", bar_height(len(r)), models=True)
    legend_right(fig)
    fig.update_layout(barmode="stack")
    v = kpi(r, "voltage_violations")
    o = kpi(r, "overload_mwh")
    txt = []
    if v is not None:
        ext = _extremes(r, v, lambda x: num(x, digits=0))
        txt.append(f"voltage band violations (node-intervals): {ext}")
    if o is not None:
        txt.append(f"overload (MWh): {_extremes(r, o, lambda x: num(x, 'MWh'))}")
    if isinstance(base.get("voltage_violations"), int | float):
        txt.append(f"the uncoordinated day has {base['voltage_violations']:,} (dotted line)")
    text = "; ".join(txt) + "."
    return with_reading(fig, text[:1].upper() + text[1:])


def curtailment_figure(data: ReportData) -> go.Figure:
    """Energy that did not serve a need (MWh): curtailment of renewables, flexibility
    offered but made unusable, what stacking cut, and what providers did not deliver."""
    r = ordered_results(data)
    names = {
        "curtailment_mwh": "curtailed",
        "discarded_flexibility_mwh": "discarded (filters, DOEs, conflicts)",
        "stacking_cut_mwh": "cut by stacking",
        "non_delivery_mwh": "not delivered",
    }
    got = need_kpis(r, *names)
    fig = go.Figure()
    for k, s in got.items():
        _hbar(fig, model_axis(r), s, names[k])
    base_layout(
        fig,
        "Curtailment and flexibility that did not serve (MWh)",
        bar_height(len(r), 34),
        models=True,
    )
    fig.update_layout(barmode="group")
    fig.update_xaxes(title_text="MWh")
    parts = [f"{names[k]}: {_extremes(r, s, lambda v: num(v, 'MWh'))}" for k, s in got.items()]
    text = "; ".join(parts[:2]) + " (MWh)."
    return with_reading(fig, text[:1].upper() + text[1:])


def data_figure(data: ReportData) -> go.Figure:
    """Data exchanged between actors: messages (count) and their size (MB)."""
    r = ordered_results(data)
    got = need_kpis(r, "messages", "message_bytes")
    fig = make_subplots(
        rows=1,
        cols=2,
        shared_yaxes=True,
        horizontal_spacing=0.04,
        subplot_titles=("messages (count)", "payload (MB)"),
    )
    y = model_axis(r)
    holders = kpi(r, "d_network_data_holders")
    if "messages" in got:
        fig.add_trace(
            go.Bar(y=y, x=got["messages"], orientation="h", name="messages", showlegend=False),
            1,
            1,
        )
    if "message_bytes" in got:
        fig.add_trace(
            go.Bar(
                y=y,
                x=got["message_bytes"] / 1e6,
                orientation="h",
                name="MB",
                showlegend=False,
                customdata=holders,
                hovertemplate="%{y}<br>%{x:.2f} MB"
                + (
                    "<br>parties holding distribution grid data: %{customdata}"
                    if holders is not None
                    else ""
                )
                + "<extra></extra>",
            ),
            1,
            2,
        )
    base_layout(fig, "Data exchanged between actors", bar_height(len(r)), models=True)
    k = "message_bytes" if "message_bytes" in got else "messages"
    unit = (
        (lambda v: f"{v / 1e6:,.2f} MB")
        if k == "message_bytes"
        else (lambda v: num(v, "messages", 0))
    )
    txt = f"Payload of all actor messages: {_extremes(r, got[k], unit)}"
    if holders is not None:
        lo, hi = int(holders.min()), int(holders.max())
        txt += f"; parties holding distribution grid data: {lo} to {hi}"
    return with_reading(fig, txt + ".")


def compute_figure(data: ReportData) -> go.Figure:
    """Compute time per model (s): build and solve of every clearing it needs, and the
    wall time of its run (shorter where an identical clearing was reused)."""
    r = ordered_results(data)
    names = {
        "compute_time_s": "compute (build + solve, all clearings)",
        "wall_time_s": "wall time of the run",
        "solve_time_s": "solve",
    }
    got = need_kpis(r, *names)
    fig = go.Figure()
    for k, s in got.items():
        _hbar(fig, model_axis(r), s, names[k])
    base_layout(fig, "Compute time per model (s)", bar_height(len(r), 34), models=True)
    fig.update_layout(barmode="group")
    fig.update_xaxes(title_text="s")
    k = next(iter(got))
    txt = f"{names[k].capitalize()} (s): {_extremes(r, got[k], lambda v: num(v, 's'))}"
    if data.wall_time_s is not None:
        txt += f"; the whole comparison took {data.wall_time_s:,.1f} s"
    return with_reading(fig, txt + ".")


#: columns of the sortable table: (KPI, header, format, scale); absent KPIs are left out
TABLE_COLUMNS = (
    ("cost_to_serve_eur", "cost to serve EUR", "{:,.0f}", 1.0),
    ("procurement_cost_eur", "procured EUR", "{:,.0f}", 1.0),
    ("tso_cost_eur", "TSO EUR", "{:,.0f}", 1.0),
    ("dso_cost_eur", "DSO EUR", "{:,.0f}", 1.0),
    ("gap_to_joint_eur", "gap to joint EUR", "{:,.0f}", 1.0),
    ("social_welfare_eur", "welfare EUR", "{:,.0f}", 1.0),
    ("unresolved_imbalance_mwh", "unmet MWh", "{:,.1f}", 1.0),
    ("overload_mwh", "overload MWh", "{:,.1f}", 1.0),
    ("voltage_violations", "V viol.", "{:,.0f}", 1.0),
    ("curtailment_mwh", "curtail MWh", "{:,.0f}", 1.0),
    ("non_delivery_mwh", "undeliv. MWh", "{:,.1f}", 1.0),
    ("penalties_eur", "penalty EUR", "{:,.0f}", 1.0),
    ("discarded_flexibility_mwh", "discard MWh", "{:,.0f}", 1.0),
    ("stacking_cut_mwh", "stacking cut MWh", "{:,.1f}", 1.0),
    ("doe_hosting_mw", "DOE MW", "{:,.1f}", 1.0),
    ("doe_fairness_jain", "Jain", "{:.2f}", 1.0),
    ("messages", "msgs", "{:,.0f}", 1.0),
    ("message_bytes", "kB", "{:,.0f}", 1e-3),
    ("compute_time_s", "compute s", "{:,.1f}", 1.0),
    ("wall_time_s", "time s", "{:,.1f}", 1.0),
)
