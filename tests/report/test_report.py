"""``tsodso report`` against its contract: the tables it keeps agree with the KPIs, the page
is self-contained (plotly.js once, nothing fetched), every figure it can draw is there, and
what an output lacks is said, not crashed on."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import pytest
from plotly.offline import get_plotlyjs
from typer.testing import CliRunner

from tsodso.cli.main import app
from tsodso.report import (
    PANELS,
    MissingData,
    build_report,
    cost_figure,
    figures,
    grid_map,
    load_output,
    reading,
    sequence_figure,
    violation_heatmap,
)
from tsodso.report.details import UNCOORDINATED
from tsodso.report.figures.sequence import AGGREGATORS, fold
from tsodso.schema.actors import role

runner = CliRunner()
#: the panels a two-model comparison with details must draw
COMPARE_PANELS = {
    "ders",
    "cost",
    "unmet",
    "violations",
    "curtailment",
    "data",
    "compute",
    "sequence",
    "procurement",
    "money",
    "stacking",
    "map",
    "heatmap",
}


def _kpis(d: Path) -> dict[str, dict[str, float]]:
    doc = json.loads((d / "comparison.json").read_text())
    return {r["model"]: r["kpis"] for r in doc["results"]}


def test_details_agree_with_the_kpis(small_compare: Path) -> None:
    data = load_output(small_compare)
    kpis = _kpis(small_compare)
    assert data.kind == "compare" and data.model_ids == list(kpis)
    fp, ns = data.details["feeder_periods"], data.details["node_state"]
    msgs, led = data.details["messages"], data.details["ledger"]
    proc = data.details["procurement"]
    base = json.loads((small_compare / "comparison.json").read_text())["scenario"]["baseline"]
    # the uncoordinated day is the baseline AC power flow of the summary
    assert fp[fp.case == UNCOORDINATED].voltage_violations.sum() == base["voltage_violations"]
    for m, k in kpis.items():
        # violations per feeder and period add up to the AC check's count
        assert fp[fp.case == m].voltage_violations.sum() == k["voltage_violations"]
        assert ns[ns.case == m].violation_periods.sum() == k["voltage_violations"]
        # the message log is the one the data-exchange KPIs count
        mine = msgs[msgs.model == m]
        assert len(mine) == k["messages"] and mine.bytes.sum() == k["message_bytes"]
        # standing procurement is what was activated
        assert proc[proc.model == m].mwh.sum() == pytest.approx(k["activated_mwh"], abs=1e-3)
        # the ledger gives each operator's settled cost
        lg = led[led.model == m]
        for party in ("TSO", "DSO"):  # "DSO": every DSO (DSO-1, DSO-2...) together
            payer, payee = lg.payer.map(role) == party, lg.payee.map(role) == party
            net = lg.cents[payer].sum() - lg.cents[payee].sum()
            assert net / 100 == pytest.approx(k[f"settled_{party.lower()}_eur"], abs=0.005)
    # every node and branch has coordinates and ends
    nodes, branches = data.details["nodes"], data.details["branches"]
    assert nodes.x.notna().all() and nodes.y.notna().all()
    assert branches.from_node.between(0, len(nodes) - 1).all()
    assert set(ns.case) == {UNCOORDINATED, *kpis}


def test_page_is_self_contained_and_draws_every_figure(small_compare: Path) -> None:
    page = (small_compare / "report.html").read_text()
    size_mb = len(page.encode()) / 1e6
    assert 4 < size_mb < 10  # plotly.js (4.8 MB) once plus the figures
    assert page.count("Plotly.newPlot(") == len(COMPARE_PANELS)
    assert len(re.findall(r"plotly\.js v\d+\.\d+\.\d+", page)) == 1  # the library, embedded once
    assert page.count(get_plotlyjs()) == 1
    # outside the library, nothing that a browser would fetch: no external script, style,
    # image or link (the browser test checks what the library does)
    ours = page.replace(get_plotlyjs(), "")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", ours)
    assert "@import" not in ours and "url(" not in ours
    assert "default-src 'none'" in page  # and the page forbids itself the network
    for p in COMPARE_PANELS:
        assert f'id="fig-{p}"' in page, p
    assert 'id="kpi-table"' in page
    for m in _kpis(small_compare):
        assert f">{m}<" in page  # a row of the sortable table


def test_compare_report_is_the_report_of_its_files(small_compare: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["report", str(small_compare), "-o", str(tmp_path / "again.html")])
    assert res.exit_code == 0, res.output
    assert "MB" in res.output
    assert (tmp_path / "again.html").read_text() == (small_compare / "report.html").read_text()


def test_figures_for_notebooks_carry_a_reading(small_compare: Path) -> None:
    figs = figures(load_output(small_compare))
    assert set(figs) == COMPARE_PANELS
    for name, fig in figs.items():
        assert isinstance(fig, go.Figure) and len(fig.data) > 0, name
        assert len(reading(fig)) > 20, name
    assert "smartnet-a" in reading(figs["cost"]) and "EUR" in reading(figs["cost"])
    # one model's sequence diagram alone
    one = sequence_figure(load_output(small_compare), model="smartnet-d")
    assert "smartnet-d" in reading(one) and not one.layout.updatemenus
    with pytest.raises(MissingData):
        sequence_figure(load_output(small_compare), model="no-such-model")


def test_heatmap_and_map_switch_between_cases(small_compare: Path) -> None:
    data = load_output(small_compare)
    fp, ns = data.details["feeder_periods"], data.details["node_state"]
    heat = violation_heatmap(data)
    (menu,) = heat.layout.updatemenus
    assert [b.label for b in menu.buttons] == [UNCOORDINATED, *data.model_ids]
    for b in menu.buttons:  # each case shows its own trace, which holds its counts
        (shown,) = [t for t, v in zip(heat.data, b.args[0]["visible"], strict=True) if v]
        assert shown.z.sum() == fp[fp.case == b.label].voltage_violations.sum()
    # the map marks, per case, exactly the nodes that left their band
    fig = grid_map(data)
    cases, _zoom = fig.layout.updatemenus
    for b in cases.buttons:
        shown = [t for t, v in zip(fig.data, b.args[0]["visible"], strict=True) if v]
        nodes = shown[-1]  # static lines and nodes, then the case's branches and nodes
        assert len(nodes.x) == (ns[ns.case == b.label].violation_periods > 0).sum()


def _strip(src: Path, dst: Path, drop: set[str], details: bool) -> None:
    """A copy of a compare output without some KPIs (and without details/)."""
    dst.mkdir()
    doc = json.loads((src / "comparison.json").read_text())
    for r in doc["results"]:
        r["kpis"] = {k: v for k, v in r["kpis"].items() if k not in drop}
    (dst / "comparison.json").write_text(json.dumps(doc))
    if details:
        shutil.copytree(src / "details", dst / "details")


def _kpi_keys(src: Path) -> set[str]:
    doc = json.loads((src / "comparison.json").read_text())
    return set(doc["results"][0]["kpis"])


def test_missing_keys_and_tables_are_said_not_crashed_on(
    small_compare: Path, tmp_path: Path
) -> None:
    d = tmp_path / "old"
    headline = {k for k in _kpi_keys(small_compare) if k.startswith("cost_to_serve")}
    drop = {"messages", "message_bytes", "tso_cost_eur", *headline}
    _strip(small_compare, d, drop, details=False)
    data = load_output(d)
    page = build_report(data)
    for p in ("sequence", "money", "map", "heatmap", "data"):
        assert f'id="fig-{p}"' not in page, p
    assert page.count("Not in this output") >= 5
    assert 'id="fig-cost"' in page and 'id="fig-violations"' in page
    # the cost bars stack what is present: the DSO's share only
    names = [t.name for t in cost_figure(data).data]
    assert "DSO pays" in names and "TSO pays" not in names
    # only a CSV (no scenario, no family): still a report
    c = tmp_path / "csv"
    c.mkdir()
    shutil.copy(small_compare / "comparison.csv", c / "comparison.csv")
    assert 'id="fig-cost"' in build_report(load_output(c))


def test_a_headline_added_later_is_drawn(small_compare: Path, tmp_path: Path) -> None:
    d = tmp_path / "later"
    headline = {k for k in _kpi_keys(small_compare) if k.startswith("cost_to_serve")}
    _strip(small_compare, d, headline, details=True)
    doc = json.loads((d / "comparison.json").read_text())
    for i, r in enumerate(doc["results"]):
        k = r["kpis"]
        k["cost_to_serve_energy_eur"] = 1000.0 * (i + 1)
        k["cost_to_serve_network_eur"] = 500.0
        k["cost_to_serve_eur"] = k["cost_to_serve_energy_eur"] + 500.0
        k["some_new_kpi_mwh"] = 1.5
    (d / "comparison.json").write_text(json.dumps(doc))
    data = load_output(d)
    fig = cost_figure(data)
    bars = {t.name: list(t.x) for t in fig.data if t.type == "bar"}
    assert bars == {"energy": [1000.0, 2000.0], "network": [500.0, 500.0]}
    total = next(t for t in fig.data if t.type == "scatter")
    assert list(total.x) == [1500.0, 2500.0]
    assert "cost_to_serve_eur" in reading(fig)
    assert "cost to serve EUR" in build_report(data)  # a column of the sortable table


def test_fold_messages_into_arrows() -> None:
    rows = [("bids", f"dera-{a}", "TSO", "bids", -1, 10) for a in (1, 2)]
    rows += [("tso", "TSO", f"dera-{a}", "activation", t, 5) for t in (0, 1) for a in (1, 2)]
    for i in (1, 2, 3):
        rows += [(f"iteration {i}", "TSO", "DSO", "exchange_proposal", -1, 7)]
        rows += [(f"iteration {i}", "DSO", "TSO", "cost_and_prices", -1, 3)]
    for a in (1, 2):  # once per aggregator: dispatch, then metering
        rows += [("dispatch", f"dera-{a}", "DERs", "setpoint", 0, 2)]
        rows += [("metering", "DERs", f"dera-{a}", "meter_data", -1, 4)]
    log = pd.DataFrame(rows, columns=["step", "sender", "receiver", "kind", "period", "bytes"])
    f = fold(log, {"dera-1", "dera-2"})
    assert f.messages.sum() == len(log) and f.bytes.sum() == log.bytes.sum()
    assert list(f.block) == [
        "bids",
        "tso",
        "iteration 1-3 (3x)",
        "iteration 1-3 (3x)",
        "dispatch",
        "metering",
    ]
    assert list(f.sender) == [AGGREGATORS, "TSO", "TSO", "DSO", AGGREGATORS, "DERs"]
    assert list(f.messages) == [2, 4, 3, 3, 2, 2]
    assert f.periods[1] == "0-1" and f.periods[0] == "day"
    # a pair of steps that comes back with other messages keeps its order (is not folded)
    steps = [
        ("tso", "dera-1", "TSO", "bids"),
        ("curve", "DSO", "TSO", "interface_curve"),
        ("tso", "TSO", "dera-1", "activation"),
        ("curve", "TSO", "DSO", "interface_schedule"),
    ]
    back = pd.DataFrame(
        [(*r, -1, 1) for r in steps],
        columns=["step", "sender", "receiver", "kind", "period", "bytes"],
    )
    g = fold(back, {"dera-1"})
    assert list(g.block) == ["tso", "curve", "tso", "curve"]
    assert list(g.kind) == [r[3] for r in steps]


def test_sweep_output_gets_its_figure(tmp_path: Path) -> None:
    rows = []
    for scale in (1.0, 1.3):
        for m, cost in (("smartnet-a", 100.0), ("smartnet-d", 130.0)):
            name = f"small[renewable_scale={scale}]"
            rows.append({"scenario": name, "model": m, "status": "optimal"})
            rows[-1].update(procurement_cost_eur=cost * scale, voltage_violations=int(10 * scale))
    pd.DataFrame(rows).to_csv(tmp_path / "sweep.csv", index=False)
    data = load_output(tmp_path)
    figs = figures(data)
    assert set(figs) == {"sweep"}
    fig = figs["sweep"]
    assert [t.name for t in fig.data] == ["smartnet-a", "smartnet-d"]
    assert list(fig.data[0].x) == ["renewable_scale=1.0", "renewable_scale=1.3"]
    assert list(fig.data[1].y) == [130.0, 169.0]
    keys = [b.label for b in fig.layout.updatemenus[0].buttons]
    assert keys[:2] == ["procurement_cost_eur", "voltage_violations"]
    assert 'id="fig-sweep"' in build_report(data)


def test_report_of_a_directory_without_output_is_one_message(tmp_path: Path) -> None:
    res = runner.invoke(app, ["report", str(tmp_path)])
    assert res.exit_code == 2
    assert "comparison.json" in res.output and "Traceback" not in res.output
    res = runner.invoke(app, ["report", str(tmp_path / "nope")])
    assert res.exit_code == 2 and "not a directory" in res.output


def test_every_panel_is_known_to_the_page() -> None:
    ids = [p.id for p in PANELS]
    assert len(ids) == len(set(ids))
    assert set(ids) >= COMPARE_PANELS
