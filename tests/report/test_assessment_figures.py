"""The report of an assessment directory: found as one, every figure drawn from its tables,
the readings name what the tables say, a missing table is said, not guessed."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tsodso.report.figures.assessment import npv_figure, ranking_figure, switching_figure
from tsodso.report.figures.common import MissingData, reading
from tsodso.report.load import load_output
from tsodso.report.page import build_report, figures


def _assessment(d: Path) -> Path:
    d.mkdir()
    (d / "points").mkdir()
    (d / "manifest.json").write_text(
        json.dumps({"created_by": "tsodso assess", "scenario": "small", "wall_time_s": 1.0})
    )
    ranking = pd.DataFrame(
        {
            "rank": [1, 2],
            "model": ["b", "a"],
            "cost_to_serve_eur": [100.0, 150.0],
            "p05": [90.0, 140.0],
            "p95": [120.0, 160.0],
            "share_first": [0.75, 0.25],
            "share_top3": [1.0, 1.0],
        }
    )
    npv = pd.DataFrame(
        {
            "model": ["a", "b"],
            "capex_eur": [10.0, 30.0],
            "opex_eur_year1": [1.0, 2.0],
            "operational_benefit_eur_year1": [5.0, 9.0],
            "network_benefit_eur_year1": [0.0, 1.0],
            "npv_eur": [20.0, 40.0],
        }
    )
    switching = pd.DataFrame(
        {
            "assumption": ["discount_rate", "platform_capex"],
            "unit": ["1", "EUR"],
            "central": [0.05, 100.0],
            "leader": ["b", "b"],
            "switching_value": [0.2, None],
            "ratio_to_central": [4.0, None],
            "new_leader": ["a", None],
            "within_range": [False, None],
        }
    )
    tornado = pd.DataFrame(
        {
            "assumption": ["discount_rate", "discount_rate"],
            "model": ["a", "b"],
            "npv_low_eur": [25.0, 50.0],
            "npv_central_eur": [20.0, 40.0],
            "npv_high_eur": [15.0, 30.0],
        }
    )
    for name, t in {"ranking": ranking, "summary": ranking, "npv": npv}.items():
        t.to_parquet(d / f"{name}.parquet")
    switching.to_parquet(d / "switching.parquet")
    tornado.to_parquet(d / "tornado.parquet")
    return d


def test_an_assessment_directory_gives_its_figures(tmp_path: Path) -> None:
    data = load_output(_assessment(tmp_path / "a"))
    assert data.kind == "assess" and data.model_ids == ["b", "a"]
    figs = figures(data)
    assert list(figs) == ["ranking", "npv", "switching", "tornado"]
    assert reading(figs["ranking"]).startswith("b serves the needs at the least annual cost")
    assert "first in 75%" in reading(figs["ranking"])
    assert "intervals are apart" in reading(figs["ranking"])  # 120 < 140
    assert reading(figs["npv"]).startswith("b has the highest net present value (EUR 40)")
    assert "discount_rate (at 4.00x" in reading(figs["switching"])
    assert "NPV of b (EUR 40 at central values)" in reading(figs["tornado"])
    page = build_report(data)
    assert "tsodso report: assessment of 2 model(s), scenario small" in page
    assert "no assessment" not in page


def test_a_missing_assessment_table_is_said(tmp_path: Path) -> None:
    d = _assessment(tmp_path / "a")
    (d / "npv.parquet").unlink()
    data = load_output(d)
    with pytest.raises(MissingData, match="npv table"):
        npv_figure(data)
    ranking_figure(data)  # the others still draw
    switching_figure(data)
    assert "the assessment&#x27;s npv table" in build_report(data)
