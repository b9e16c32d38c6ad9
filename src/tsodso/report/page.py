"""One self-contained HTML page from an output directory: plotly.js embedded once, every
figure a fragment, a sortable KPI table, no request leaving the machine.

The page forbids itself the network (a Content-Security-Policy of ``default-src 'none'``),
embeds no fonts and no map tiles, and opens from a file or a USB stick. A figure whose data
the output lacks is replaced by a line saying what is not in this output.

Owns: the page's sections, their order and the HTML. Must not: compute results or draw
figures itself (``report.figures`` does).
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs

from tsodso.report.figures.assessment import (
    npv_figure,
    ranking_figure,
    switching_figure,
    tornado_figure,
)
from tsodso.report.figures.common import MissingData, ordered_results, reading
from tsodso.report.figures.comparison import (
    TABLE_COLUMNS,
    compute_figure,
    cost_figure,
    curtailment_figure,
    data_figure,
    unmet_figure,
    violations_figure,
)
from tsodso.report.figures.envelopes import envelope_figure, envelope_map
from tsodso.report.figures.grid import grid_map, violation_heatmap
from tsodso.report.figures.money import money_figure, procurement_figure, stacking_figure
from tsodso.report.figures.scenario import ders_figure, scenario_facts
from tsodso.report.figures.sequence import sequence_figure
from tsodso.report.figures.sweep import sweep_figure
from tsodso.report.load import ReportData, load_output

FigureFn = Callable[[ReportData], go.Figure]


@dataclass(frozen=True)
class Panel:
    """One figure of the page: an id (the HTML element's), a section and its builder."""

    id: str
    section: str
    title: str
    build: FigureFn
    kinds: tuple[str, ...] = ("compare", "run")


SECTIONS = (
    ("scenario", "The scenario"),
    ("comparison", "The comparison"),
    ("models", "Per model"),
    ("grid", "The grid"),
    ("envelopes", "Envelopes"),
    ("sweep", "The sweep"),
    ("assessment", "Assessment"),
)

PANELS = (
    Panel("ders", "scenario", "DERs by kind and owner", ders_figure),
    Panel("cost", "comparison", "Cost to serve", cost_figure),
    Panel("unmet", "comparison", "Unmet needs", unmet_figure),
    Panel("violations", "comparison", "AC violations", violations_figure),
    Panel("curtailment", "comparison", "Curtailment and unused flexibility", curtailment_figure),
    Panel("data", "comparison", "Data exchanged", data_figure),
    Panel("compute", "comparison", "Compute time", compute_figure),
    Panel("sequence", "models", "Messages between actors", sequence_figure),
    Panel("procurement", "models", "Procurement per period", procurement_figure),
    Panel("money", "models", "Money flows", money_figure),
    Panel("stacking", "models", "Stacking cuts", stacking_figure),
    Panel("map", "grid", "Map of the grid", grid_map),
    Panel("heatmap", "grid", "Violations per feeder and period", violation_heatmap),
    Panel("envelopes", "envelopes", "Hosting and fairness", envelope_figure),
    Panel("envelope-map", "envelopes", "Per-customer envelopes", envelope_map, ("run",)),
    Panel("sweep", "sweep", "KPIs per scenario point", sweep_figure, ("sweep",)),
    Panel("ranking", "assessment", "Ranking with intervals", ranking_figure, ("assess",)),
    Panel("npv", "assessment", "Net present value", npv_figure, ("assess",)),
    Panel("switching", "assessment", "Switching values", switching_figure, ("assess",)),
    Panel("tornado", "assessment", "Tornado", tornado_figure, ("assess",)),
)

PLOTLY_CONFIG = {
    "displaylogo": False,
    "showSendToCloud": False,
    "responsive": True,
    "modeBarButtonsToRemove": ["sendDataToCloud"],
}

CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src 'none'; connect-src 'none'; base-uri 'none'; "
    "form-action 'none'"
)

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
margin:0;color:#222;background:#fafafa}
header{background:#1f3b57;color:#fff;padding:14px 24px}
header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;font-size:13px;opacity:.85}
nav{padding:8px 24px;background:#eef2f6;font-size:13px;position:sticky;top:0;z-index:10}
nav a{margin-right:14px;color:#1f3b57;text-decoration:none}
main{padding:8px 24px 40px;max-width:1400px}
h2{border-bottom:2px solid #1f3b57;padding-bottom:4px;margin-top:32px}
.panel{background:#fff;border:1px solid #e3e3e3;border-radius:6px;padding:10px 14px;
margin:14px 0}
.panel h3{margin:2px 0 6px;font-size:15px}
.reading{font-size:13px;color:#333;margin:6px 0 2px}
.missing{font-size:13px;color:#8a6d3b;background:#fcf8e3;padding:6px 10px;border-radius:4px}
table.facts td{padding:2px 12px 2px 0;font-size:13px;vertical-align:top}
table.facts td:first-child{color:#555;white-space:nowrap}
.tablewrap{overflow-x:auto}
table.kpis{border-collapse:collapse;font-size:12px;white-space:nowrap}
table.kpis th,table.kpis td{border-bottom:1px solid #e5e5e5;padding:3px 8px;text-align:right}
table.kpis th{cursor:pointer;background:#f2f4f7;position:sticky;top:0}
table.kpis th:nth-child(-n+3),table.kpis td:nth-child(-n+3){text-align:left}
table.kpis th.asc::after{content:" \\25B2"}table.kpis th.desc::after{content:" \\25BC"}
footer{font-size:12px;color:#666;padding:0 24px 24px}
"""

SORT_JS = """
document.querySelectorAll('table.kpis').forEach(function(t){
  t.querySelectorAll('th').forEach(function(th,i){
    th.addEventListener('click',function(){
      var asc=!th.classList.contains('asc');
      t.querySelectorAll('th').forEach(function(h){h.classList.remove('asc','desc')});
      th.classList.add(asc?'asc':'desc');
      var body=t.tBodies[0],rows=Array.prototype.slice.call(body.rows);
      rows.sort(function(a,b){
        var x=a.cells[i].getAttribute('data-v'),y=b.cells[i].getAttribute('data-v');
        var nx=parseFloat(x),ny=parseFloat(y),c;
        if(!isNaN(nx)&&!isNaN(ny)){c=nx-ny}else if(isNaN(nx)!==isNaN(ny)){c=isNaN(nx)?1:-1}
        else{c=String(x).localeCompare(String(y))}
        return asc?c:-c});
      rows.forEach(function(r){body.appendChild(r)});
    });
  });
});
"""


def figures(data: ReportData) -> dict[str, go.Figure]:
    """Every figure this output can give, by panel id (for notebooks); figures whose data
    is missing are left out."""
    out = {}
    for p in PANELS:
        if data.kind not in p.kinds:
            continue
        try:
            out[p.id] = p.build(data)
        except (MissingData, KeyError):
            continue
    return out


def _fmt(v: object, fmt: str, scale: float) -> tuple[str, str]:
    """Display text and sort value of one cell."""
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "-", ""
    try:
        x = float(v) * scale  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return html.escape(str(v)), html.escape(str(v))
    return fmt.format(x), repr(x)


def kpi_table(data: ReportData) -> str:
    """The sortable KPI table (click a header): model, family, status, then the KPIs the
    output has, models grouped by family."""
    try:
        r = ordered_results(data)
    except MissingData:
        return ""
    cols = [(k, h, f, s) for k, h, f, s in TABLE_COLUMNS if k in r and r[k].notna().any()]
    head = "".join(
        f'<th title="{html.escape(k)}">{html.escape(h)}</th>'
        for k, h in [("model", "model"), ("family", "family"), ("status", "status")]
        + [(k, h) for k, h, _, _ in cols]
    )
    body = []
    for _, row in r.iterrows():
        cells = []
        for k in ("model", "family", "status"):
            v = html.escape(str(row.get(k, "")))
            cells.append(f'<td data-v="{v}">{v}</td>')
        for k, _, f, s in cols:
            text, val = _fmt(row.get(k), f, s)
            cells.append(f'<td data-v="{val}">{text}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        '<div class="tablewrap"><table class="kpis" id="kpi-table"><thead><tr>'
        + head
        + "</tr></thead><tbody>"
        + "".join(body)
        + "</tbody></table></div>"
    )


def _facts(data: ReportData) -> str:
    rows = scenario_facts(data)
    if not rows:
        return '<p class="missing">Not in this output: the scenario summary.</p>'
    return (
        '<table class="facts">'
        + "".join(f"<tr><td>{html.escape(a)}</td><td>{html.escape(b)}</td></tr>" for a, b in rows)
        + "</table>"
    )


def _panel_html(p: Panel, data: ReportData) -> str:
    """The panel of ``p``: its figure and reading, or what the output lacks."""
    try:
        fig = p.build(data)
    except (MissingData, KeyError) as e:
        msg = e.args[0] if e.args else str(e)
        text = str(msg) if isinstance(e, MissingData) else f"not in this output: {msg}"
        return (
            f'<div class="panel" id="panel-{p.id}"><h3>{html.escape(p.title)}</h3>'
            f'<p class="missing">{html.escape(text[:1].upper() + text[1:])}.</p></div>'
        )
    # the panel's heading carries the figure's title (with its units)
    heading = fig.layout.title.text or p.title
    top = fig.layout.margin.t
    fig.update_layout(title=None, margin_t=max(int(top) - 35, 25) if top is not None else 25)
    div = pio.to_html(
        fig,
        include_plotlyjs=False,
        full_html=False,
        div_id=f"fig-{p.id}",
        config=PLOTLY_CONFIG,
        default_width="100%",
        validate=False,
    )
    return (
        f'<div class="panel" id="panel-{p.id}"><h3>{html.escape(heading)}</h3>{div}'
        f'<p class="reading">{html.escape(reading(fig))}</p></div>'
    )


def _version() -> str:
    try:
        return metadata.version("tsodso")
    except metadata.PackageNotFoundError:  # pragma: no cover - source tree without install
        return "?"


def build_report(data: ReportData, label: str | None = None) -> str:
    """The report page of ``data`` as one HTML string; ``label`` names where the data came
    from (default: its directory)."""
    by_section: dict[str, list[str]] = {s: [] for s, _ in SECTIONS}
    if data.kind in ("compare", "run"):
        by_section["scenario"].append(f'<div class="panel"><h3>Facts</h3>{_facts(data)}</div>')
    for p in PANELS:
        if data.kind in p.kinds:
            by_section[p.section].append(_panel_html(p, data))
    table = kpi_table(data) if data.kind != "assess" else ""
    if table:
        section = "sweep" if data.kind == "sweep" else "comparison"
        title = "All KPIs (click a header to sort)"
        by_section[section].append(
            f'<div class="panel" id="panel-table"><h3>{title}</h3>{table}</div>'
        )
    if data.kind != "assess":
        by_section["assessment"].append(
            '<p class="missing">Not in this output: no assessment (ranking, NPV, switching '
            "values) was found in this directory.</p>"
        )
    body, nav = [], []
    for sid, title in SECTIONS:
        if not by_section[sid]:
            continue
        nav.append(f'<a href="#{sid}">{html.escape(title)}</a>')
        body.append(
            f'<section id="{sid}"><h2>{html.escape(title)}</h2>{"".join(by_section[sid])}</section>'
        )
    name = (data.scenario or {}).get("name")
    what = {"compare": "comparison", "run": "run", "sweep": "sweep", "assess": "assessment"}[
        data.kind
    ]
    models = data.model_ids
    subject = (
        f"{what} of {len(models)} model(s)"
        if data.kind != "sweep"
        else f"sweep of {len(models)} rows"
    )
    title = f"tsodso report: {subject}" + (f", scenario {name}" if name else "")
    panels = [p.id for p in PANELS if data.kind in p.kinds]
    meta = json.dumps({"kind": data.kind, "models": models, "panels": panels})
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{CSS}</style>"
        f'<script type="text/javascript">{get_plotlyjs()}</script>'
        f'<script type="application/json" id="tsodso-report-meta">{meta}</script>'
        "</head><body>"
        f"<header><h1>{html.escape(title)}</h1><p>from {html.escape(label or str(data.source))} "
        f"&middot; tsodso {html.escape(_version())} &middot; self-contained: opens offline"
        "</p></header>"
        f"<nav>{''.join(nav)}</nav><main>{''.join(body)}</main>"
        "<footer>Figures drawn with plotly.js (MIT), embedded in this file. Units are in every "
        "axis and reading: EUR, MWh, MW, pu, % of rating, s.</footer>"
        f"<script>{SORT_JS}</script></body></html>\n"
    )


def write_report(source: str | Path, dest: str | Path, label: str | None = None) -> Path:
    """Read the output directory ``source`` and write its report to ``dest`` (HTML)."""
    data = load_output(source)
    out = Path(dest)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(build_report(data, label), encoding="utf-8")
    return out
