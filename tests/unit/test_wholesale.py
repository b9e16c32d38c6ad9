"""The day-ahead wholesale stage (``scenario.wholesale``) and the BRPs' imbalance settlement
(``settlement.imbalance``): each property is checked against a computation of its own."""

from __future__ import annotations

import numpy as np
import pytest

from tsodso.pipeline import prepare, run_model
from tsodso.scenario.build import build_scenario
from tsodso.scenario.domain import Scenario
from tsodso.schema.config import config_from_dict
from tsodso.schema.tables import COUPLING_SHIFT, COUPLING_STORAGE

#: a simbench MV feeder over a whole day (simbench profiles: a price with a shape)
DAY = {
    "name": "mv-day",
    "grid": "simbench:1-MV-rural--0-sw",
    "periods": 96,
    "transmission_min_kv": 100.0,
    "imbalance_std_mw": 0.3,
    "ders": {"battery_share": 0.5, "ev_share": 0.4},
}


def feeder_case(**overrides: object) -> Scenario:
    return build_scenario(config_from_dict({**DAY, **overrides}))


@pytest.fixture(scope="module")
def day() -> Scenario:
    return feeder_case()


@pytest.fixture(scope="module")
def flat() -> Scenario:
    return feeder_case(wholesale={"market": "none"})


def test_price_follows_the_merit_order_curve_at_the_cleared_import(day: Scenario) -> None:
    w, cfg = day.wholesale, day.config.wholesale
    assert w is not None
    z = cfg.zone_scale
    lo, hi = z * float(w.day_residual_mw.min()), z * float(w.day_residual_mw.max())
    slope = (cfg.price_high_eur_per_mwh - cfg.price_low_eur_per_mwh) / (hi - lo)
    cleared = z * w.residual_mw - w.schedule_mw[w.scheduled].sum(axis=0)
    curve = cfg.price_low_eur_per_mwh + slope * (cleared - lo)
    # the LP's curve is a staircase of 64 steps over what the schedules can reach
    reach = z * (w.residual_mw.max() - w.residual_mw.min()) + 2 * day.ders.p_rated_mw.sum() + 2
    step = slope * reach / 64
    np.testing.assert_array_less(np.abs(w.price_eur_per_mwh - curve), step + 1e-6)
    # the day's shape: the dearest quarter-hour is where the zone imports the most
    assert w.price_eur_per_mwh.max() > w.price_eur_per_mwh.min()


def test_batteries_follow_their_physics_and_never_lose_money(day: Scenario) -> None:
    d, w = day.ders, day.wholesale
    assert w is not None
    bat = np.flatnonzero(d.coupling == COUPLING_STORAGE)
    assert len(bat) and w.scheduled[bat].all()
    p, eff, dt = d.p_base_mw[bat], d.efficiency[bat][:, None], day.dt_h
    flow = np.where(p > 0, -p * dt / eff, -p * dt * eff)  # energy into the store
    soc = d.soc0_mwh[bat][:, None] + np.cumsum(flow, axis=1)
    np.testing.assert_allclose(d.soc_base_mwh[bat], soc, atol=1e-6)
    np.testing.assert_allclose(d.nominated_storage_flow_mwh()[bat], flow, atol=1e-6)
    assert (soc >= -1e-6).all() and (soc <= d.energy_mwh[bat][:, None] + 1e-6).all()
    assert (soc[:, -1] >= d.soc0_mwh[bat] - 1e-6).all()
    assert (np.abs(p) <= d.p_rated_mw[bat][:, None] + 1e-9).all()
    # idling is feasible: what a battery earns pays at least its ageing cost
    cycle = day.config.wholesale.battery_cycle_cost_eur_per_mwh
    earned = w.der_revenue_eur()[bat] - cycle * np.maximum(p, 0).sum(axis=1) * dt
    assert (earned >= -1e-6).all()
    assert np.abs(p).max() > 0.01  # a day with a spread: the batteries trade
    price = w.price_eur_per_mwh
    sold = (np.maximum(p, 0) * price).sum() / np.maximum(p, 0).sum()
    bought = (np.maximum(-p, 0) * price).sum() / np.maximum(-p, 0).sum()
    assert sold >= bought / 0.95**2 + cycle - 1e-6


def test_ev_hubs_charge_their_need_in_cheaper_quarter_hours(day: Scenario, flat: Scenario) -> None:
    d, f, w = day.ders, flat.ders, day.wholesale
    assert w is not None
    ev = np.flatnonzero(d.coupling == COUPLING_SHIFT)
    assert len(ev)
    np.testing.assert_array_equal(d.id[ev], f.id[ev])  # the same hubs, one draw
    np.testing.assert_allclose(d.p_base_mw[ev].sum(axis=1), f.p_base_mw[ev].sum(axis=1))
    plugged = (f.up_mw[ev] + f.down_mw[ev]) > 0
    assert (d.p_base_mw[ev][~plugged] == 0).all() and (d.p_base_mw[ev] <= 1e-12).all()
    price = w.price_eur_per_mwh
    cost = -(d.p_base_mw[ev] * price).sum(axis=1)
    on_arrival = -(f.p_base_mw[ev] * price).sum(axis=1)
    assert (cost <= on_arrival + 1e-6).all() and cost.sum() < on_arrival.sum()


def test_the_schedule_leaves_each_unit_its_range(day: Scenario, flat: Scenario) -> None:
    d, f = day.ders, flat.ders
    np.testing.assert_allclose(d.p_base_mw + d.up_mw, f.p_base_mw + f.up_mw, atol=1e-9)
    np.testing.assert_allclose(d.p_base_mw - d.down_mw, f.p_base_mw - f.down_mw, atol=1e-9)
    price_takers = (d.coupling != COUPLING_STORAGE) & (d.coupling != COUPLING_SHIFT)
    np.testing.assert_array_equal(d.p_base_mw[price_takers], f.p_base_mw[price_takers])


def test_without_a_wholesale_stage_batteries_idle(flat: Scenario) -> None:
    d = flat.ders
    bat = d.coupling == COUPLING_STORAGE
    assert flat.wholesale is None
    assert (d.p_base_mw[bat] == 0).all()
    np.testing.assert_array_equal(d.soc_base_mwh[bat], np.repeat(d.soc0_mwh[bat][:, None], 96, 1))


def test_flexibility_markets_start_from_the_scheduled_state_of_charge(day: Scenario) -> None:
    """A market that sells battery flexibility around the wholesale schedule keeps every
    battery within its energy: the clearing's state of charge includes the schedule (each
    flow with its own efficiency: the schedule's and every activation's; where an
    activation reverses the schedule's direction the net flow loses less than that)."""
    r = run_model(prepare(day), "smartnet-c")
    d, b = r.prepared.scn.ders, r.prepared.scn.bids
    acc = r.life.stack.accepted_mw
    assert r.kpis["activated_mwh"] > 0
    bat = np.flatnonzero(d.coupling == COUPLING_STORAGE)
    eff = d.efficiency[b.der]
    into = np.where(b.direction > 0, -acc / eff, acc * eff) * day.dt_h
    flow = np.zeros_like(d.p_base_mw)
    np.add.at(flow, (b.der, b.period), into)
    soc = d.soc_base_mwh[bat] + np.cumsum(flow[bat], axis=1)
    assert (soc >= -1e-6).all() and (soc <= d.energy_mwh[bat][:, None] + 1e-6).all()
    assert (soc[:, -1] >= d.soc0_mwh[bat] - 1e-6).all()
    used = np.isin(b.der, bat) & (acc > 1e-6)
    assert used.any()  # batteries were activated around their schedules
    # the energy bound matters: the schedule fills some battery to the brim
    full = d.soc_base_mwh[bat] >= d.energy_mwh[bat][:, None] - 1e-6
    assert full.any()


def test_brps_are_not_charged_for_following_an_operators_order() -> None:
    exact = {"forecast_error_std": 0.0, "non_delivery_probability": 0.0, "rebound_fraction": 0.0}
    scn = feeder_case(delivery=exact)
    r = run_model(prepare(scn), "smartnet-c")
    assert r.kpis["activated_mwh"] > 0
    assert r.kpis["brp_imbalance_mwh"] == pytest.approx(0.0, abs=1e-6)
    assert r.kpis["brp_imbalance_eur"] == pytest.approx(0.0, abs=0.01)


def test_brps_pay_for_their_portfolios_forecast_error(day: Scenario) -> None:
    r = run_model(prepare(day), "smartnet-c")
    led = r.life.settlement.ledger
    assert led.total_cents() == 0
    assert r.kpis["brp_imbalance_mwh"] > 0
    # independently: each BRP's deviation from its position corrected for its orders
    d, b = r.prepared.scn.ders, r.prepared.scn.bids
    acc = r.life.stack.accepted_mw
    ordered = np.zeros_like(d.p_base_mw)
    np.add.at(ordered, (b.der, b.period), b.direction * acc)
    dev = r.life.delivery.metered_mw - d.p_base_mw - ordered
    per_brp = np.zeros((len(day.aggregator_names), day.periods))
    np.add.at(per_brp, d.aggregator, dev)
    expected = float(np.abs(per_brp).sum() * day.dt_h)
    assert r.kpis["brp_imbalance_mwh"] == pytest.approx(expected, abs=1e-4)
    brps = set(day.brp_names)
    posted = led.postings[led.postings.kind.str.startswith("imbalance")]
    assert set(posted.payer) | set(posted.payee) <= brps | {"TSO"}


def test_every_random_stream_has_its_own_id() -> None:
    from tsodso.schema import streams

    ids = [v for k, v in vars(streams).items() if k.isupper()]
    assert len(ids) >= 6 and len(set(ids)) == len(ids)
