"""Sweeps give the same KPIs serially, on Dask's process pool and on a dask.distributed
LocalCluster (started here on loopback)."""

from __future__ import annotations

from typing import Any

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
