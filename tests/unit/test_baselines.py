"""Settlement baselines (hand-worked cases) and the DER history they read."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from tests.conftest import feeder_case
from tsodso.grids.sources import window_profiles
from tsodso.scenario.domain import Scenario
from tsodso.scenario.history import der_history, der_profile_on_day, previous_days_of_type
from tsodso.settlement.baselines import (
    BASELINE_METHODS,
    baseline,
    baseline_error,
    delivered_mw,
    historical_baseline,
    mbma_baseline,
    nominated_baseline,
)

# One load (negative power), 5 history days, 4 periods; the event covers periods 2 and 3.
# Mean |power| over the event periods: day 0: 1, day 1: 5, day 2: 2, day 3: 4, day 4: 3, so
# X = 3 picks days 1, 3 and 4. Day 0 is high outside the event only and must not be picked.
HISTORY = np.array(
    [
        [-9.0, -9.0, -1.0, -1.0],
        [-4.0, -4.0, -5.0, -5.0],
        [-2.0, -2.0, -2.0, -2.0],
        [-4.0, -4.0, -4.0, -4.0],
        [-2.0, -2.0, -3.0, -3.0],
    ]
)
EVENT = np.array([[False, False, True, True]])
# mean of days 1, 3, 4 per period
AVG_EVENT_DAYS = np.array([-10 / 3, -10 / 3, -4.0, -4.0])


def _hist(*rows: np.ndarray) -> np.ndarray:
    return np.stack(rows)  # (D, Y, T)


def test_high_x_of_y_picks_the_days_highest_over_the_event() -> None:
    got = historical_baseline(_hist(HISTORY), np.zeros((1, 4)), EVENT, x=3, adjustment_periods=0)
    np.testing.assert_allclose(got, [AVG_EVENT_DAYS])


def test_high_x_of_y_without_event_ranks_days_over_all_periods() -> None:
    # Over all periods: day 0: 5, day 1: 4.5, day 2: 2, day 3: 4, day 4: 2.5 -> days 0, 1, 3.
    # The first DER has the event, the second none: each is ranked on its own periods.
    event = np.vstack([EVENT, np.zeros((1, 4), dtype=bool)])
    got = historical_baseline(
        _hist(HISTORY, HISTORY), np.zeros((2, 4)), event, x=3, adjustment_periods=0
    )
    np.testing.assert_allclose(got[0], AVG_EVENT_DAYS)
    np.testing.assert_allclose(got[1], [-17 / 3, -17 / 3, -10 / 3, -10 / 3])


def test_same_day_adjustment_within_the_cap() -> None:
    # Window = periods 0, 1 (the two before the first event period); averaged history there
    # is -10/3, metered -3.5: shift = -3.5 + 10/3 = -1/6, cap = 0.2 * 10/3 = 2/3.
    metered = np.array([[-3.5, -3.5, -1.0, -1.0]])
    got = historical_baseline(_hist(HISTORY), metered, EVENT, x=3, adjustment_periods=2)
    np.testing.assert_allclose(got, [AVG_EVENT_DAYS - 1 / 6])


@pytest.mark.parametrize(
    ("metered_before", "adjustment"),
    [(-5.0, -2 / 3), (-2.0, 2 / 3)],  # shifts -5/3 and +4/3 are capped at -+2/3
)
def test_same_day_adjustment_is_capped(metered_before: float, adjustment: float) -> None:
    metered = np.array([[metered_before, metered_before, 0.0, 0.0]])
    got = historical_baseline(_hist(HISTORY), metered, EVENT, x=3, adjustment_periods=2)
    np.testing.assert_allclose(got, [AVG_EVENT_DAYS + adjustment])


def test_adjustment_uses_the_periods_available_and_none_at_period_zero() -> None:
    # DER 0: event from period 1, ranked over periods 1..3: day 0: 11/3, day 1: 14/3,
    #   day 2: 2, day 3: 4, day 4: 8/3 -> days 1, 3, 0. Its window is period 0 only
    #   (history -17/3, metered -5.5): shift = 1/6, within the cap 0.2 * 17/3.
    # DER 1: event from period 0, ranked over periods 0, 1: days 0 (9), 1 (4), 3 (4); no
    #   adjustment, whatever was metered.
    # DER 2: zero history (a battery): the cap is 0, so no adjustment either.
    event = np.array(
        [[False, True, True, True], [True, True, False, False], [False, False, True, True]]
    )
    metered = np.array([[-5.5, 0.0, 0.0, 0.0], [-7.0, 0.0, 0.0, 0.0], [0.3, 0.3, 0.0, 0.0]])
    hist = _hist(HISTORY, HISTORY, np.zeros((5, 4)))
    got = historical_baseline(hist, metered, event, x=3, adjustment_periods=4)
    days_1_3_0 = np.array([-17 / 3, -17 / 3, -10 / 3, -10 / 3])
    np.testing.assert_allclose(got[0], days_1_3_0 + 1 / 6)
    np.testing.assert_allclose(got[1], days_1_3_0)
    np.testing.assert_allclose(got[2], np.zeros(4))


def test_mbma_holds_the_value_before_each_run() -> None:
    metered = np.array([[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [10.0, 20.0, 30.0, 40.0, 50.0, 60.0]])
    nominated = np.array([[0.5] * 6, [7.0, 8.0, 8.0, 8.0, 8.0, 8.0]])
    event = np.array(
        [[False, True, True, False, True, False], [True, True, False, False, False, True]]
    )
    got = mbma_baseline(metered, event, nominated)
    np.testing.assert_allclose(got[0], [1.0, 1.0, 1.0, 4.0, 4.0, 6.0])
    # the first run starts at period 0: the nominated value of period 0
    np.testing.assert_allclose(got[1], [7.0, 7.0, 30.0, 40.0, 50.0, 50.0])


def test_delivered_energy_of_a_load_is_baseline_minus_metered_consumption() -> None:
    # A flexible load consuming 2 MW: reduced to 1.5 MW in periods 1-2 (up activation),
    # raised to 2.8 MW in periods 4-5 (down activation); quarter-hours.
    metered = np.array([[-2.0, -1.5, -1.5, -2.0, -2.8, -2.8]])
    event = np.array([[False, True, True, False, True, True]])
    base = mbma_baseline(metered, event, np.full((1, 6), -2.0))
    np.testing.assert_allclose(base, np.full((1, 6), -2.0))
    got = delivered_mw(base, metered)
    np.testing.assert_allclose(got, [[0.0, 0.5, 0.5, 0.0, -0.8, -0.8]])
    up_mwh = got[0, 1:3].sum() * 0.25  # (2.0 - 1.5) MW consumption reduced, 30 min
    down_mwh = got[0, 4:6].sum() * 0.25  # (2.0 - 2.8) MW, 30 min
    assert up_mwh == pytest.approx(0.25)
    assert down_mwh == pytest.approx(-0.4)


def test_delivered_of_a_generator_is_metered_minus_baseline_injection() -> None:
    nominated = np.array([[3.0, 3.0, 3.0]])
    metered = np.array([[3.0, 4.0, 1.0]])  # up by 1 MW, then curtailed by 2 MW
    got = delivered_mw(nominated_baseline(nominated), metered)
    np.testing.assert_allclose(got, [[0.0, 1.0, -2.0]])


def test_baseline_error_over_event_intervals() -> None:
    base = np.array([[1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 0.0, 9.0]])
    true = np.array([[1.0, 1.0, 5.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    event = np.array([[False, True, True, False], [False, False, False, False]])
    # errors on events: +1, -2 (the 4 and 9 outside events do not count)
    got = baseline_error(base, true, event)
    assert got["mae_mw"] == pytest.approx(1.5)
    assert got["bias_mw"] == pytest.approx(-0.5)
    assert got["rmse_mw"] == pytest.approx(np.sqrt(2.5))
    assert got["intervals"] == 2
    none = baseline_error(base, true, np.zeros((2, 4), dtype=bool))
    assert none == {"mae_mw": 0.0, "bias_mw": 0.0, "rmse_mw": 0.0, "intervals": 0}


def test_dispatcher_matches_the_methods() -> None:
    nominated = np.array([[-2.0, -2.0, -2.0, -2.0]])
    metered = np.array([[-3.5, -3.5, -1.0, -1.0]])
    kw = {"nominated_mw": nominated, "metered_mw": metered, "event": EVENT}
    assert BASELINE_METHODS == ("nominated", "historical", "mbma")
    np.testing.assert_array_equal(baseline("nominated", **kw), nominated)
    np.testing.assert_array_equal(baseline("mbma", **kw), [[-3.5, -3.5, -3.5, -3.5]])
    got = baseline("historical", history_mw=_hist(HISTORY), x=3, adjustment_periods=2, **kw)
    np.testing.assert_allclose(got, [AVG_EVENT_DAYS - 1 / 6])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda k: baseline("typical", **k), "expected one of"),
        (lambda k: baseline("historical", **k), "needs history_mw"),
        (lambda k: baseline("mbma", x=3, **k), "takes no options"),
        (lambda k: baseline("historical", history_mw=_hist(HISTORY), y=3, **k), "unknown options"),
        (lambda k: historical_baseline(_hist(HISTORY), k["metered_mw"], EVENT, x=6), "x = 6"),
        (lambda k: historical_baseline(_hist(HISTORY), k["metered_mw"], EVENT, x=0), "x = 0"),
        (
            lambda k: historical_baseline(_hist(HISTORY)[:, :, :3], k["metered_mw"], EVENT),
            "does not match",
        ),
        (
            lambda k: historical_baseline(
                _hist(HISTORY), k["metered_mw"], EVENT, adjustment_cap=-0.1
            ),
            "adjustment_cap",
        ),
        (lambda k: historical_baseline(HISTORY, k["metered_mw"], EVENT), "3-D"),
        (lambda k: mbma_baseline(k["metered_mw"], EVENT.astype(int), k["metered_mw"]), "boolean"),
        (lambda k: mbma_baseline(k["metered_mw"], EVENT[:, :3], k["metered_mw"]), "shapes differ"),
        (lambda k: delivered_mw(k["metered_mw"], np.zeros((2, 4))), "shapes differ"),
        (lambda k: delivered_mw(k["metered_mw"], np.full((1, 4), np.nan)), "non-finite"),
    ],
)
def test_bad_input_raises(call: Callable[[dict[str, Any]], object], message: str) -> None:
    kw = {"nominated_mw": np.zeros((1, 4)), "metered_mw": np.zeros((1, 4)), "event": EVENT}
    with pytest.raises(ValueError, match=message):
        call(kw)


# --- DER history -------------------------------------------------------------------------


def _weekend(day: int) -> bool:
    return (dt.date(2016, 1, 1) + dt.timedelta(days=int(day))).weekday() >= 5


def test_profile_on_the_scenario_day_is_the_nominated_schedule(small: Scenario) -> None:
    got = der_profile_on_day(small, small.config.day)
    assert got.shape == small.ders.p_base_mw.shape
    np.testing.assert_allclose(got, small.ders.p_base_mw, rtol=0, atol=1e-9)


def test_profile_on_another_day_follows_that_days_profiles(small: Scenario) -> None:
    cfg, d = small.config, small.ders
    day = cfg.day - 7
    got = der_profile_on_day(small, day)
    prof = window_profiles(small.net, day, cfg.first_period, cfg.periods)
    sgen = np.flatnonzero(d.element_table == "sgen")
    load = np.flatnonzero(d.element_table == "load")
    expected_sgen = prof.sgen_p_mw[d.element_index[sgen]].to_numpy().T * cfg.renewable_scale
    expected_load = -cfg.ders.flex_load_fraction * np.maximum(
        prof.load_p_mw[d.element_index[load]].to_numpy().T * cfg.load_scale, 0.0
    )
    np.testing.assert_allclose(got[sgen], expected_sgen, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got[load], expected_load, rtol=0, atol=1e-12)
    assert not np.allclose(got[sgen], d.p_base_mw[sgen])  # another day, other weather
    ev, bat = d.kind == "ev", d.kind == "battery"
    assert ev.any() and bat.any()
    # their wholesale schedules of the scenario day repeat (the small preset clears one)
    assert small.wholesale is not None
    np.testing.assert_array_equal(got[ev], d.p_base_mw[ev])
    np.testing.assert_array_equal(got[bat], d.p_base_mw[bat])


def test_flat_profiles_give_the_nominal_values_every_day() -> None:
    scn = feeder_case()
    np.testing.assert_allclose(der_profile_on_day(scn, 3), scn.ders.p_base_mw, atol=1e-12)


def test_history_uses_earlier_days_of_the_same_type(small: Scenario) -> None:
    hist, days = der_history(small, days=10)
    day = small.config.day
    assert hist.shape == (len(small.ders), 10, small.config.periods)
    assert len(set(days.tolist())) == 10
    assert (days < day).all()
    assert all(_weekend(d) == _weekend(day) for d in days)
    # the most recent ones: every skipped day in between is of the other type
    skipped = set(range(days.min(), day)) - set(days.tolist())
    assert all(_weekend(d) != _weekend(day) for d in skipped)
    np.testing.assert_array_equal(hist[:, 3], der_profile_on_day(small, int(days[3])))
    with pytest.raises(ValueError, match="earlier weekday"):
        der_history(small, days=day)


def test_previous_days_of_type_by_hand() -> None:
    # 2016-01-01 (day 0) was a Friday: days 1, 2 and 8, 9 are weekends.
    np.testing.assert_array_equal(previous_days_of_type(9, 3), [8, 2, 1])
    np.testing.assert_array_equal(previous_days_of_type(7, 5), [6, 5, 4, 3, 0])
    with pytest.raises(ValueError, match="has 5 earlier weekday"):
        previous_days_of_type(7, 6)
    with pytest.raises(ValueError, match="at least 1"):
        previous_days_of_type(7, 0)
