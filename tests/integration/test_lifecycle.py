"""The DER lifecycle after the clearing, for every model: ledgers balance to the cent,
settlement reproduces the market's payments when delivery is perfect, stacked markets never
buy the same MW twice, and registration withdraws what fails prequalification."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from tsodso.coordination.catalogue import CATALOGUE
from tsodso.dispatch.delivery import UNCERTAIN
from tsodso.dispatch.stacking import stacking_report
from tsodso.pipeline import Prepared, prepare, run_model
from tsodso.scenario.build import build_scenario
from tsodso.schema.actors import MO, TSO
from tsodso.schema.config import PRESETS, config_from_dict
from tsodso.schema.tables import COUPLING_STORAGE


def _prep(**over: Any) -> Prepared:
    return prepare(build_scenario(config_from_dict({**PRESETS["no-d-congestion"], **over})))


@pytest.fixture(scope="module")
def perfect() -> Prepared:
    """4 quarter-hours, perfect delivery (the preset's own setting)."""
    return _prep()


@pytest.fixture(scope="module")
def noisy() -> Prepared:
    """The same with forecast errors, failing DERs, rebound and availability payments."""
    return _prep(
        name="no-d-congestion-noisy",
        delivery={"forecast_error_std": 0.1, "non_delivery_probability": 0.1},
        settlement={"availability_eur_per_mw_h": 3.0},
    )


def test_every_ledger_balances_and_platforms_net_to_zero(noisy: Prepared) -> None:
    for mid in CATALOGUE:
        r = run_model(noisy, mid)
        led = r.life.settlement.ledger
        bal = led.balances()
        assert led.total_cents() == 0, mid
        assert r.kpis["ledger_total_cents"] == 0, mid
        # a platform or market operator only passes money through
        if MO in bal:
            assert bal[MO] == 0, (mid, bal)
        # money flows between operators and providers only as the model's d_path says
        parties = set(bal)
        dsos = noisy.scn.dsos.names  # every DSO is a party of its own
        # (and each BRP settles its imbalance with the TSO: ``settlement.imbalance``)
        known = {TSO, *dsos, MO, *noisy.scn.aggregator_names, *noisy.scn.brp_names}
        assert parties <= known, (mid, parties)
        # every operator-to-operator transfer of the model's d_path is in the ledger
        post = led.postings
        for t in r.outcome.transfers:
            if abs(t.eur) < 0.01:
                continue
            kind = f"{'transfer' if t.share is None else 'bill'}: {t.reason}"
            pair = {t.payer, t.payee}
            hit = post[(post.kind == kind) & post.payer.isin(pair) & post.payee.isin(pair)]
            assert len(hit) == 1, (mid, kind)
        assert r.kpis["non_delivery_mwh"] >= 0 and r.kpis["penalties_eur"] >= 0, mid


def test_noisy_delivery_is_penalised(noisy: Prepared) -> None:
    r = run_model(noisy, "smartnet-d")
    k = r.kpis
    assert r.life.delivery.failed.any()
    assert k["non_delivery_mwh"] > 0 and k["penalties_eur"] > 0
    lines = r.life.settlement.lines
    assert (lines.delivered_mwh <= lines.ordered_mwh + 1e-9).all()
    dl, ders = r.life.delivery, noisy.scn.ders
    # a failed DER does nothing but its real baseline
    assert np.array_equal(dl.metered_mw[dl.failed], dl.true_base_mw[dl.failed])
    # measured against its nomination, a failed unit without forecast error delivered
    # nothing and pays the penalty on all of it (a renewable may be credited its error:
    # the weakness of nominated baselines the baseline report quantifies)
    firm = dl.failed & ~np.isin(ders.kind, UNCERTAIN)
    of_firm = lines[lines.der.isin(set(ders.id[firm]))]
    assert len(of_firm) and (of_firm.delivered_mwh == 0).all()
    assert (of_firm.penalty_cents > 0).all()


@pytest.mark.parametrize("mid", sorted(CATALOGUE))
def test_perfect_delivery_settles_what_the_market_priced(perfect: Prepared, mid: str) -> None:
    r = run_model(perfect, mid)
    lines = r.life.settlement.lines
    # half a cent per rounded line, and per transfer (each DSO has its own)
    tol = 0.005 * (len(lines) + 4 + len(r.outcome.transfers)) + 1e-6
    assert r.kpis["non_delivery_mwh"] == pytest.approx(0.0, abs=1e-6)
    assert r.kpis["penalties_eur"] == 0
    # no stacking cut on one clearing; where markets stacked, what was cut is not paid
    ordered = r.outcome.cost_of(TSO), r.outcome.dso_cost_eur  # every DSO together
    cut_pay = r.outcome.procurement_cost_eur - sum(p.cost_eur for p in r.life.stack.purchases)
    if abs(cut_pay) < 1e-6:
        assert r.kpis["settled_tso_eur"] == pytest.approx(ordered[0], abs=tol), mid
        assert r.kpis["settled_dso_eur"] == pytest.approx(ordered[1], abs=tol), mid
    total = r.kpis["settled_tso_eur"] + r.kpis["settled_dso_eur"] + r.kpis["settled_mo_eur"]
    assert total == pytest.approx(r.outcome.procurement_cost_eur - cut_pay, abs=tol), mid


@pytest.mark.parametrize("mid", ["ferc-dso", "smartnet-b", "ferc-hybrid", "coordinet-multi-level"])
def test_no_mw_is_delivered_twice_across_stacked_markets(noisy: Prepared, mid: str) -> None:
    scn = noisy.scn
    b, d = scn.bids, scn.ders
    r = run_model(noisy, mid)
    st = r.life.stack
    assert len(st.purchases) >= 2
    total = st.accepted_mw
    assert (total <= b.q_max_mw + 1e-9).all()  # an offer is sold at most once
    key = b.der * scn.periods + b.period
    up = np.bincount(key, (b.direction > 0) * total, len(d) * scn.periods)
    dn = np.bincount(key, (b.direction < 0) * total, len(d) * scn.periods)
    assert not ((up > 1e-6) & (dn > 1e-6)).any()  # never both ways in one period
    # batteries: the standing flows fit the state of charge all day
    dt = scn.dt_h
    coef = np.where(b.direction > 0, -dt / d.efficiency[b.der], dt * d.efficiency[b.der])
    flow = np.zeros((len(d), scn.periods))
    np.add.at(flow, (b.der, b.period), coef * total)
    stor = d.coupling == COUPLING_STORAGE
    soc = d.soc0_mwh[stor, None] + np.cumsum(flow[stor], axis=1)
    assert soc.min() >= -1e-9
    assert (soc <= d.energy_mwh[stor, None] + 1e-9).all()
    assert (soc[:, -1] >= d.soc0_mwh[stor] - 1e-9).all()
    # what the stacking report says each DER sold adds up to what stands
    rep = stacking_report(scn, st, r.life.settlement.paid_eur_by_buyer(len(b)))
    mwh_cols = [c for c in rep.columns if c.startswith("mwh_")]
    assert rep[mwh_cols].to_numpy().sum() == pytest.approx(total.sum() * dt)


def test_registration_withdraws_rejected_offers() -> None:
    prep = _prep(name="strict", registration={"interval_meter_share": 0.0})
    reg = prep.registry
    rejected = ~reg.qualified
    assert rejected.any()
    kinds = set(reg.table.kind[rejected])
    assert kinds <= {"flex_load", "ev"}  # only they may lack an interval meter
    assert (reg.table.reason[rejected].str.startswith("metering")).all()
    # their offers never reach a market
    gone = set(reg.table.der[rejected])
    assert not set(prep.scn.ders.id[np.unique(prep.scn.bids.der)]) & gone


@pytest.mark.parametrize("pricing", ["pay_as_clear", "nodal"])
@pytest.mark.parametrize("base", ["smartnet-d", "ferc-dso"])
def test_every_pricing_rule_settles_to_the_cent(perfect: Prepared, pricing: str, base: str) -> None:
    preset = CATALOGUE[base]
    model = dataclasses.replace(
        preset,
        id=f"{base}-{pricing}",
        mechanism=preset.mechanism.model_copy(update={"pricing": pricing}),
    )
    r = run_model(perfect, model)
    led = r.life.settlement.ledger
    assert led.total_cents() == 0
    lines = r.life.settlement.lines
    tol = 0.005 * (len(lines) + 4) + 1e-6
    paid = sum(p.cost_eur for p in r.life.stack.purchases)
    total = r.kpis["settled_tso_eur"] + r.kpis["settled_dso_eur"] + r.kpis["settled_mo_eur"]
    assert total == pytest.approx(paid, abs=tol)
    # the rule changes what is paid, not what is activated
    ref = run_model(perfect, base)
    assert np.allclose(r.outcome.accepted_mw, ref.outcome.accepted_mw)
    if pricing == "pay_as_clear":  # the marginal price for all: never below pay-as-bid
        assert r.outcome.procurement_cost_eur >= ref.outcome.procurement_cost_eur - 1e-6
