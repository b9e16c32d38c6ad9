"""KPIs of one model run (MODELS.md section 6), read-only over the scenario, the model's
outcome and the AC check of what it dispatched.

social_welfare_eur is minus the social cost of the day: the providers' activation cost at
their bid prices, plus unresolved imbalance at the value of lost load, plus the violations
the AC check finds at the scenario's penalty prices (overload MWh, squared-voltage excess).
It makes models that ignore a limit pay for what the AC check exposes.
"""

from __future__ import annotations

import numpy as np

from tsodso.coordination.outcome import ModelOutcome
from tsodso.scenario.domain import Scenario
from tsodso.validation.ac import AcResult

#: the KPI keys every run reports, in table order
KPI_KEYS = (
    "procurement_cost_eur",
    "tso_cost_eur",
    "dso_cost_eur",
    "social_welfare_eur",
    "unresolved_imbalance_mwh",
    "overload_mwh",
    "voltage_violations",
    "curtailment_mwh",
    "messages",
    "message_bytes",
    "wall_time_s",
)


def voltage_excess_pu2h(ac: AcResult) -> float:
    """Sum over node-intervals of the squared-voltage distance outside the band, times dt."""
    v2 = ac.vm_pu**2
    ex = np.maximum(v2 - ac.node_vmax**2, 0.0) + np.maximum(ac.node_vmin**2 - v2, 0.0)
    return float(np.nansum(ex) * ac.dt_h)


def compute_kpis(
    scn: Scenario, out: ModelOutcome, ac: AcResult, wall_time_s: float
) -> dict[str, float | int]:
    """All KPIs of one run as a flat dict (KPI_KEYS first, then diagnostics)."""
    b = scn.bids
    dt = scn.dt_h
    pen = scn.config.penalties
    activation_cost = float((out.accepted_mw * b.price_eur_per_mwh).sum() * dt)
    # realised, not as any one clearing saw it: imbalance minus what was activated
    signed = np.bincount(b.period, b.direction * out.accepted_mw, scn.periods)
    unresolved = float(np.abs(scn.imbalance_mw - signed).sum() * dt)
    overload = ac.overload_mwh()
    vexcess = voltage_excess_pu2h(ac)
    curtailed = (b.direction < 0) & scn.ders.curtailable[b.der]
    welfare = -(
        activation_cost
        + unresolved * pen.imbalance_eur_per_mwh
        + overload * pen.overload_eur_per_mwh
        + vexcess * pen.voltage_eur_per_pu2h
    )
    return {
        "procurement_cost_eur": round(out.procurement_cost_eur, 2),
        "tso_cost_eur": round(out.tso_cost_eur, 2),
        "dso_cost_eur": round(out.dso_cost_eur, 2),
        "social_welfare_eur": round(welfare, 2),
        "unresolved_imbalance_mwh": round(unresolved, 4),
        "overload_mwh": round(overload, 4),
        "voltage_violations": ac.voltage_violations(),
        "curtailment_mwh": round(float(out.accepted_mw[curtailed].sum() * dt), 4),
        "messages": out.messages.count,
        "message_bytes": out.messages.total_bytes,
        "wall_time_s": round(wall_time_s, 3),
        # diagnostics
        "activation_cost_eur": round(activation_cost, 2),
        "activated_mwh": round(float(out.accepted_mw.sum() * dt), 4),
        "overload_transmission_mwh": round(ac.overload_mwh(distribution=False), 4),
        "overload_distribution_mwh": round(ac.overload_mwh(distribution=True), 4),
        "voltage_violations_transmission": ac.voltage_violations(distribution=False),
        "voltage_violations_distribution": ac.voltage_violations(distribution=True),
        "max_voltage_deviation_pu": round(ac.max_voltage_deviation_pu(), 5),
        "discarded_flexibility_mwh": round(out.discarded_mwh, 4),
        "d_network_data_holders": out.messages.holders_of("d_network", "DSO"),
        "ac_unconverged_periods": int((~ac.converged).sum()),
        "iterations": out.iterations,
        "lp_variables": int(sum(s.n_variables for s in out.steps)),
        "solve_time_s": round(float(sum(s.solve_s for s in out.steps)), 3),
        # build + solve of every clearing the model needed, even when its result was reused
        # from an identical clearing of another preset (wall_time_s then is smaller)
        "compute_time_s": round(float(sum(s.solve_s + s.build_s for s in out.steps)), 3),
        **out.extra_kpis,
    }
