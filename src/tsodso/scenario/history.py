"""DER history: what each DER's baseline schedule would have been on other days of 2016.

Owns: reading the grid's 2016 profiles for other days than the scenario's (same window, same
scaling as ``scenario.build``) and choosing the previous days of the same day type, for the
historical X-of-Y settlement baseline. Must not: compute baselines (``settlement.baselines``)
or change the scenario.

The formulas are those of ``scenario.build`` applied to ``grids.sources.window_profiles``:

- a static generator DER (``element_table == "sgen"``): its profile times
  ``renewable_scale``;
- a flexible-load DER (``"load"``): ``-(flex_load_fraction * max(load_p * load_scale, 0))``;
- a battery, an EV hub (and any other synthetic DER): its scenario schedule (the wholesale
  stage's, ``scenario.wholesale``, or the flat nomination without it). *Interpretation*:
  the synthetic plug-in habits of an EV hub and an aggregator's wholesale strategy repeat
  every day (the history days' wholesale markets are not cleared), so their history is
  their nominated schedule of the scenario day.

Profiles are read with ``window_profiles`` itself, one call per day (about 20 ms on the
default grid), and scaled with the arithmetic of ``scenario.build``, so that the scenario day
reproduces ``DerTable.p_base_mw`` exactly and the two cannot drift apart. Non-simbench nets
have flat profiles: every day gives the nominal values, as ``window_profiles`` does.

Day types: 2016-01-01 (day 0) was a Friday; Saturdays and Sundays are weekend days, all other
days weekdays (public holidays are not distinguished).
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from tsodso.grids.sources import window_profiles
from tsodso.scenario.domain import Scenario

YEAR_START = dt.date(2016, 1, 1)
DAYS_IN_YEAR = 366  # 2016 is a leap year


def is_weekend(day: int) -> bool:
    """Whether ``day`` of 2016 (0 = 1 January, a Friday) is a Saturday or a Sunday."""
    return (YEAR_START + dt.timedelta(days=int(day))).weekday() >= 5


def _profiles_on_days(scn: Scenario, days: np.ndarray) -> np.ndarray:
    """(D, Y, T) DER baseline schedules of the scenario window on each of ``days``."""
    cfg, net, ders = scn.config, scn.net, scn.ders
    days = np.asarray(days, dtype=int)
    bad = days[(days < 0) | (days >= DAYS_IN_YEAR)]
    if bad.size:
        raise ValueError(f"days {bad.tolist()} are outside 2016 (expected 0..{DAYS_IN_YEAR - 1})")
    table = ders.element_table.astype(str)
    unknown = sorted(set(table.tolist()) - {"sgen", "load", "gen", ""})
    if unknown:
        raise ValueError(f"DER element tables {unknown}: expected 'sgen', 'load', 'gen' or ''")
    is_sgen, is_load = table == "sgen", table == "load"
    sgen_pos = net.sgen.index.get_indexer(ders.element_index[is_sgen])
    load_pos = net.load.index.get_indexer(ders.element_index[is_load])
    for kind, pos, idx in (
        ("sgen", sgen_pos, ders.element_index[is_sgen]),
        ("load", load_pos, ders.element_index[is_load]),
    ):
        if (pos < 0).any():
            raise ValueError(
                f"DERs refer to {kind} elements {idx[pos < 0].tolist()} the grid does not have"
            )
    n_der, t = ders.p_base_mw.shape
    out = np.zeros((n_der, len(days), t))
    for y, day in enumerate(days):
        prof = window_profiles(net, int(day), cfg.first_period, t)
        sgen = prof.sgen_p_mw.to_numpy()[:, sgen_pos] * cfg.renewable_scale
        load = prof.load_p_mw.to_numpy()[:, load_pos] * cfg.load_scale
        out[is_sgen, y] = sgen.T
        out[is_load, y] = -(cfg.ders.flex_load_fraction * np.maximum(load, 0.0)).T
    repeat = (table == "") | (table == "gen")
    out[repeat] = ders.p_base_mw[repeat][:, None, :]
    return out


def der_profile_on_day(scn: Scenario, day: int) -> np.ndarray:
    """(D, T) baseline schedule each DER of ``scn`` would have had on ``day`` of 2016 (0 = 1
    January), same window and scaling as the scenario. Static generators and flexible loads
    follow the grid's profiles of that day; batteries and EV hubs repeat their scenario
    schedule (interpretation: their plug-in habits and wholesale strategy repeat);
    voltage-controlled generators repeat their case dispatch (a case has one operating point).
    ``der_profile_on_day(scn, scn.config.day)`` equals ``scn.ders.p_base_mw``."""
    return _profiles_on_days(scn, np.array([day]))[:, 0, :]


def previous_days_of_type(day: int, count: int) -> np.ndarray:
    """The ``count`` most recent days of 2016 before ``day`` of its day type (weekday or
    weekend), most recent first. Raises ValueError if there are not that many."""
    if count < 1:
        raise ValueError(f"count = {count}: expected at least 1 history day")
    weekend = is_weekend(day)
    same = [d for d in range(day - 1, -1, -1) if is_weekend(d) == weekend]
    if len(same) < count:
        kind = "weekend" if weekend else "weekday"
        raise ValueError(
            f"day {day} of 2016 has {len(same)} earlier {kind} day(s); {count} requested "
            "for the DER history (choose a later day or fewer history days)"
        )
    return np.array(same[:count], dtype=int)


def der_history(scn: Scenario, days: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """The DER schedules of the ``days`` most recent days before the scenario day of the same
    day type (weekday or weekend): a (D, Y, T) array and the (Y,) day numbers used, most
    recent first. Raises ValueError when fewer such days exist before the scenario day."""
    used = previous_days_of_type(scn.config.day, days)
    return _profiles_on_days(scn, used), used
