"""`tsodso assess` on the small preset: the same numbers serially and on a dask.distributed
LocalCluster, an interrupted assessment resumes without recomputing finished points, and
bad input is one message with exit status 2 before any work."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from tsodso.assess.points import plan_points, run_points
from tsodso.cli.main import app
from tsodso.scale.sweep import TIMING_KEYS
from tsodso.schema.config import load_config

runner = CliRunner()
MODELS = ["smartnet-a", "smartnet-d"]


def _results(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in rows]


def test_a_local_cluster_gives_the_serial_numbers() -> None:
    from dask.distributed import LocalCluster

    points = plan_points(load_config("small"), [(81, 200), (224, 166)], [7], [1.0], MODELS, 60)
    seen: list[str] = []
    serial = run_points(points, MODELS, 60, workers=1)
    with LocalCluster(
        n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        spread = run_points(
            points,
            MODELS,
            60,
            scheduler=cluster.scheduler_address,
            on_point=lambda p, rows: seen.append(p.id),
        )
    assert len(serial) == 2 * 3  # the reference and two models per point
    assert sorted(seen) == sorted(p.id for p in points)  # every point streamed back
    pd.testing.assert_frame_equal(
        pd.DataFrame(_results(spread)), pd.DataFrame(_results(serial)), check_exact=True
    )  # NaN (no DOE) equals NaN here
    by_day = {r["day"]: r["cost_to_serve_eur"] for r in serial if r["model"] == "smartnet-a"}
    assert by_day[81] != by_day[224]  # the day matters


def test_stages_set_every_models_markets_and_the_points_identity() -> None:
    cfg = load_config("small")
    own = plan_points(cfg, [(81, 200)], [7], [1.0], ["smartnet-a"], 60)
    single = plan_points(cfg, [(81, 200)], [7], [1.0], ["smartnet-a"], 60, "single")
    assert own[0].id != single[0].id  # a resumed run never reuses the other setting's rows
    rows = {
        stages: next(
            r
            for r in run_points(pts, ["smartnet-a"], 60, workers=1, stages=stages)
            if r["model"] == "smartnet-a"
        )
        for stages, pts in (("model", own), ("single", single))
    }
    assert rows["model"]["rt_activated_mwh"] > 0  # the preset's own stages: da_rt
    assert not rows["single"].get("rt_activated_mwh", 0.0) > 0  # one clearing, no real time
    assert rows["model"]["cost_to_serve_eur"] != rows["single"]["cost_to_serve_eur"]


def _assess(out: Path, *extra: str) -> Any:
    args = [
        "assess",
        "-s",
        "small",
        "-m",
        "smartnet-a",
        "--days",
        "1",
        "--seeds",
        "2",
        "--uptake-variants",
        "1",
        "--workers",
        "1",
        "--out",
        str(out),
        *extra,
    ]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    return res


def test_an_interrupted_assessment_resumes(tmp_path: Path) -> None:
    out = tmp_path / "a"
    _assess(out)
    files = sorted((out / "points").glob("*.parquet"))
    assert len(files) == 2
    # as if interrupted after the first point, whose result is marked: a rerun must keep it
    # (no recomputation) and run only the missing point
    kept, lost = files
    rows = pd.read_parquet(kept)
    rows.loc[rows["model"] == "smartnet-a", "cost_to_serve_eur"] = 1.0e6
    rows.to_parquet(kept, index=False)
    lost.unlink()
    res = _assess(out)
    assert "1 done before, 1 to run" in " ".join(res.output.split())
    assert sorted((out / "points").glob("*.parquet")) == files
    again = pd.read_parquet(kept)
    assert (again.loc[again["model"] == "smartnet-a", "cost_to_serve_eur"] == 1.0e6).all()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["points"] == 2 and manifest["points_run_now"] == 1
    points = pd.read_parquet(out / "points.parquet")
    assert (points["cost_to_serve_eur"] == 1.0e6).sum() == 1  # the kept point is used
    for name in (
        "annual",
        "ranking",
        "npv",
        "costs",
        "criteria",
        "mca",
        "tornado",
        "switching",
        "days",
        "summary",
    ):
        assert len(pd.read_parquet(out / f"{name}.parquet")), name
    # the report knows the directory and draws the assessment from its tables
    from tsodso.report.load import load_output
    from tsodso.report.page import figures

    data = load_output(out)
    assert data.kind == "assess" and manifest["created_by"] == "tsodso assess"
    assert {"ranking", "npv", "tornado"} <= set(figures(data))


@pytest.fixture
def no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if a scenario is built or a day profile read."""
    import tsodso.api  # noqa: F401  bound to the real builder before it is patched here
    import tsodso.assess.days as days
    import tsodso.scenario.build as build

    def forbidden(*a: Any, **k: Any) -> None:
        raise AssertionError("work started before the options were checked")

    monkeypatch.setattr(build, "build_scenario", forbidden)
    monkeypatch.setattr(days, "daily_profiles", forbidden)


def _refused(args: list[str]) -> str:
    res = runner.invoke(app, ["assess", "-s", "small", *args])
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
    return " ".join(res.output.split())


def test_bad_input_is_one_message_and_exit_2(tmp_path: Path, no_work: None) -> None:
    text = _refused(["-m", "smartnet-a,nosuch-model"])
    assert "unknown model id(s): nosuch-model" in text
    text = _refused(["--days", "0"])
    assert "--days 0: expected 1 .. 366" in text
    text = _refused(["--stages", "weekly"])
    assert "--stages 'weekly': expected one of model, single, da_rt" in text
    bad = tmp_path / "a.toml"
    bad.write_text("[assumptions.platform_capx]\ncentral = 1.0\n")
    text = _refused(["--assumptions", str(bad)])
    assert f"{bad}: assumptions.platform_capx: unknown assumption" in text
    # together: one message listing all three
    text = _refused(["-m", "nosuch-model", "--days", "0", "--assumptions", str(bad)])
    assert "3 problems" in text
    assert "nosuch-model" in text and "--days 0" in text and "platform_capx" in text
