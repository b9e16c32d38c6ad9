"""Properties of the clearing that must hold on any scenario (hypothesis over configs of a
fast synthetic feeder case)."""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tsodso.clearing.lp import Status
from tsodso.clearing.market import clear_market
from tsodso.clearing.problem import MarketProblem
from tsodso.coordination.catalogue import get_model
from tsodso.pipeline import prepare, run_model
from tsodso.scenario.domain import Scenario

from ..conftest import feeder_case

configs = st.fixed_dictionaries(
    {
        "seed": st.integers(0, 10_000),
        "load_scale": st.floats(0.6, 1.6),
        "imbalance_std_mw": st.floats(0.0, 0.6),
        "ders": st.fixed_dictionaries(
            {
                "battery_share": st.floats(0.1, 0.6),
                "ev_share": st.floats(0.0, 0.5),
                "flex_load_share": st.floats(0.1, 0.8),
            }
        ),
    }
)
SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _joint_spec(scn: Scenario, prep_ctx, bids) -> MarketProblem:  # type: ignore[no-untyped-def]
    # the joint market without the TSO's DC rating calibration
    ctx = dataclasses.replace(
        prep_ctx, forecast=dataclasses.replace(prep_ctx.forecast, t_rating_factor=None)
    )
    return ctx.problem(bids, feeders=ctx.all_feeders)


@SETTINGS
@given(configs)
def test_power_balance_holds(cfg) -> None:  # type: ignore[no-untyped-def]
    scn = feeder_case(**cfg)
    ctx = prepare(scn).ctx
    c = clear_market(_joint_spec(scn, ctx, scn.bids))
    assert c.status == Status.OPTIMAL
    signed = np.zeros(scn.periods)
    np.add.at(signed, c.bids.period, c.bids.direction * c.accepted_mw)
    assert np.allclose(signed + c.unmet_imbalance_mw, scn.imbalance_mw, atol=1e-6)
    assert (c.accepted_mw >= -1e-9).all() and (c.accepted_mw <= c.bids.q_max_mw + 1e-9).all()


@SETTINGS
@given(configs, st.integers(0, 2**31 - 1))
def test_shuffled_bids_give_identical_results(cfg, shuffle_seed) -> None:  # type: ignore[no-untyped-def]
    scn = feeder_case(**cfg)
    ctx = prepare(scn).ctx
    perm = np.random.default_rng(shuffle_seed).permutation(len(scn.bids))
    a = clear_market(_joint_spec(scn, ctx, scn.bids))
    b = clear_market(_joint_spec(scn, ctx, scn.bids.subset(perm)))
    # bids are canonicalised before the LP is built: the same LP, the same solution, even
    # where the optimum is degenerate (ties between periods through storage)
    assert a.objective_eur == b.objective_eur
    assert np.array_equal(a.unmet_imbalance_mw, b.unmet_imbalance_mw)
    assert np.array_equal(a.accepted_mw[perm], b.accepted_mw)
    assert np.array_equal(a.node_price_eur_per_mwh, b.node_price_eur_per_mwh)


@SETTINGS
@given(configs)
def test_joint_no_dearer_than_central_when_central_passes_ac(cfg) -> None:  # type: ignore[no-untyped-def]
    # the same limits for both: no DSO security margin inside the voltage band
    scn = feeder_case(**cfg, d_voltage_margin_pu=0.0)
    prep = prepare(scn)
    # the property is about one clearing on the same state: the single-stage presets
    central = run_model(prep, get_model("smartnet-a").at_stages("single"))
    joint = run_model(prep, get_model("smartnet-d").at_stages("single"))
    passes = central.kpis["voltage_violations"] == 0 and central.kpis["overload_mwh"] == 0
    if passes:
        assert joint.kpis["procurement_cost_eur"] <= central.kpis["procurement_cost_eur"] + 1e-6
