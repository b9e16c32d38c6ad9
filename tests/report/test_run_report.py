"""The report of one ``tsodso run --out`` directory: the model's own figures, the grid, and
the envelopes of every DOE method (the run writes them)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from tsodso.cli.main import app
from tsodso.report import envelope_figure, envelope_map, figures, load_output, reading

runner = CliRunner()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run-oen-hybrid")
    res = runner.invoke(app, ["run", "--model", "oen-hybrid", "-s", "small", "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out


def test_run_report_draws_the_model_the_grid_and_its_envelopes(run_dir: Path) -> None:
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert "details/messages.parquet" in manifest["files"]
    data = load_output(run_dir)
    assert data.kind == "run" and data.model_ids == ["oen-hybrid"]
    figs = figures(data)
    assert {
        "sequence",
        "money",
        "procurement",
        "map",
        "heatmap",
        "envelopes",
        "envelope-map",
    } <= set(figs)
    # the run's own message table and the report's agree
    own = pd.read_parquet(run_dir / "messages.parquet")
    assert len(data.details["messages"]) == len(own) == manifest["kpis"]["messages"]
    # envelopes: one point per method and direction, as in the run's DOE summary
    summary = pd.read_parquet(run_dir / "doe_summary.parquet")
    env = envelope_figure(data)
    points = sum(len(t.x) for t in env.data)
    assert points == len(summary)
    best = summary.loc[summary.hosting_mw.idxmax()]
    assert str(best.method) in reading(env)
    # the envelope map offers every method and direction, and its customers sit on the map
    emap = envelope_map(data)
    labels = [b.label for b in emap.layout.updatemenus[0].buttons]
    assert len(labels) == len(summary)
    does = pd.read_parquet(run_dir / "does.parquet")
    assert len(emap.data[1].x) == does.bus.nunique()  # every customer, one marker
    res = runner.invoke(app, ["report", str(run_dir)])
    assert res.exit_code == 0, res.output
    page = (run_dir / "report.html").read_text()
    assert 'id="fig-envelope-map"' in page and "oen-hybrid" in page
