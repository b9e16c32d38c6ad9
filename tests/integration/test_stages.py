"""Market stages (issue 14, item 2): a day-ahead clearing, then a real-time clearing by the
same scheme on the realised baselines (``operation.stages``)."""

from __future__ import annotations

import numpy as np
import pytest

from tsodso.coordination.catalogue import get_model
from tsodso.coordination.context import der_mw
from tsodso.dispatch.delivery import deliver, true_baseline_mw
from tsodso.operation.stages import DAY_AHEAD, REAL_TIME, real_time_scenario
from tsodso.pipeline import Prepared, prepare, run_model
from tsodso.scenario.domain import Scenario


@pytest.fixture(scope="module")
def prep(small: Scenario) -> Prepared:
    return prepare(small)


def test_real_time_state_moves_only_what_the_day_ahead_stage_and_the_errors_moved(
    prep: Prepared,
) -> None:
    scn = prep.scn
    single = run_model(prep, get_model("smartnet-d").at_stages("single"))
    rt = real_time_scenario(scn, single.outcome)
    d = scn.ders
    setpoint = np.clip(
        d.p_base_mw + der_mw(scn, single.outcome.accepted_mw),
        d.p_base_mw - d.down_mw,
        d.p_base_mw + d.up_mw,
    )
    realised = deliver(scn, setpoint)
    moved = realised.metered_mw - d.p_base_mw
    # the real-time state is where the day-ahead dispatch really put each unit: its
    # forecast error is in it
    assert not np.allclose(moved, der_mw(scn, single.outcome.accepted_mw))
    node_moved = np.zeros_like(scn.node_p0_mw)
    np.add.at(node_moved, scn.ders.node, moved)
    # the physical injections: the forecast plus what moved at each DER; the original
    # imbalance stays where it materialises
    assert np.allclose(rt.node_injection_mw(), scn.node_injection_mw() + node_moved)
    # the TSO's need: what the day-ahead activations and the errors left
    assert np.allclose(rt.imbalance_mw, scn.imbalance_mw - moved.sum(axis=0))
    # the bids offer what is left of them, never less than nothing, nothing from a unit
    # that did not follow its day-ahead set-point, and nothing against a unit's own
    # day-ahead activation in the same period (stacking would cut that reversal)
    b, acc = scn.bids, single.outcome.accepted_mw
    left = b.q_max_mw - acc
    activated = np.bincount(b.der, acc, len(scn.ders)) > 1e-6
    failed = (realised.failed & activated)[b.der]
    assert failed.any()
    # a unit that fails but had nothing to follow day-ahead is still asked (its failure is
    # not known in advance)
    unknown = (realised.failed & ~activated)[b.der] & (left > 1e-6)
    assert unknown.any() and (rt.bids.q_max_mw[unknown] > 0).any()
    opposite = np.zeros(len(b), dtype=bool)
    for i in np.flatnonzero(acc > 1e-6):
        opposite |= (
            (b.der == b.der[i]) & (b.period == b.period[i]) & (b.direction != b.direction[i])
        )
    assert opposite.any()
    free = ~failed & ~opposite
    caps = rt.bids.q_max_mw
    assert (caps[free] <= np.maximum(left[free], 0.0) + 1e-9).all()
    assert (caps[failed | opposite] == 0).all() and (caps >= 0).all()
    # and no more than the unit can move from where it really is: a generator's
    # curtailment stops at zero output, a flexible load sheds at most what it consumes
    metered = realised.metered_mw[b.der, b.period]
    gen = (scn.ders.p_base_mw[b.der, b.period] >= 0) & (scn.ders.kind[b.der] != "battery")
    gen_down = gen & (b.direction < 0)
    assert (caps[gen_down] <= np.maximum(metered[gen_down], 0.0) + 1e-9).all()
    load_up = (scn.ders.kind[b.der] == "flex_load") & (b.direction > 0)
    assert (caps[load_up] <= np.maximum(-metered[load_up], 0.0) + 1e-9).all()
    # the real state binds somewhere: the forecast error took output away
    assert (caps[free & gen_down] < left[free & gen_down] - 1e-6).any()
    # elsewhere the bids offer what the day-ahead stage left
    unbound = free & ~gen & ~(scn.ders.kind[b.der] == "flex_load")
    assert np.allclose(caps[unbound], np.maximum(left[unbound], 0.0))


def test_real_time_stage_buys_for_the_forecast_error(prep: Prepared) -> None:
    single = run_model(prep, get_model("smartnet-d").at_stages("single"))
    staged = run_model(prep, get_model("smartnet-d").at_stages("da_rt"))
    assert staged.model.mechanism.stages == "da_rt"
    da = [p for p in staged.outcome.purchases if p.step.startswith(DAY_AHEAD)]
    rt = [p for p in staged.outcome.purchases if p.step.startswith(REAL_TIME)]
    assert da and rt
    # the day-ahead stage is the single-stage clearing, unchanged
    assert np.array_equal(sum(p.accepted_mw for p in da), single.outcome.accepted_mw)
    # both stages together stay within every bid
    assert (staged.outcome.accepted_mw <= prep.scn.bids.q_max_mw + 1e-6).all()
    k, s = staged.kpis, single.kpis
    assert k["rt_activated_mwh"] > 1.0 and k["rt_procurement_eur"] > 0
    # buying for the DERs' forecast error leaves less imbalance; the single stage leaves
    # part of it to the TSO's reserves, the staged one asked its markets to meet it (what
    # they leave is theirs). The AC overload need not fall: the markets' DC model is
    # lossless and real-time purchases land where limits bind (on small: 0.45 -> 2.2 MWh
    # with this day's draws, 2026-12-03; it fell with the draws before)
    assert k["unresolved_imbalance_mwh"] < s["unresolved_imbalance_mwh"]
    assert k["cost_to_serve_eur"] < s["cost_to_serve_eur"]
    assert k["procurement_cost_eur"] > s["procurement_cost_eur"]
    assert s["reserve_imbalance_mwh"] >= 0 and k["reserve_imbalance_mwh"] == 0
    # real time asks no unit to reverse its day-ahead activation: stacking cuts none
    cuts = staged.life.stack.cuts
    assert not (cuts.reason == "opposite to a higher-ranked activation").any()
    # the messages and steps of each stage are labelled; the books still balance
    steps = {m.step.split(" ")[0] for m in staged.messages.messages}
    assert steps == {DAY_AHEAD, REAL_TIME}
    # messages per stage: the single clearing sends none in real time; the staged run's
    # day-ahead part is the single run's log, its real-time part the rest
    assert s["market_messages_real_time"] == 0 and s["market_message_bytes_real_time"] == 0
    rt_msgs = [m for m in staged.messages.messages if m.step.startswith(REAL_TIME)]
    assert k["market_messages_real_time"] == len(rt_msgs) > 0
    assert k["market_messages"] - k["market_messages_real_time"] == s["market_messages"]
    assert 0 < k["market_message_bytes_real_time"] == sum(m.bytes for m in rt_msgs)
    assert k["ledger_total_cents"] == 0
    # the platform bills both stages' purchases on: it keeps nothing
    assert k["settled_mo_eur"] == pytest.approx(0.0, abs=0.01)


def test_a_tso_only_model_and_a_joint_one_differ_in_what_real_time_fixes(
    prep: Prepared,
) -> None:
    # the real-time stage of a TSO-only market sees no distribution needs: the feeders'
    # voltage problems stay; the joint market's real-time stage keeps them away
    a = run_model(prep, get_model("smartnet-a").at_stages("da_rt")).kpis
    d = run_model(prep, get_model("smartnet-d").at_stages("da_rt")).kpis
    assert a["voltage_violations"] > 10 * max(d["voltage_violations"], 1)  # type: ignore[operator]
    assert d["dso_cost_eur"] > 0 and a["dso_cost_eur"] == 0


def test_cli_refuses_an_unknown_stage_value() -> None:
    from typer.testing import CliRunner

    from tsodso.cli.main import app

    res = CliRunner().invoke(app, ["compare", "-s", "small", "--stages", "weekly"])
    assert res.exit_code != 0
    assert "--stages 'weekly': expected one of model, single, da_rt" in res.output
    assert "Traceback" not in res.output


def test_imbalance_split_prices_the_error_beyond_the_markets_gap_at_reserves(
    small: Scenario,
) -> None:
    from tsodso.kpi.cost import imbalance_split

    T, dt = small.periods, small.dt_h
    market = np.zeros(T)
    market[:4] = [10.0, -4.0, 3.0, 0.0]
    system = np.zeros(T)
    system[:4] = [12.0, -1.0, -5.0, 2.0]
    lost, reserve = imbalance_split(small, market, system)
    # per period: lost = min(|market|, |system|), reserve = |system| - lost
    assert lost == pytest.approx((10 + 1 + 3 + 0) * dt)
    assert reserve == pytest.approx((2 + 0 + 2 + 2) * dt)


def test_a_real_time_curtailment_lowers_the_realised_output(small: Scenario) -> None:
    from tsodso.dispatch.delivery import deliver

    d = small.ders
    true = true_baseline_mw(small)
    # a PV unit that delivers (failures are drawn per unit) producing less than nominated
    failed = deliver(small, d.p_base_mw).failed
    pv = np.flatnonzero((d.kind == "pv") & d.curtailable & ~failed)
    short = (true[pv] < d.p_base_mw[pv] - 1e-3) & (true[pv] > 1e-3)
    i, t = np.argwhere(short)[0]
    der = pv[i]
    x = 0.5 * float(true[der, t])
    sp = d.p_base_mw.copy()
    sp[der, t] -= x
    rt = np.zeros_like(sp)
    rt[der, t] = -x
    day_ahead = deliver(small, sp)
    real_time = deliver(small, sp, real_time_mw=rt)
    # decided on the nomination, a cap above the realised output does nothing; decided in
    # real time on the realised output, it takes x off what the unit really does
    assert day_ahead.metered_mw[der, t] == pytest.approx(min(true[der, t], d.p_base_mw[der, t] - x))
    assert real_time.metered_mw[der, t] == pytest.approx(true[der, t] - x)
    assert real_time.metered_mw[der, t] < day_ahead.metered_mw[der, t]
    # nothing else changes
    other = np.ones_like(sp, dtype=bool)
    other[der, t] = False
    assert np.array_equal(day_ahead.metered_mw[other], real_time.metered_mw[other])


def test_perfect_foresight_clears_once_on_the_realised_state(prep: Prepared) -> None:
    single = run_model(prep, get_model("smartnet-d").at_stages("single"))
    staged = run_model(prep, get_model("smartnet-d").at_stages("da_rt"))
    perfect = run_model(prep, get_model("smartnet-d").at_stages("perfect"))
    bought = [p for p in perfect.outcome.purchases if p.accepted_mw.sum() > 1e-6]
    # one clearing, at real time, nothing bought before it
    assert bought and all(p.step.startswith(REAL_TIME) for p in bought)
    kp, k1 = perfect.kpis, single.kpis
    # knowing the error when clearing beats not buying for it (measured on this preset:
    # EUR 37,783 against 49,115); it is not a lower bound of da_rt (31,138 here): no
    # clearing models the rebound of its own flexible-load activations, and da_rt's second
    # round buys for the first round's rebound and misses, which one clearing cannot
    assert kp["cost_to_serve_eur"] < k1["cost_to_serve_eur"]
    assert kp["unresolved_imbalance_mwh"] < k1["unresolved_imbalance_mwh"]
    assert staged.kpis["rt_activated_mwh"] < kp["rt_activated_mwh"]
    assert kp["ledger_total_cents"] == 0
