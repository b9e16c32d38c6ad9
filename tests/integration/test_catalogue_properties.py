"""MODELS.md section 7 on the isolating presets: every model runs; joint is the cheapest
scheme that meets the same needs within limits; central == joint without distribution
congestion; the iterative decomposition reaches the joint cost; raw residual forwarding
breaches distribution limits where filtered and aggregated forwarding do not."""

from __future__ import annotations

from typing import Any

import pytest

from tsodso.coordination.catalogue import CATALOGUE, ModelPreset
from tsodso.pipeline import Prepared, prepare, run_model
from tsodso.scenario.build import build_scenario
from tsodso.schema.config import load_config
from tsodso.schema.mechanism import Mechanism

FILTERED = ModelPreset(
    id="user-filtered",
    name="DSO first, filtered forwarding",
    region="-",
    source="tsodso test",
    description="Residual bids forwarded with caps that keep any combination feasible.",
    mechanism=Mechanism(
        operator="separate",
        sequence="dso_then_tso",
        d_constraints="full",
        d_path="filtered",
        priority="dso",
        interface="curve",
    ),
)


@pytest.fixture(scope="module")
def no_d() -> Prepared:
    return prepare(build_scenario(load_config("no-d-congestion")))


@pytest.fixture(scope="module")
def heavy_d() -> Prepared:
    return prepare(build_scenario(load_config("heavy-d-congestion")))


def _k(prep: Prepared, model: str | ModelPreset) -> dict[str, Any]:
    return run_model(prep, model).kpis


def test_every_named_model_runs(no_d: Prepared) -> None:
    for mid in CATALOGUE:
        r = run_model(no_d, mid)
        assert str(r.outcome.status) == "optimal", mid
        assert r.kpis["messages"] > 0, mid


def test_central_equals_joint_without_distribution_congestion(no_d: Prepared) -> None:
    assert no_d.baseline.voltage_violations(distribution=True) == 0
    central, joint = _k(no_d, "smartnet-a"), _k(no_d, "smartnet-d")
    assert central["procurement_cost_eur"] == pytest.approx(joint["procurement_cost_eur"], rel=1e-6)


def test_iterative_reaches_the_joint_cost(no_d: Prepared, heavy_d: Prepared) -> None:
    for prep in (no_d, heavy_d):
        joint = _k(prep, "smartnet-d")
        it = run_model(prep, "smartnet-d-decentralised")
        assert str(it.outcome.status) == "optimal"
        assert it.outcome.iterations > 1
        rel = abs(it.kpis["procurement_cost_eur"] - joint["procurement_cost_eur"])
        assert rel <= 0.005 * joint["procurement_cost_eur"]


def test_residual_breaches_filtered_and_aggregated_do_not(heavy_d: Prepared) -> None:
    base = heavy_d.baseline
    assert base.overload_mwh(distribution=True) > 10  # the preset is built for it
    residual = _k(heavy_d, "ferc-dso")
    filtered = _k(heavy_d, FILTERED)
    aggregated = _k(heavy_d, "smartnet-b")
    assert residual["overload_distribution_mwh"] + residual["voltage_violations_distribution"] > 0
    for k in (filtered, aggregated):
        assert k["overload_distribution_mwh"] < 0.05
        assert k["voltage_violations_distribution"] == 0


def test_joint_is_cheapest_among_schemes_within_limits(heavy_d: Prepared) -> None:
    joint = _k(heavy_d, "smartnet-d")
    assert joint["overload_mwh"] < 0.05 and joint["voltage_violations"] == 0
    compared = 0
    for mid in [*CATALOGUE, FILTERED]:
        k = _k(heavy_d, mid)
        ok = (
            k["unresolved_imbalance_mwh"] < 1e-3
            and k["overload_mwh"] < 1e-3
            and k["voltage_violations"] == 0
        )
        if ok:
            compared += 1
            assert joint["procurement_cost_eur"] <= k["procurement_cost_eur"] * (1 + 1e-6), mid
    assert compared >= 2  # joint itself and at least one other scheme
