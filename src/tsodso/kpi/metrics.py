"""KPIs of one model run (MODELS.md section 6), read-only over the scenario, the model's
outcome, what happened after the clearing (stacking, delivery, settlement) and the AC check
of what was delivered.

The headline is ``cost_to_serve_eur`` (``kpi.cost``): procurement plus every need left
unmet at the same penalty prices for every model; ``market_cost_to_serve_eur`` is the same
on the joint market's own linear model. Market figures (procurement cost, its split) are as
the markets cleared; physical figures
(imbalance, violations, curtailment) are as delivered; settled figures are from the ledger.
social_welfare_eur is minus the social cost of the day: the providers' activation cost at
their bid prices for the activations that stood, plus unresolved imbalance at the value of
lost load, plus the violations the AC check finds at the scenario's penalty prices (overload
MWh, squared-voltage excess). It makes models that ignore a limit pay for what the AC check
exposes.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from tsodso.coordination.outcome import ModelOutcome
from tsodso.exchange.messages import MessageLog
from tsodso.grids.forecast import GridForecast
from tsodso.kpi.cost import (
    cost_to_serve,
    imbalance_split,
    market_valuation,
    voltage_excess_pu2h,
)
from tsodso.lifecycle import Lifecycle
from tsodso.operation.stages import REAL_TIME
from tsodso.scenario.domain import Scenario
from tsodso.schema.actors import MO, TSO, is_dso
from tsodso.validation.ac import AcResult

#: the KPI keys every run reports, in table order
KPI_KEYS = (
    "cost_to_serve_eur",
    "procurement_cost_eur",
    "tso_cost_eur",
    "dso_cost_eur",
    "social_welfare_eur",
    "unresolved_imbalance_mwh",
    "overload_mwh",
    "voltage_violations",
    "curtailment_mwh",
    "non_delivery_mwh",
    "penalties_eur",
    "discarded_flexibility_mwh",
    "doe_hosting_mw",
    "doe_fairness_jain",
    "messages",
    "message_bytes",
    "wall_time_s",
)


def compute_kpis(
    scn: Scenario,
    out: ModelOutcome,
    messages: MessageLog,
    life: Lifecycle,
    ac: AcResult,
    wall_time_s: float,
    forecast: GridForecast,
    encoded_bytes: Mapping[str, int] | None = None,
) -> dict[str, float | int | None]:
    """All KPIs of one run as a flat dict (KPI_KEYS first, then diagnostics). DOE KPIs are
    None for models that do not use envelopes. ``encoded_bytes`` (bytes per encoding of the
    messages as rendered in a standard) sets ``message_bytes`` and one
    ``message_bytes_<encoding>`` each; without it the log's own JSON sizes count."""
    b = scn.bids
    dt = scn.dt_h
    pen = scn.config.penalties
    standing = life.stack.accepted_mw
    dl = life.delivery
    activation_cost = float((standing * b.price_eur_per_mwh).sum() * dt)
    # realised: the TSO's imbalance minus what the DERs really changed against their
    # nominations: the flexibility delivered (failures, rebound and stacking cuts count)
    # and the forecast error of their baselines, which a real-time stage buys for
    # (``operation.stages``) and a single day-ahead clearing leaves to the TSO's reserves;
    # what the markets left of their own need is lost load, what the error adds beyond it
    # the reserves cover (``kpi.cost.imbalance_split``)
    system_left = scn.imbalance_mw - dl.system_change_mw(scn)
    # a real-time stage was asked to meet the error too: all it left is the markets'
    market_left = system_left if out.real_time else scn.imbalance_mw - dl.realised_flex_mw()
    lost, reserve = imbalance_split(scn, market_left, system_left)
    unresolved = lost + reserve
    overload = ac.overload_mwh()
    vexcess = voltage_excess_pu2h(ac)
    curt = scn.ders.curtailable
    curtailed = float(np.maximum(dl.true_base_mw[curt] - dl.metered_mw[curt], 0.0).sum() * dt)
    welfare = -(
        activation_cost
        + lost * pen.imbalance_eur_per_mwh
        + reserve * pen.reserve_eur_per_mwh
        + overload * pen.overload_eur_per_mwh
        + vexcess * pen.voltage_eur_per_pu2h
    )
    n_messages = messages.count + life.messages.count
    real_time = [m for m in messages.messages if m.step.startswith(REAL_TIME)]
    json_bytes = messages.total_bytes + life.messages.total_bytes
    message_bytes = json_bytes if encoded_bytes is None else int(sum(encoded_bytes.values()))
    by_encoding = {
        f"message_bytes_{k.replace('-', '_')}": int(v) for k, v in (encoded_bytes or {}).items()
    }
    settled = life.settlement.kpis()
    parties = (
        {p.buyer for p in out.purchases}
        | {r.buyer for r in out.reservations}
        | {x for t in out.transfers for x in (t.payer, t.payee)}
    )
    cts = cost_to_serve(
        scn, {p: out.cost_of(p) for p in sorted(parties)}, unresolved, ac, reserve_mwh=reserve
    )
    errors = {
        f"baseline_mae_{m}_mw": round(e["mae_mw"], 5) for m, e in life.baseline_errors.items()
    }
    return {
        "cost_to_serve_eur": cts.pop("cost_to_serve_eur"),
        "procurement_cost_eur": round(out.procurement_cost_eur, 2),
        "tso_cost_eur": round(out.tso_cost_eur, 2),
        "dso_cost_eur": round(out.dso_cost_eur, 2),
        "social_welfare_eur": round(welfare, 2),
        "unresolved_imbalance_mwh": round(unresolved, 4),
        "reserve_imbalance_mwh": round(reserve, 4),
        "overload_mwh": round(overload, 4),
        "voltage_violations": ac.voltage_violations(),
        "curtailment_mwh": round(curtailed, 4),
        "non_delivery_mwh": settled["non_delivery_mwh"],
        "penalties_eur": settled["penalties_eur"],
        "discarded_flexibility_mwh": round(out.discarded_mwh, 4),
        "doe_hosting_mw": out.extra_kpis.get("doe_hosting_mw"),
        "doe_fairness_jain": out.extra_kpis.get("doe_fairness_jain"),
        "messages": n_messages,
        "message_bytes": message_bytes,
        "wall_time_s": round(wall_time_s, 3),
        # diagnostics
        **cts,
        "market_cost_to_serve_eur": round(market_valuation(scn, forecast, standing), 2),
        "market_messages": messages.count,
        # of them sent by a real-time stage (``operation.stages`` labels each exchange's
        # step by its stage; the rest are the day-ahead stage's, or a single clearing's)
        "market_messages_real_time": len(real_time),
        "market_message_bytes_real_time": int(sum(m.bytes for m in real_time)),
        **by_encoding,
        "message_bytes_log_json": json_bytes,  # the payloads as compact JSON, for comparison
        "market_unmet_imbalance_mwh": round(float(np.abs(out.unmet_imbalance_mw).sum() * dt), 4),
        "activation_cost_eur": round(activation_cost, 2),
        "activated_mwh": round(float(standing.sum() * dt), 4),
        "delivered_mwh": settled["delivered_mwh"],
        "stacking_cut_mwh": round(life.stack.cut_mwh(dt), 4),
        "rebound_mwh": round(float(dl.rebound_mw.sum() * dt), 4),
        "der_baseline_error_mwh": round(float(np.abs(dl.baseline_error_mw(scn)).sum() * dt), 4),
        "failed_ders": int(dl.failed.sum()),
        "settled_tso_eur": settled["settled_tso_eur"],
        "settled_dso_eur": settled["settled_dso_eur"],
        "settled_mo_eur": settled["settled_mo_eur"],
        "ledger_total_cents": settled["ledger_total_cents"],
        "brp_imbalance_mwh": settled["brp_imbalance_mwh"],
        "brp_imbalance_eur": settled["brp_imbalance_eur"],
        **revenue_stack(scn, life),
        **errors,
        **(life.contingency.kpis(dt) if life.contingency is not None else {}),
        "overload_transmission_mwh": round(ac.overload_mwh(distribution=False), 4),
        "overload_distribution_mwh": round(ac.overload_mwh(distribution=True), 4),
        "voltage_violations_transmission": ac.voltage_violations(distribution=False),
        "voltage_violations_distribution": ac.voltage_violations(distribution=True),
        "max_voltage_deviation_pu": round(ac.max_voltage_deviation_pu(), 5),
        "tap_changes": ac.tap_changes(),
        "d_network_data_holders": messages.holders_of("d_network", scn.dsos.names),
        "ac_unconverged_periods": int((~ac.converged).sum()),
        "iterations": out.iterations,
        "lp_variables": int(sum(s.n_variables for s in out.steps)),
        "solve_time_s": round(float(sum(s.solve_s for s in out.steps)), 3),
        # build + solve of every clearing the model needed, even when its result was reused
        # from an identical clearing of another preset (wall_time_s then is smaller)
        "compute_time_s": round(float(sum(s.solve_s + s.build_s for s in out.steps)), 3),
        **{k: v for k, v in out.extra_kpis.items() if not k.startswith("doe_")},
        **(_reactive_kpis(out, scn.dt_h) if out.reactive else {}),
    }


def _reactive_kpis(out: ModelOutcome, dt_h: float) -> dict[str, float]:
    """The reactive power the DSOs bought (MVArh, injected and absorbed alike) and what it
    costs them as ordered: reported by models with the reactive product only."""
    return {
        "reactive_mvarh": round(float(np.abs(out.reactive_mvar).sum() * dt_h), 4),
        "reactive_cost_eur": round(out.reactive_cost_eur, 2),
    }


def revenue_stack(scn: Scenario, life: Lifecycle) -> dict[str, float | None]:
    """What the aggregators earn in each market (value stacking, issue 14): the wholesale
    stage (their batteries' arbitrage net of what their EV hubs pay for charging; None
    without one) and the flexibility markets (net of penalties), every buyer together and
    per buyer role; the batteries' own stack apart."""
    stl = life.settlement
    flex = stl.provider_revenue_eur()
    bat = scn.ders.kind == "battery"
    out: dict[str, float | None] = {
        "aggregator_flexibility_eur": round(sum(flex.values()), 2),
        "aggregator_flex_tso_eur": round(flex.get(TSO, 0.0), 2),
        "aggregator_flex_dso_eur": round(sum((v for k, v in flex.items() if is_dso(k)), 0.0), 2),
        "aggregator_flex_mo_eur": round(flex.get(MO, 0.0), 2),
        "storage_flexibility_eur": round(
            sum(stl.provider_revenue_eur(pd.Index(scn.ders.id[bat])).values()), 2
        ),
        "aggregator_wholesale_eur": None,
        "storage_wholesale_eur": None,
        "wholesale_price_mean_eur_per_mwh": None,
    }
    w = scn.wholesale
    if w is not None:
        per_der = w.der_revenue_eur()
        out["aggregator_wholesale_eur"] = round(float(per_der.sum()), 2)
        out["storage_wholesale_eur"] = round(float(per_der[bat].sum()), 2)
        out["wholesale_price_mean_eur_per_mwh"] = round(float(w.price_eur_per_mwh.mean()), 3)
    return out


#: KPIs that measure the effort of a run, not its result: the only ones a model without a
#: solution reports (every other KPI is then None, never a zero that reads as a result)
EFFORT_KEYS = (
    "messages",
    "message_bytes",
    "market_messages",
    "wall_time_s",
    "iterations",
    "lp_variables",
    "solve_time_s",
    "compute_time_s",
)


def without_solution(kpis: dict[str, float | int | None]) -> dict[str, float | int | None]:
    """The KPIs of a model that reached no solution: effort kept, every result None."""
    return {k: (v if k in EFFORT_KEYS else None) for k, v in kpis.items()}
