"""Value stacking on a hand-made case: a battery sold to the DSO first and to the TSO after
cannot sell the same energy twice, nor activations that cancel the DSO's."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import feeder_case
from tsodso.coordination.catalogue import get_model
from tsodso.coordination.outcome import Purchase
from tsodso.dispatch.stacking import stack
from tsodso.schema.tables import COUPLING_STORAGE


@pytest.fixture(scope="module")
def case():  # type: ignore[no-untyped-def]
    return feeder_case(periods=4)


def _bid(scn, der: int, direction: int, t: int) -> int:  # type: ignore[no-untyped-def]
    b = scn.bids
    (k,) = np.flatnonzero((b.der == der) & (b.direction == direction) & (b.period == t))
    return int(k)


def test_battery_energy_is_sold_once(case) -> None:  # type: ignore[no-untyped-def]
    scn = case
    d = scn.ders
    bat = int(np.flatnonzero(d.coupling == COUPLING_STORAGE)[0])
    eff, dt, soc0 = float(d.efficiency[bat]), scn.dt_h, float(d.soc0_mwh[bat])
    n = len(scn.bids)
    dso, tso = np.zeros(n), np.zeros(n)
    # the DSO discharges 0.3 MW in periods 0-1 and charges 0.4 MW in periods 2-3
    for t, direction, q in ((0, 1, 0.3), (1, 1, 0.3), (2, -1, 0.4), (3, -1, 0.4)):
        dso[_bid(scn, bat, direction, t)] = q
    # the TSO, unaware, discharges 0.1 MW in periods 0-1 and 0.1 MW in period 3
    for t in (0, 1, 3):
        tso[_bid(scn, bat, 1, t)] = 0.1
    purchases = (
        Purchase("TSO", "tso", tso, tso * 50 * dt),
        Purchase("DSO", "dso", dso, dso * 40 * dt),
    )
    st = stack(scn, purchases, get_model("ferc-dso").mechanism)  # priority: DSO
    by = {p.buyer: p for p in st.purchases}
    assert np.array_equal(by["DSO"].accepted_mw, dso)  # the DSO ranks first: untouched
    t_acc = by["TSO"].accepted_mw
    # period 3: the TSO would discharge while the DSO charges: cut entirely
    assert t_acc[_bid(scn, bat, 1, 3)] == 0.0
    # the DSO's flows leave a surplus of stored energy; the TSO may use just that so that
    # the day ends at soc0: period 0 fits in full, period 1 only the rest
    surplus = 2 * 0.4 * dt * eff - 2 * 0.3 * dt / eff
    assert t_acc[_bid(scn, bat, 1, 0)] == pytest.approx(0.1)
    rest = surplus - 0.1 * dt / eff
    assert t_acc[_bid(scn, bat, 1, 1)] == pytest.approx(rest * eff / dt, rel=1e-9)
    reasons = dict(zip(st.cuts.period, st.cuts.reason, strict=True))
    assert reasons == {1: "state of charge", 3: "opposite to a higher-ranked activation"}
    # the standing flows keep the state of charge within [0, E] and end at soc0
    total = st.accepted_mw
    b = scn.bids
    mine = b.der == bat
    flow = np.zeros(scn.periods)
    coef = np.where(b.direction > 0, -dt / eff, dt * eff)
    np.add.at(flow, b.period[mine], (coef * total)[mine])
    soc = soc0 + np.cumsum(flow)
    assert soc.min() >= -1e-9 and soc.max() <= d.energy_mwh[bat] + 1e-9
    assert soc[-1] == pytest.approx(soc0)
    # payments follow what stands
    assert by["TSO"].payments_eur.sum() == pytest.approx(t_acc.sum() * 50 * dt)


def test_a_schedule_that_fits_beside_the_higher_ranked_one_stands_whole(case) -> None:  # type: ignore[no-untyped-def]
    """A lower-ranked step that saw what was bought before it plans its own charging: a
    discharge now and a recharge later that keep the battery within [0, E] and end the day
    at soc0 stand in full (the per-period rule cut such schedules before issue 12)."""
    scn = case
    d = scn.ders
    bat = int(np.flatnonzero(d.coupling == COUPLING_STORAGE)[0])
    eff, dt = float(d.efficiency[bat]), scn.dt_h
    n = len(scn.bids)
    tso = np.zeros(n)
    q_up = 0.2
    tso[_bid(scn, bat, 1, 0)] = q_up  # discharge first ...
    q_dn = q_up / eff / eff  # ... and recharge exactly what it took, later
    tso[_bid(scn, bat, -1, 2)] = q_dn
    purchases = (
        Purchase("DSO", "dso", np.zeros(n), np.zeros(n)),
        Purchase("TSO", "tso", tso, tso * 50 * dt),
    )
    st = stack(scn, purchases, get_model("ferc-dso").mechanism)
    by = {p.buyer: p for p in st.purchases}
    assert np.allclose(by["TSO"].accepted_mw, tso)
    assert len(st.cuts) == 0
