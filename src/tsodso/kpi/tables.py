"""A run's results as tables (pandas DataFrames): activations per buyer and step,
registrations, stacking, set-points, metering, baselines, settlement, the ledger, AC
voltages and loadings, messages, clearing steps and KPIs. Read-only over the results.

Owns: the columns of each table. Must not: write files (``report.tables`` does).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tsodso.coordination.outcome import ModelOutcome
from tsodso.dispatch.stacking import stacking_report
from tsodso.exchange.messages import MessageLog
from tsodso.kpi.cost import unmet_by_dso
from tsodso.lifecycle import Lifecycle
from tsodso.registration.grid import GridCheck
from tsodso.registration.products import Registry
from tsodso.scenario.domain import Scenario
from tsodso.validation.ac import AcResult


def _long(scn: Any, **series: np.ndarray) -> pd.DataFrame:
    """(D, T) arrays as one long table: der, period, one column per series."""
    D, T = len(scn.ders), scn.periods
    cols = {"der": np.repeat(scn.ders.id, T), "period": np.tile(np.arange(T), D)}
    return pd.DataFrame({**cols, **{k: v.ravel() for k, v in series.items()}})


def dso_table(
    scn: Scenario, o: ModelOutcome, life: Lifecycle, messages: MessageLog, ac: AcResult
) -> pd.DataFrame:
    """One row per DSO: its feeders, what it pays as ordered (purchases and transfers), its
    cost to serve (that plus its own distribution needs left unmet after the AC check, at
    the penalty prices), what it paid as settled (its ledger balance), and the messages
    and bytes it sent and received (market and lifecycle together)."""
    bal = life.settlement.ledger.balances()
    unmet = unmet_by_dso(scn, ac)
    log = MessageLog([*messages.messages, *life.messages.messages])
    traffic = log.by_party().set_index("party")
    rows = []
    for k, name in enumerate(scn.dsos.names):
        t = traffic.loc[name] if name in traffic.index else None
        rows.append(
            {
                "dso": name,
                "feeders": " ".join(scn.grid.feeders[f].id for f in scn.dsos.feeders(k)),
                "cost_eur": round(o.cost_of(name), 2),
                "cost_to_serve_eur": round(o.cost_of(name) + unmet[name]["unmet_eur"], 2),
                "overload_mwh": unmet[name]["overload_mwh"],
                "voltage_violations": unmet[name]["voltage_violations"],
                "settled_eur": -bal.get(name, 0) / 100.0,
                "messages_sent": 0 if t is None else int(t.sent),
                "messages_received": 0 if t is None else int(t.received),
                "bytes_sent": 0 if t is None else int(t.sent_bytes),
                "bytes_received": 0 if t is None else int(t.received_bytes),
            }
        )
    return pd.DataFrame(rows)


def run_tables(
    scn: Scenario,
    registry: Registry,
    grid_check: GridCheck,
    o: ModelOutcome,
    messages: MessageLog,
    life: Lifecycle,
    ac: AcResult,
    kpis: dict[str, Any],
) -> dict[str, pd.DataFrame]:
    """Every table of one run on the registered scenario ``scn`` (its bids are the
    prequalified offers), by name."""
    b = scn.bids
    dl, stl = life.delivery, life.settlement
    names = np.array(scn.aggregator_names)
    acts = []
    for p in life.stack.purchases:
        k = np.flatnonzero(p.accepted_mw > 1e-9)
        acts.append(
            pd.DataFrame(
                {
                    "buyer": p.buyer,
                    "step": p.step,
                    "der": scn.ders.id[b.der[k]],
                    "kind": scn.ders.kind[b.der[k]],
                    "aggregator": names[b.aggregator[k]],
                    "node_bus": scn.grid.node_bus[b.node[k]],
                    "period": b.period[k],
                    "direction": np.where(b.direction[k] > 0, "up", "down"),
                    "q_max_mw": b.q_max_mw[k],
                    "accepted_mw": p.accepted_mw[k],
                    "price_eur_per_mwh": b.price_eur_per_mwh[k],
                    "payment_eur": p.payments_eur[k],
                }
            )
        )
    return {
        "registrations": registry.table,
        "grid_prequalification": grid_check.reasons.drop(columns="der_pos"),
        "activations": pd.concat(acts, ignore_index=True),
        "stacking_cuts": life.stack.cuts,
        "stacking": stacking_report(
            scn, life.stack, life.settlement.paid_eur_by_buyer(len(scn.bids))
        ),
        "setpoints": _long(scn, nominated_mw=scn.ders.p_base_mw, setpoint_mw=dl.setpoint_mw),
        "metered": _long(
            scn,
            metered_mw=dl.metered_mw,
            true_baseline_mw=dl.true_base_mw,
            rebound_mw=dl.rebound_mw,
        ),
        "baselines": _long(scn, **{f"{m}_mw": v for m, v in life.baselines.items()}),
        "baseline_errors": pd.DataFrame(
            [{"method": m, **e} for m, e in life.baseline_errors.items()]
        ),
        "settlement_lines": stl.lines.drop(columns="bid"),
        "ledger": stl.ledger.postings,
        "statements": stl.ledger.statements(),
        "node_voltages": pd.DataFrame(ac.vm_pu, columns=[str(x) for x in scn.grid.node_bus])
        .rename_axis("period")
        .reset_index(),
        "branch_loading": pd.DataFrame(ac.branch_loading)
        .add_prefix("branch_")
        .rename_axis("period")
        .reset_index(),
        "unmet_imbalance": pd.DataFrame(
            {
                "period": np.arange(scn.periods),
                "imbalance_mw": scn.imbalance_mw,
                "unmet_mw": o.unmet_imbalance_mw,
                "realised_flex_mw": dl.realised_flex_mw(),
                "der_baseline_error_mw": dl.baseline_error_mw(scn),
            }
        ),
        "messages": pd.concat([messages.table(), life.messages.table()], ignore_index=True),
        "dsos": dso_table(scn, o, life, messages, ac),
        "steps": pd.DataFrame([s.__dict__ for s in o.steps]),
        **_reactive_tables(scn, life),
        "kpis": pd.DataFrame([kpis]),
    }


def _reactive_tables(scn: Scenario, life: Lifecycle) -> dict[str, pd.DataFrame]:
    """The reactive set-points and their settlement lines (models with the product)."""
    if life.reactive is None:
        return {}
    rq = life.reactive
    lines = life.reactive_lines if life.reactive_lines is not None else pd.DataFrame()
    return {
        "reactive_setpoints": _long(
            scn, setpoint_mvar=rq.setpoint_mvar, delivered_mvar=rq.delivered_mvar
        ),
        "reactive_settlement": lines,
    }
