"""Sequence diagrams of the actor messages of each model, drawn from its message log the
way the coordination literature draws its models: one lifeline per actor, one arrow per
kind of message, in the order they were sent.

A log has hundreds to thousands of rows (one per aggregator, feeder, period or iteration);
the diagram folds them: aggregators share one lifeline, the messages of one step between
the same two lifelines and of the same kind are one arrow (``xN``, with their size), and
numbered steps in a row (``iteration 1``, ``iteration 2``, ...) are one block.

Owns: folding a log into arrows and drawing them. Must not: decide what is sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from tsodso.report.figures.common import (
    PARTY_COLOURS,
    MissingData,
    base_layout,
    dropdown,
    with_reading,
)
from tsodso.report.load import ReportData
from tsodso.schema.actors import role

AGGREGATORS = "Aggregators"
#: lifeline order, left to right: system operators, the platform, providers
LANE_ORDER = ("TSO", "MO", "DSO", "IDSO", AGGREGATORS, "DERs")
LANE_LABEL = {
    "MO": "MO (platform)",
    "DSO": "DSOs",
    "IDSO": "IDSOs",
    AGGREGATORS: "Aggregators",
    "DERs": "DERs",
}
MAX_ARROWS = 60
_NUMBERED = re.compile(r"^(.*?)\s*(\d+)$")


def lane_of(actor: str, aggregators: set[str]) -> str:
    """The lifeline of an actor: aggregators share one, every DSO one (``DSO``, ``DSO-1``...)
    and every independent DSO one; an arrow's messages count each DSO's."""
    if actor in aggregators or (not aggregators and re.fullmatch(r"dera-\d+", actor)):
        return AGGREGATORS
    return role(actor)


def fold(messages: pd.DataFrame, aggregators: Iterable[str] = ()) -> pd.DataFrame:
    """One row per arrow, in order: block (step label), sender, receiver (lifelines),
    kind, messages, bytes, periods (first-last, or 'day')."""
    agg = set(aggregators)
    m = messages.reset_index(drop=True)
    if m.empty:
        return pd.DataFrame(
            columns=["block", "sender", "receiver", "kind", "messages", "bytes", "periods"]
        )
    step = m.step.astype(str)
    parsed = step.str.extract(_NUMBERED)
    base = parsed[0].where(parsed[0].notna() & (parsed[0] != ""), step).to_numpy()
    number = pd.to_numeric(parsed[1], errors="coerce")
    actors = set(m.sender.astype(str)) | set(m.receiver.astype(str))
    lane = {a: lane_of(a, agg) for a in actors}
    sender = m.sender.astype(str).map(lane).to_numpy()
    receiver = m.receiver.astype(str).map(lane).to_numpy()
    kind = m.kind.astype(str).to_numpy()
    arrow = list(zip(sender, receiver, kind, strict=True))
    block_id = np.zeros(len(m), dtype=np.int64)
    labels = {}
    for k, rows_k in enumerate(_blocks(list(base), arrow)):
        block_id[rows_k] = k
        nums = number.iloc[rows_k].dropna()
        if len(nums) and nums.nunique() > 1:
            labels[k] = f"{base[rows_k[0]]} {int(nums.min())}-{int(nums.max())} ({nums.nunique()}x)"
        else:
            labels[k] = str(step.iloc[rows_k[0]])
    period = m.period.astype(float)
    frame = pd.DataFrame(
        {
            "b": block_id,
            "sender": sender,
            "receiver": receiver,
            "kind": kind,
            "bytes": m.bytes.astype(np.int64),
            "p": period.where(period >= 0),  # NaN: the whole day
            "pos": np.arange(len(m)),
        }
    )
    g = (
        frame.groupby(["b", "sender", "receiver", "kind"], sort=False)
        .agg(
            messages=("pos", "size"),
            bytes=("bytes", "sum"),
            p0=("p", "min"),
            p1=("p", "max"),
            first=("pos", "min"),
        )
        .reset_index()
        .sort_values(["b", "first"], kind="stable")
    )
    g["periods"] = [
        "day" if np.isnan(a) else f"{a:.0f}" if a == z else f"{a:.0f}-{z:.0f}"
        for a, z in zip(g.p0, g.p1, strict=True)
    ]
    g["block"] = g.b.map(labels)
    cols = ["block", "sender", "receiver", "kind", "messages", "bytes", "periods"]
    return g[cols].reset_index(drop=True)


def _blocks(
    base: list[str], arrow: list[tuple[str, str, str]], longest: int = 3
) -> list[list[int]]:
    """Row positions of each block, in order. A block is a run of rows of one step; a
    pattern of up to ``longest`` runs repeated in a row with the same arrows (dispatch,
    metering, dispatch, metering, ... once per aggregator) becomes one block per run of
    the pattern. ``arrow`` is each row's (sender lane, receiver lane, kind)."""
    runs: list[tuple[str, list[int]]] = []
    for i, b in enumerate(base):
        if runs and runs[-1][0] == b:
            runs[-1][1].append(i)
        else:
            runs.append((b, [i]))
    sig = [(b, frozenset(arrow[i] for i in rows)) for b, rows in runs]
    out: list[list[int]] = []
    i = 0
    while i < len(runs):
        for p in range(2, longest + 1):
            pat = sig[i : i + p]
            k = 1
            while sig[i + k * p : i + (k + 1) * p] == pat:
                k += 1
            if len(pat) == p and k > 1:
                for j in range(p):
                    out.append(sorted(x for q in range(k) for x in runs[i + q * p + j][1]))
                i += k * p
                break
        else:
            out.append(runs[i][1])
            i += 1
    return out


def _lanes(folded: Iterable[pd.DataFrame]) -> list[str]:
    seen: set[str] = set()
    for f in folded:
        seen |= set(f.sender) | set(f.receiver)
    known = [x for x in LANE_ORDER if x in seen]
    return known + sorted(seen - set(known))


def _size(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB" if n >= 1e3 else f"{n} B"


def _trace(arrows: pd.DataFrame, x_of: dict[str, float], visible: bool) -> go.Scatter:
    """One model's diagram as one trace: per arrow its start, its middle (the label), its
    head (an arrow marker pointing along the line) and a gap; per block a label on the
    left."""
    x: list[float] = []
    y: list[float] = []
    size: list[float] = []
    colour: list[str] = []
    text: list[str] = []
    where: list[str] = []
    hover: list[str] = []
    nan = float("nan")
    seen: set[str] = set()
    for i, a in enumerate(arrows.itertuples(index=False)):
        if a.block not in seen:  # the block's label, alone between gaps
            seen.add(a.block)
            x += [-1.45, nan]
            y += [i, nan]
            size += [0, 0]
            colour += ["#444", "#444"]
            text += [f"<b>{a.block}</b>", ""]
            where += ["middle right", "middle right"]
            hover += [str(a.block), ""]
        x0, x1 = x_of[a.sender], x_of[a.receiver]
        if x0 == x1:  # a message within one lifeline: a short stub to the right
            x1 = x0 + 0.35
        c = PARTY_COLOURS.get(str(a.sender), "#555")
        n = f" x{a.messages}" if a.messages > 1 else ""
        h = (
            f"{a.block}: {a.sender} -> {a.receiver}<br>{a.kind} x{a.messages}, "
            f"{_size(int(a.bytes))}, periods {a.periods}"
        )
        x += [x0, (x0 + x1) / 2, x1, nan]
        y += [i, i, i, nan]
        size += [0, 0, 11, 0]
        colour += [c] * 4
        text += ["", f"{a.kind}{n} ({_size(int(a.bytes))})", "", ""]
        where += ["top center"] * 4
        hover += [h, h, h, ""]
    return go.Scatter(
        x=np.array(x),
        y=np.array(y),
        mode="lines+markers+text",
        line={"width": 1.4, "color": "#666"},
        marker={"symbol": "arrow", "angleref": "previous", "size": size, "color": colour},
        text=text,
        textposition=where,
        textfont={"size": 10, "color": "#333"},
        hovertext=hover,
        hoverinfo="text",
        showlegend=False,
        visible=visible,
    )


def sequence_figure(data: ReportData, model: str | None = None) -> go.Figure:
    """Sequence diagram of the actor messages, one model at a time (a dropdown picks the
    model when the output has several; ``model`` draws only that one)."""
    msgs = data.detail("messages")
    if msgs is None or msgs.empty:
        raise MissingData("not in this output: the message log (details/messages.parquet)")
    ders = data.detail("ders")
    aggs = set(ders.aggregator.astype(str)) if ders is not None else set()
    ids = [m for m in data.model_ids if m in set(msgs.model)] or list(pd.unique(msgs.model))
    if model is not None:
        if model not in ids:
            raise MissingData(f"no messages of model {model!r} in this output")
        ids = [model]
    folded = {m: fold(msgs[msgs.model == m], aggs) for m in ids}
    cut = {m: max(len(f) - MAX_ARROWS, 0) for m, f in folded.items()}
    folded = {m: f.head(MAX_ARROWS) for m, f in folded.items()}
    lanes = _lanes(folded.values())
    x_of = {lane: float(i) for i, lane in enumerate(lanes)}
    longest = max(len(f) for f in folded.values())
    fig = go.Figure()
    for lane, x in x_of.items():  # lifelines, shared by every model
        fig.add_trace(
            go.Scatter(
                x=[x, x],
                y=[-0.8, longest + 0.5],
                mode="lines",
                line={"color": PARTY_COLOURS.get(lane, "#999"), "width": 2, "dash": "dot"},
                hoverinfo="skip",
                showlegend=False,
            )
        )
    n_fixed = len(x_of)
    for i, f in enumerate(folded.values()):
        fig.add_trace(_trace(f, x_of, visible=i == 0))
    per = 1

    def height(n: int) -> int:
        return 150 + 34 * max(n, 3)

    buttons = []
    for i, (m, f) in enumerate(folded.items()):
        vis = [True] * n_fixed + [False] * (per * len(folded))
        vis[n_fixed + per * i : n_fixed + per * (i + 1)] = [True] * per
        buttons.append(
            {
                "label": m,
                "method": "update",
                "args": [
                    {"visible": vis},
                    {"yaxis.range": [len(f) - 0.4, -1.0], "height": height(len(f))},
                ],
            }
        )
    first = next(iter(folded))
    title = "Actor messages in order (sequence diagram)"
    base_layout(fig, title if len(folded) > 1 else f"{title}: {first}", height(len(folded[first])))
    fig.update_layout(
        margin={"l": 10, "r": 20, "t": 100, "b": 20},
        updatemenus=[dropdown(buttons, x=0.0, y=1.0)] if len(folded) > 1 else [],
        hovermode="closest",
    )
    fig.update_xaxes(
        tickvals=list(x_of.values()),
        ticktext=[f"<b>{LANE_LABEL.get(x, x)}</b>" for x in x_of],
        side="top",
        range=[-1.5, len(lanes) - 0.4],
        showgrid=False,
        zeroline=False,
    )
    fig.update_yaxes(
        range=[len(folded[first]) - 0.4, -1.0], visible=False, showgrid=False, zeroline=False
    )
    f0 = folded[first]
    total = int(msgs[msgs.model == first].shape[0])
    more = f" ({cut[first]} more arrows not drawn)" if cut[first] else ""
    pick = "; the dropdown picks another model" if len(folded) > 1 else ""
    return with_reading(
        fig,
        f"Shown: {first}, {total:,} messages folded into {len(f0)} arrows in "
        f"{f0.block.nunique()} steps{more}{pick}. Read top to bottom; a label gives the kind "
        "of message, the count (xN) and the payload size (compact JSON).",
    )
