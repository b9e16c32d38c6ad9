"""Per-model figures of what was bought and who paid whom: procurement per buyer and
period, money flows between parties (a Sankey of the settlement ledger) and what value
stacking cut.

Owns: these figures. Must not: settle or stack (the core did; these read its tables).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from tsodso.report.figures.common import (
    PARTY_COLOURS,
    MissingData,
    bar_height,
    base_layout,
    dropdown,
    model_axis,
    num,
    ordered_results,
    period_labels,
    with_reading,
)
from tsodso.report.figures.sequence import AGGREGATORS, lane_of
from tsodso.report.load import ReportData
from tsodso.schema.actors import is_dso, role

_SHADE = {"up": 1.0, "down": 0.55}


def _models(data: ReportData, table: pd.DataFrame) -> list[str]:
    have = set(table.model.astype(str))
    ids = [m for m in data.model_ids if m in have]
    return ids or [str(m) for m in pd.unique(table.model)]


def procurement_figure(data: ReportData) -> go.Figure:
    """Flexibility bought per period (MWh), by buyer and direction (up above zero, down
    below), against the TSO's imbalance; one model at a time (dropdown)."""
    proc = data.detail("procurement")
    if proc is None:
        raise MissingData("not in this output: procurement per period (details/procurement)")
    needs = data.detail("needs")
    ids = _models(data, proc)
    T = int(needs.period.max()) + 1 if needs is not None else int(proc.period.max()) + 1
    periods = np.arange(T)
    x = period_labels(data, periods)
    fig = go.Figure()
    fixed = 0
    if needs is not None:
        fig.add_trace(
            go.Scatter(
                x=x,
                y=(needs.imbalance_mw * needs.dt_h).to_numpy()
                if "dt_h" in needs
                else needs.imbalance_mw.to_numpy() * 0.25,
                mode="lines",
                name="TSO imbalance (MWh per quarter-hour)",
                line={"color": "#222", "dash": "dot", "width": 1.5},
            )
        )
        fixed = 1
    # one bar trace per buyer and direction; the dropdown swaps in each model's heights
    combos = sorted(
        set(zip(proc.buyer.astype(str), proc.direction.astype(str), strict=True)),
        key=lambda c: (c[0], c[1] != "up"),
    )
    sign = np.where(proc.direction.astype(str) == "up", 1.0, -1.0)
    table = (
        proc.assign(key=list(zip(proc.buyer.astype(str), proc.direction.astype(str), strict=True)))
        .assign(v=proc.mwh.to_numpy(dtype=float) * sign)
        .groupby(["model", "key", "period"])
        .v.sum()
    )
    heights = {m: np.zeros((len(combos), T)) for m in ids}
    pos = {c: k for k, c in enumerate(combos)}
    for (model, key, period), v in table.items():
        if model in heights:
            heights[model][pos[key], int(period)] = round(float(v), 4)
    for k, (buyer, direction) in enumerate(combos):
        fig.add_trace(
            go.Bar(
                x=x,
                y=heights[ids[0]][k],
                name=f"{buyer} {direction}",
                marker_color=PARTY_COLOURS.get(buyer, "#777"),
                marker_opacity=_SHADE.get(direction, 1.0),
                hovertemplate=f"{buyer} {direction}<br>" + "%{x}: %{y:.2f} MWh<extra></extra>",
            )
        )
    bars = list(range(fixed, fixed + len(combos)))
    buttons = [
        {
            "label": m,
            "method": "restyle",
            "args": [{"y": [heights[m][k].tolist() for k in range(len(combos))]}, bars],
        }
        for m in ids
    ]
    base_layout(fig, "Flexibility bought per period (MWh), by buyer; up above zero, down below")
    fig.update_layout(
        barmode="relative",
        updatemenus=[dropdown(buttons, x=1.0, xanchor="right")] if len(ids) > 1 else [],
    )
    fig.update_xaxes(title_text="quarter-hour starting", type="category")
    fig.update_yaxes(title_text="MWh")
    p0 = proc[proc.model == ids[0]]
    by = p0.groupby("buyer").mwh.sum()
    parts = ", ".join(f"{b} {num(v, 'MWh')}" for b, v in by.items()) or "nothing"
    return with_reading(
        fig,
        f"Shown: {ids[0]} bought {parts} (standing activations after stacking); the dotted "
        "line is the TSO's imbalance per quarter-hour (MWh, positive = shortage, met by up).",
    )


def _party_order(parties: list[str]) -> list[str]:
    """TSO, the DSOs (each one), the platform, then everyone else."""
    order = {p: i for i, p in enumerate(("TSO", "DSO", "MO"))}
    return sorted(parties, key=lambda p: (order.get(role(p), 3), p))


def money_figure(data: ReportData) -> go.Figure:
    """Money flows between parties (EUR, settled), a Sankey of the ledger: operators pay
    the platform or providers, providers pay penalties; one model at a time (dropdown)."""
    led = data.detail("ledger")
    if led is None or led.empty:
        raise MissingData("not in this output: the settlement ledger (details/ledger)")
    ders = data.detail("ders")
    aggs = set(ders.aggregator.astype(str)) if ders is not None else set()
    ids = _models(data, led)
    fig = go.Figure()
    totals = {}
    for i, m in enumerate(ids):
        lg = led[led.model == m]
        parties = _party_order(sorted(set(lg.payer.astype(str)) | set(lg.payee.astype(str))))
        pos = {p: k for k, p in enumerate(parties)}
        kinds = lg.kind.astype(str).str.split(":").str[0]
        palette = {"utilisation": "rgba(255,127,14,0.45)", "penalty": "rgba(214,39,40,0.45)"}
        fig.add_trace(
            go.Sankey(
                arrangement="snap",
                valueformat=",.0f",
                valuesuffix=" EUR",
                node={
                    "label": parties,
                    "color": [
                        PARTY_COLOURS.get(lane_of(p, aggs), PARTY_COLOURS[AGGREGATORS])
                        for p in parties
                    ],
                    "pad": 14,
                },
                link={
                    "source": [pos[str(p)] for p in lg.payer],
                    "target": [pos[str(p)] for p in lg.payee],
                    "value": (lg.cents.to_numpy() / 100.0).tolist(),
                    "label": lg.kind.astype(str).tolist(),
                    "color": [palette.get(k, "rgba(120,120,120,0.35)") for k in kinds],
                },
                visible=i == 0,
            )
        )
        paid = lg.groupby("payer").cents.sum() / 100.0
        totals[m] = paid
    buttons = [
        {
            "label": m,
            "method": "update",
            "args": [{"visible": [k == i for k in range(len(ids))]}],
        }
        for i, m in enumerate(ids)
    ]
    base_layout(fig, "Money flows between parties (EUR, settled ledger)", 460)
    fig.update_layout(
        updatemenus=[dropdown(buttons, x=1.0, xanchor="right")] if len(ids) > 1 else []
    )
    paid0 = totals[ids[0]]
    dsos = [p for p in paid0.index if is_dso(str(p))]
    by_op = {"TSO": paid0["TSO"]} if "TSO" in paid0 else {}
    if dsos:
        label = "DSO" if dsos == ["DSO"] else f"the {len(dsos)} DSOs"
        by_op[label] = float(paid0[dsos].sum())
    ops = ", ".join(f"{p} pays EUR {v:,.0f}" for p, v in by_op.items())
    return with_reading(
        fig,
        f"Shown: {ids[0]}: {ops or 'no operator pays'}; link width is EUR, orange links pay "
        "for activations, red ones are penalties for what was not delivered.",
    )


def stacking_figure(data: ReportData) -> go.Figure:
    """Activations stacking cut per model (MWh), by reason: the same MW sold twice, or
    energy a battery had already sold."""
    r = ordered_results(data)
    cuts = data.detail("stacking_cuts")
    y = model_axis(r)
    fig = go.Figure()
    if cuts is not None:
        g = cuts.groupby(["reason", "model"]).mwh.sum()
        reasons = sorted(set(cuts.reason.astype(str)))
        for reason in reasons:
            s = g.get(reason, pd.Series(dtype=float)).reindex(r.model.astype(str)).fillna(0.0)
            fig.add_trace(go.Bar(y=y, x=s.to_numpy(), orientation="h", name=reason))
        total = cuts.groupby("model").mwh.sum().reindex(r.model.astype(str)).fillna(0.0)
    elif "stacking_cut_mwh" in r:
        total = pd.to_numeric(r.stacking_cut_mwh, errors="coerce").fillna(0.0)
        total.index = r.model.astype(str)
        fig.add_trace(go.Bar(y=y, x=total.to_numpy(), orientation="h", name="cut"))
    else:
        raise MissingData("not in this output: stacking cuts (details/stacking_cuts)")
    if not len(fig.data):  # no model had a cut: draw the zeros
        fig.add_trace(go.Bar(y=y, x=np.zeros(len(r)), orientation="h", name="cut"))
    base_layout(
        fig, "Activations cut by stacking (MWh), by reason", bar_height(len(r)), models=True
    )
    fig.update_layout(barmode="stack")
    fig.update_xaxes(title_text="MWh", rangemode="tozero")
    hit = total[total > 1e-9]
    if hit.empty:
        txt = "No model had an activation cut: no DER was sold twice in the same period."
    else:
        txt = (
            f"{len(hit)} of {len(total)} models cut activations, most {hit.idxmax()} "
            f"({num(hit.max(), 'MWh')}): markets that do not see each other's purchases sold "
            "the same MW or battery energy twice."
        )
    return with_reading(fig, txt)
