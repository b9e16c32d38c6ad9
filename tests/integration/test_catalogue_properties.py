"""MODELS.md section 7 on the isolating presets: every model runs; joint is the cheapest
scheme that meets the same needs within limits; central == joint without distribution
congestion; the iterative decomposition reaches the joint cost; raw residual forwarding
breaches distribution limits where filtered and aggregated forwarding do not."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import all_model_kpis
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


# After the AC check the joint market is no longer exactly the cheapest: its LinDistFlow
# and DC models err (lossless, calibrated at the baseline only), and a model can be lucky
# where the linear model was pessimistic. Measured on these presets: within 0.01 %.
REALISED_TOLERANCE = 0.01


@pytest.mark.parametrize(
    "preset", ["no-d-congestion", "heavy-d-congestion", "t-congestion-d-flex", "discriminating"]
)
def test_joint_has_the_least_cost_to_serve_of_every_model(preset: str) -> None:
    """MODELS.md section 7.1 over every named model, none skipped: a model that buys less
    pays for the needs it leaves unmet at the same penalty prices."""
    kpis = all_model_kpis(preset)
    joint = kpis["smartnet-d"]
    for mid, k in kpis.items():
        assert k["status"] == "optimal", mid
        # exactly, on the markets' own valuation (the joint LP's objective)
        assert (
            joint["market_cost_to_serve_eur"] <= k["market_cost_to_serve_eur"] * (1 + 1e-6) + 1e-6
        ), mid
        # within a stated tolerance on what the AC check and the delivery measure
        floor = joint["cost_to_serve_eur"] * (1 - REALISED_TOLERANCE)
        assert k["cost_to_serve_eur"] >= floor, (
            mid,
            k["cost_to_serve_eur"],
            joint["cost_to_serve_eur"],
        )


def test_dso_first_equals_central_without_distribution_needs(no_d: Prepared) -> None:
    """With no distribution need the DSO's market buys nothing, so forwarding every bid to
    the TSO is the central market; forwarded storage keeps its state of charge, so nothing
    is cut (the stacking of a TSO step used to cut feasible battery schedules)."""
    central = _k(no_d, "smartnet-a")
    for path in ("residual", "filtered"):
        mech = Mechanism(
            operator="separate",
            sequence="dso_then_tso",
            d_constraints="full",
            d_path=path,
            priority="dso",
            interface="curve",
        )
        preset = ModelPreset("dso-first", "DSO first", "-", "test", "-", mech)
        k = _k(no_d, preset)
        assert k["stacking_cut_mwh"] == 0.0, path
        assert k["procurement_cost_eur"] == pytest.approx(central["procurement_cost_eur"], rel=1e-6)
        assert k["unresolved_imbalance_mwh"] == pytest.approx(
            central["unresolved_imbalance_mwh"], abs=1e-6
        )
