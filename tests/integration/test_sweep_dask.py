"""Sweeps give the same KPIs serially, on Dask's process pool and on a dask.distributed
LocalCluster (started here on loopback)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tsodso.scale.sweep import TIMING_KEYS, parse_variations, run_sweep, sweep_points
from tsodso.schema.config import ScenarioConfigError, load_config


def _results(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in rows]


def test_engines_agree() -> None:
    from dask.distributed import LocalCluster

    points = sweep_points(
        load_config("no-d-congestion"), parse_variations(["ders.battery_share=0.1,0.5"])
    )
    models = ["smartnet-a", "smartnet-d"]
    serial = run_sweep(points, models, workers=1)
    pool = run_sweep(points, models, workers=2)
    with LocalCluster(
        n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        distributed = run_sweep(points, models, scheduler=cluster.scheduler_address)
    assert len(serial) == 4
    assert [r["scenario"] for r in serial] == ["no-d-congestion[ders.battery_share=0.1]"] * 2 + [
        "no-d-congestion[ders.battery_share=0.5]"
    ] * 2
    assert _results(pool) == _results(serial)
    assert _results(distributed) == _results(serial)
    # the variation matters: the two points differ
    assert serial[0]["procurement_cost_eur"] != serial[2]["procurement_cost_eur"]


def test_bad_variations_are_reported_together() -> None:
    with pytest.raises(ScenarioConfigError) as e:
        sweep_points(
            load_config("small"),
            parse_variations(["day=400", "ders.ev_share=2", "renewable_scale=1"]),
        )
    text = str(e.value)
    assert "day" in text and "ders.ev_share" in text
    with pytest.raises(ScenarioConfigError, match="expected FIELD=V1"):
        parse_variations(["nonsense"])


def test_an_unreachable_scheduler_is_a_sweep_error() -> None:
    from tsodso.scale.sweep import SchedulerError

    points = sweep_points(load_config("small"), parse_variations(["seed=1,2"]))
    with pytest.raises(SchedulerError, match="--scheduler tcp://127.0.0.1:1"):
        run_sweep(points, ["smartnet-a"], scheduler="tcp://127.0.0.1:1")


def test_a_sweep_keeps_each_point_and_resumes(tmp_path: Path) -> None:
    """Each finished point is a file named by its scenario's digest; a rerun runs only what
    is missing and builds sweep.csv from the kept files (a kept file is read, not redone)."""
    from typer.testing import CliRunner

    from tsodso.cli.main import app
    from tsodso.scale.sweep import point_id

    runner = CliRunner()
    args = ["sweep", "-s", "no-d-congestion", "--vary", "seed=1,2", "-m", "smartnet-a"]
    args += ["--workers", "1", "--out", str(tmp_path), "--quiet"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    points = sweep_points(load_config("no-d-congestion"), parse_variations(["seed=1,2"]))
    files = [tmp_path / "points" / f"{point_id(p, ['smartnet-a'])}.json" for p in points]
    assert sorted(tmp_path.glob("points/*.json")) == sorted(files)
    before = pd.read_csv(tmp_path / "sweep.csv")
    assert len(before) == 2
    # mark the first point's kept rows, drop the second: the rerun reads the first and
    # recomputes the second, to the same KPIs
    rows = json.loads(files[0].read_text())
    rows[0]["procurement_cost_eur"] = -1.0
    files[0].write_text(json.dumps(rows))
    files[1].unlink()
    second = runner.invoke(app, args)
    assert second.exit_code == 0, second.output
    assert "1 done before, 1 to run" in second.output
    after = pd.read_csv(tmp_path / "sweep.csv")
    assert after["procurement_cost_eur"].iloc[0] == -1.0
    keep = [c for c in before.columns if c not in TIMING_KEYS]
    pd.testing.assert_frame_equal(after[keep].iloc[1:], before[keep].iloc[1:])
    # a damaged point file is named, not silently rerun or skipped
    files[1].write_text("{not json")
    third = runner.invoke(app, args)
    assert third.exit_code == 2 and files[1].name in "".join(third.output.split())
    assert "0 to run" not in third.output  # refused before any work
