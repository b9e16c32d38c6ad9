"""What happens after a market clears, for every model (issue 4): stacking of the
purchases into standing activations, the contingency rules in the periods of scenario
events, DER set-points, delivery, metering, baselines and settlement. A pure function of
the prepared scenario and the model's outcome.

Owns: the order of these steps and their messages. Must not: clear markets, run the AC
check or compute KPIs (``pipeline`` and ``kpi`` do).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tsodso.coordination.outcome import ModelOutcome
from tsodso.dispatch.delivery import Delivery, deliver, setpoints
from tsodso.dispatch.reactive import ReactiveDelivery, reactive_delivery
from tsodso.dispatch.stacking import Stack, by_der, stack
from tsodso.exchange.messages import MessageLog
from tsodso.operation.contingency import Contingency, RealTime, apply_rules
from tsodso.operation.stages import REAL_TIME
from tsodso.scenario.domain import Scenario
from tsodso.schema.mechanism import Mechanism
from tsodso.schema.operating import OperatingProtocol
from tsodso.settlement.baselines import BASELINE_METHODS, baseline, baseline_error, delivered_mw
from tsodso.settlement.reactive import settle_reactive
from tsodso.settlement.settle import Settlement, settle
from tsodso.validation.ac import AcModel


@dataclass(frozen=True)
class Lifecycle:
    """Everything after the clearing of one model run."""

    stack: Stack
    delivery: Delivery
    baselines: dict[str, np.ndarray]  # method -> (D, T) baseline
    baseline_errors: dict[str, dict[str, float]]  # method -> error metrics vs the truth
    settlement: Settlement
    messages: MessageLog  # overrides, set-points, meter data and remittances
    contingency: Contingency | None = None  # what the rules did in event periods
    # reactive set-points, their delivery and settlement lines (models with the product)
    reactive: ReactiveDelivery | None = None
    reactive_lines: pd.DataFrame | None = None


def _real_time_mw(scn: Scenario, st: Stack) -> np.ndarray:
    """(D, T) the signed set-point change the real-time stage's standing purchases make."""
    rt = [p.accepted_mw for p in st.purchases if p.step.startswith(REAL_TIME)]
    if not rt:
        return np.zeros((len(scn.ders), scn.periods))
    return by_der(scn, scn.bids.direction * sum(rt))


def run_lifecycle(
    scn: Scenario,
    mech: Mechanism,
    outcome: ModelOutcome,
    history_mw: np.ndarray | None,
    ac_model: AcModel,
    realtime: RealTime,
    protocol: OperatingProtocol | None = None,
) -> Lifecycle:
    """Stack, apply the contingency rules of the model's operating ``protocol`` (default:
    ``OperatingProtocol()``), dispatch, deliver, meter, measure and settle ``outcome``."""
    st = stack(scn, outcome.purchases, mech)
    cont = None
    if realtime.active.any():
        st, cont = apply_rules(scn, ac_model, realtime, st, protocol)
    sp, clipped = setpoints(scn, st)
    dl = deliver(scn, sp, clipped, _real_time_mw(scn, st) if outcome.real_time else None)
    event = np.abs(sp - scn.ders.p_base_mw) > 1e-6
    bases: dict[str, np.ndarray] = {}
    errors: dict[str, dict[str, float]] = {}
    for method in BASELINE_METHODS:
        if method == "historical" and history_mw is None:
            continue
        kw = {"x": scn.config.settlement.x_of_y} if method == "historical" else {}
        bases[method] = baseline(
            method,
            nominated_mw=scn.ders.p_base_mw,
            metered_mw=dl.metered_mw,
            event=event,
            history_mw=history_mw,
            **kw,
        )
        errors[method] = baseline_error(bases[method], dl.true_base_mw, event)
    chosen = scn.config.settlement.baseline
    stl = settle(
        scn,
        st,
        outcome.transfers,
        delivered_mw(bases[chosen], dl.metered_mw),
        chosen,
        metered_mw=dl.metered_mw,
        reservations=outcome.reservations,
    )
    rq, rq_lines = None, None
    if outcome.reactive:
        rq = reactive_delivery(scn, outcome, dl.failed)
        stl, rq_lines = settle_reactive(stl, scn, outcome.reactive, rq)
    log = MessageLog()
    if cont is not None:
        log.extend(cont.messages)
    log.extend(_messages(scn, dl, stl))
    return Lifecycle(st, dl, bases, errors, stl, log, cont, rq, rq_lines)


def _messages(scn: Scenario, dl: Delivery, stl: Settlement) -> MessageLog:
    """Each aggregator sends its DERs their set-points per period and collects their meter
    data for the day; every payer sends each payee a remittance of what it settles."""
    log = MessageLog()
    d = scn.ders
    active = np.abs(dl.setpoint_mw - d.p_base_mw) > 1e-6
    for a, name in enumerate(scn.aggregator_names):
        mine = d.aggregator == a
        for t in np.flatnonzero(active[mine].any(axis=0)):
            m = mine & active[:, t]
            log.send(
                "dispatch",
                name,
                "DERs",
                "setpoint",
                {"der": d.id[m], "p_mw": dl.setpoint_mw[m, t]},
                period=int(t),
            )
        log.send(
            "metering", "DERs", name, "meter_data", {"der": d.id[mine], "p_mw": dl.metered_mw[mine]}
        )
    post = stl.ledger.postings
    for (payer, payee), g in post.groupby(["payer", "payee"], sort=True):
        log.send(
            "settlement",
            str(payer),
            str(payee),
            "remittance",
            {"kind": g.kind.to_numpy(), "cents": g.cents.to_numpy()},
        )
    return log
