"""Normal and contingency operation (issue 4 item 7; issue 14 item 5). In normal operation
the activations of the model stand as cleared. In the periods of a scenario event (an
outage, a forecast error spike: ``ScenarioConfig.events``), real-time monitoring switches
the operators to the contingency rules, applied in this order to the real-time state (the
AC power flow of what would be delivered, with the outage), each as the model's operating
protocol says (``schema.operating``, the values per model in
``coordination/protocols.toml``):

1. **DSO override** (``dso_override``). Where a feeder node is outside its voltage band or
   a feeder branch (its TDI transformers included) is overloaded, the DSO cancels every
   activation bought by another operator (TSO or platform) at a DER of that feeder that
   pushes the broken limit further (LinDistFlow sensitivities; the exchange direction at
   the TDI). Those MW are not delivered and not paid; the TSO's need they served goes
   unmet. A protocol without override (OpEN SIP and hybrid: "the DSO lacks direct control
   over DER") skips this rule.
2. **TSO emergency curtailment.** Where a transmission branch is still overloaded (or, with
   ``emergency_scope = whole_system``, a feeder is red), the TSO, or the platform at its
   request, curtails generation outside the market, with up activations elsewhere to keep
   the system balanced where it can (a redispatch): the least-cost set (at the units' own
   prices, paid by the TSO as compensation) that brings the DC flows of the outage grid
   within 95 % of the ratings and, with ``whole_system``, every feeder within its limits
   (their LinDistFlow models calibrated to the real-time AC state), so that the
   redispatch neither leaves nor makes a red feeder. A ``block`` light removes the
   activations that would worsen a red feeder from its choice. Security comes first:
   where no counter-activation is left, the curtailment stands and its imbalance goes to
   the realised-imbalance KPI (an overload weighs ``SECURITY_WEIGHT`` times the value of
   lost load in this LP). What it cannot fix stays in the AC check.
3. **The DSO's red light** (``red_light``, ``operation.red_light``): where a feeder is
   still red after the emergency redispatch (or made red by it), the DSO redispatches it
   itself (``curtail``, paid by the DSO) or tightens its DERs' envelopes (``envelope``,
   unpaid, applied by the platform); ``block`` acted in rule 2; ``none`` does nothing.
   The DSO acts last because its feeders see the TSO's counter-activations too; what its
   action changes at the TDIs is left to the realised-imbalance KPI.

Every instruction travels its protocol's route (``tso_instructs``: to the aggregator
directly, through the area's DSO, or through the market operator's platform), each hop a
message in the log; a ``message_loss`` event drops hops, and the receiver handles a lost
instruction as ``on_lost_message`` says (``operation.instructions``). The KPIs count what
each rule cost and what was lost. Owns: the rules and their order. Must not: clear the
day-ahead markets or settle (settlement pays the emergency purchases like any other).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tsodso.clearing.market import clear_market
from tsodso.clearing.problem import MarketProblem, PenaltyPrices
from tsodso.coordination.outcome import Purchase
from tsodso.dispatch.delivery import deliver, setpoints
from tsodso.dispatch.stacking import EPS, Stack, by_der, cut_table
from tsodso.exchange.messages import MessageLog
from tsodso.grids.forecast import GridForecast
from tsodso.grids.model import CoupledGrid, build_coupled_grid
from tsodso.grids.outage import OUTAGE_KINDS, event_periods, outage_net
from tsodso.operation.instructions import Courier, dso_route, tso_route
from tsodso.operation.red_light import (
    GENERATION,
    SECURITY_WEIGHT,
    envelope_candidates,
    feeder_limits,
    feeder_redispatch,
    realtime_forecast,
    red_lights,
    worsening,
)
from tsodso.scenario.domain import Scenario
from tsodso.schema.actors import MO, TSO, is_dso
from tsodso.schema.operating import OperatingProtocol
from tsodso.validation.ac import AcModel, AcResult

EMERGENCY_RATING_MARGIN = 0.95
_EMERGENCY_COLUMNS = ["der", "period", "direction", "mw", "price_eur_per_mwh"]
_DSO_COLUMNS = ["dso", "action", "der", "period", "direction", "mw", "paid_eur"]


@dataclass(frozen=True)
class RealTime:
    """The events of a scenario as the AC check and the rules need them."""

    active: np.ndarray  # (T,) bool: an outage or forecast error is on (contingency rules)
    out_of_service: np.ndarray | None  # (T, branches of the AC model) or None
    outage_grid: CoupledGrid | None  # the grid with every outage element out (DC model)
    # (T, regulated transformers) the forecast's tap positions, where the real-time
    # state's tap changers start from (``AcModel.run``); None: the day's starting ones
    start_taps: np.ndarray | None = None

    @classmethod
    def of(cls, scn: Scenario, ac_model: AcModel, start_taps: np.ndarray | None = None) -> RealTime:
        """The events of ``scn`` (a message loss alone switches no rules on);
        ``start_taps``: the forecast's tap positions."""
        T = scn.periods
        active = np.zeros(T, dtype=bool)
        oos = np.zeros((T, len(ac_model.branch_kind)), dtype=bool)
        outages = []
        for e in scn.config.events:
            if e.kind == "message_loss":
                continue
            on = event_periods(e, T)
            active |= on
            if e.kind in OUTAGE_KINDS:
                assert e.element is not None
                oos[on, ac_model.branch_index(OUTAGE_KINDS[e.kind], e.element)] = True
                outages.append(e)
        grid = None
        if outages:
            net = outage_net(scn.net, tuple(outages))
            grid = build_coupled_grid(net, scn.config.transmission_min_kv)
        return cls(active, oos if oos.any() else None, grid, start_taps)

    def grid(self, scn: Scenario) -> CoupledGrid:
        """The grid as it is in real time (with the outages)."""
        return self.outage_grid if self.outage_grid is not None else scn.grid


@dataclass(frozen=True)
class Contingency:
    """What the rules did under the model's protocol: overridden activations, the DSOs'
    own actions on red lights, the emergency purchase, lost instructions, messages."""

    overrides: pd.DataFrame  # buyer, step, der, period, direction, cut_mw, reason
    emergency: pd.DataFrame  # der, period, direction, mw, price_eur_per_mwh
    messages: MessageLog
    protocol: OperatingProtocol = OperatingProtocol()
    dso_actions: pd.DataFrame = dataclasses.field(
        default_factory=lambda: pd.DataFrame(columns=_DSO_COLUMNS)
    )  # dso, action (curtail | envelope), der, period, direction, mw, paid_eur
    blocked: int = 0  # emergency candidate bids a red light refused to the TSO
    red_feeder_periods: int = 0  # feeder-periods red after the emergency redispatch
    lost: pd.DataFrame = dataclasses.field(
        default_factory=pd.DataFrame
    )  # instructions.LOST_COLUMNS

    def kpis(self, dt_h: float) -> dict[str, float]:
        """What each rule did and cost (MWh, EUR), and what was lost."""
        e, a = self.emergency, self.dso_actions
        down = e.direction == "down"
        cur, env = a.action == "curtail", a.action == "envelope"
        lost = self.lost
        return {
            "dso_override_mwh": round(float(self.overrides.cut_mw.sum() * dt_h), 4),
            "dso_override_activations": len(self.overrides),
            "red_feeder_periods": self.red_feeder_periods,
            "dso_curtailment_mwh": round(float(a.mw[cur].sum() * dt_h), 4),
            "dso_curtailment_cost_eur": round(float(a.paid_eur[cur].sum()), 2),
            "envelope_tightening_mwh": round(float(a.mw[env].sum() * dt_h), 4),
            "red_light_blocked_bids": self.blocked,
            "emergency_curtailment_mwh": round(float(e.mw[down].sum() * dt_h), 4),
            "emergency_counter_mwh": round(float(e.mw[~down].sum() * dt_h), 4),
            "emergency_cost_eur": round(float((e.mw * e.price_eur_per_mwh).sum() * dt_h), 2),
            "lost_instruction_bids": len(lost),
            "lost_ordered_mwh": round(float(lost.ordered_mw.sum() * dt_h), 4) if len(lost) else 0.0,
            "lost_executed_mwh": round(float(lost.executed_mw.sum() * dt_h), 4)
            if len(lost)
            else 0.0,
        }


def real_time(
    scn: Scenario, ac_model: AcModel, rt: RealTime, st: Stack
) -> tuple[np.ndarray, AcResult]:
    """(N, T) node injections of what ``st`` would deliver, and their AC power flow with
    the outages of ``rt``."""
    sp, clipped = setpoints(scn, st)
    dl = deliver(scn, sp, clipped)
    p = scn.node_injection_mw(dl.node_delta_mw(scn))
    return p, ac_model.run(
        p, scn.node_q0_mvar, out_of_service=rt.out_of_service, start_taps=rt.start_taps
    )


def real_time_ac(scn: Scenario, ac_model: AcModel, rt: RealTime, st: Stack) -> AcResult:
    """The AC power flow of what ``st`` would deliver, with the outages of ``rt``."""
    return real_time(scn, ac_model, rt, st)[1]


def by_der_to_nodes(scn: Scenario, st: Stack) -> np.ndarray:
    """(N, T) injection change of the standing activations as ordered."""
    out = np.zeros((scn.grid.n_nodes, scn.periods))
    np.add.at(out, scn.ders.node, by_der(scn, scn.bids.direction * st.accepted_mw))
    return out


def _imports(scn: Scenario, st: Stack) -> np.ndarray:
    """(n_feeders, T) each feeder's TDI import at the forecast with the standing
    activations as ordered."""
    total = scn.node_injection_mw(by_der_to_nodes(scn, st))
    return np.array([scn.feeder_import_mw(k, total) for k in range(len(scn.grid.feeders))]).reshape(
        len(scn.grid.feeders), scn.periods
    )


@dataclass(frozen=True)
class _Rules:
    """What every rule of one run reads: the scenario, the AC model, the events and the
    courier of its instructions (which holds the protocol and the log)."""

    scn: Scenario
    ac_model: AcModel
    rt: RealTime
    cr: Courier


def _override(c: _Rules, st: Stack, ac: AcResult) -> tuple[Stack, pd.DataFrame]:
    """Rule 1: the DSO cancels other operators' activations that worsen a broken limit."""
    scn, ac_model, rt, cr = c.scn, c.ac_model, c.rt, c.cr
    b = scn.bids
    limits = feeder_limits(scn, ac_model, rt.active, ac)
    worsens, why = worsening(scn, limits, _imports(scn, st))
    why = np.where(worsens, "DSO override: " + why.astype(str), "")
    purchases, rows = [], []
    area = scn.dsos.node_area(scn.grid)[b.node]  # overrides are in feeders: area >= 0
    for p in st.purchases:
        if is_dso(p.buyer):
            purchases.append(p)
            continue
        ordered = np.where(worsens, p.accepted_mw, 0.0)
        hit = ordered > EPS
        for period in np.unique(b.period[hit]):  # the buyer is told, by each DSO
            for k in np.unique(area[hit & (b.period == period)]):
                m = hit & (b.period == period) & (area == k)
                cr.send(
                    "override",
                    [(scn.dsos.names[int(k)], p.buyer)],
                    {"der": scn.ders.id[b.der[m]], "mw": ordered[m], "reason": why[m].astype(str)},
                    int(period),
                )
        lost = cr.instruct("override", ordered, ordered, dso_route(False))
        keep = np.where(
            lost > EPS, np.clip(1.0 - lost / np.maximum(p.accepted_mw, EPS), 0.0, 1.0), 1.0
        )
        purchases.append(
            dataclasses.replace(
                p, accepted_mw=p.accepted_mw * keep, payments_eur=p.payments_eur * keep
            )
        )
        rows.append(cut_table(scn, p, np.where(lost > EPS, lost, 0.0), why))
    overrides = (
        pd.concat(rows, ignore_index=True)
        if rows
        else cut_table(scn, st.purchases[0], np.zeros(len(b)), why)
    )
    cuts = pd.concat([st.cuts, overrides], ignore_index=True)
    return Stack(tuple(purchases), cuts), overrides


def _dso_action(
    c: _Rules, st: Stack, p_mw: np.ndarray, ac: AcResult
) -> tuple[Stack, pd.DataFrame, np.ndarray]:
    """Rule 3: each DSO's own action on its red feeders (``operation.red_light``)."""
    scn, ac_model, rt, cr = c.scn, c.ac_model, c.rt, c.cr
    b = scn.bids
    how = cr.protocol.red_light
    red = red_lights(feeder_limits(scn, ac_model, rt.active, ac))
    empty = pd.DataFrame(columns=_DSO_COLUMNS)
    if how not in ("curtail", "envelope") or not red.any():
        return st, empty, red
    layer = scn.grid.node_layer[b.node]
    in_red = (layer >= 0) & red[np.maximum(layer, 0), b.period]
    left = b.q_max_mw - st.accepted_mw
    envelope = how == "envelope"
    cand = in_red & (envelope_candidates(scn) if envelope else True)
    feeders = tuple(int(k) for k in np.flatnonzero(red.any(axis=1)))
    ordered = feeder_redispatch(scn, rt.grid(scn), ac, p_mw, cand, left, feeders, envelope)
    kind = "envelope_update" if envelope else "dso_curtailment"
    fallback = np.where(cand, np.maximum(left, 0.0), 0.0) if envelope else None
    acc = cr.instruct(kind, ordered, np.maximum(left, 0.0), dso_route(envelope), fallback)
    pay = np.zeros(len(b)) if envelope else acc * b.price_eur_per_mwh * scn.dt_h
    area = scn.dsos.node_area(scn.grid)[b.node]
    purchases = []
    for k in np.unique(area[acc > EPS]):
        dso = scn.dsos.names[int(k)]
        m = area == k
        step = "DSO envelope tightening" if envelope else "DSO emergency redispatch"
        purchases.append(Purchase(dso, step, np.where(m, acc, 0.0), np.where(m, pay, 0.0)))
        if not envelope:  # the TSO learns what the DSO did at its TDIs
            for t in np.unique(b.period[m & (acc > EPS)]):
                mt = m & (b.period == t)
                cr.send(
                    "dso_curtailment_notice",
                    [(dso, TSO)],
                    {"mwh": float((b.direction[mt] * acc[mt]).sum() * scn.dt_h)},
                    int(t),
                )
    hit = acc > EPS
    table = pd.DataFrame(
        {
            "dso": [scn.dsos.names[int(k)] for k in area[hit]],
            "action": how,
            "der": scn.ders.id[b.der[hit]],
            "period": b.period[hit],
            "direction": np.where(b.direction[hit] > 0, "up", "down"),
            "mw": acc[hit],
            "paid_eur": pay[hit],
        },
        columns=_DSO_COLUMNS,
    )
    return Stack((*st.purchases, *purchases), st.cuts), table, red


def _emergency(
    c: _Rules, st: Stack, p_mw: np.ndarray, ac: AcResult
) -> tuple[Stack, pd.DataFrame, int]:
    """Rule 2: least-cost curtailment of generation that relieves transmission overload
    (and, with ``whole_system``, red feeders), minus what a ``block`` light refuses."""
    scn, ac_model, rt, cr = c.scn, c.ac_model, c.rt, c.cr
    b = scn.bids
    proto = cr.protocol
    whole = proto.emergency_scope == "whole_system"
    t_branch = ~ac.branch_is_distribution
    with np.errstate(invalid="ignore"):
        over = (np.nan_to_num(ac.branch_loading[:, t_branch]) > 1.0 + 1e-6).any(axis=1)
    limits = feeder_limits(scn, ac_model, rt.active, ac)
    red = red_lights(limits)
    need = (over | (red.any(axis=0) if whole else False)) & rt.active
    empty = pd.DataFrame(columns=_EMERGENCY_COLUMNS)
    if not need.any():
        return st, empty, 0
    grid = rt.grid(scn)
    used = st.accepted_mw
    gen = np.isin(scn.ders.kind[b.der], GENERATION)
    # curtailment of generation, and up activations that keep the system balanced; the
    # whole-system operator may also move loads down for a red feeder
    cand = ((b.direction < 0) & gen) | (b.direction > 0) | ((b.direction < 0) & whole)
    cand &= need[b.period] & (b.q_max_mw - used > EPS)
    blocked = 0
    if proto.red_light == "block" and red.any():
        # the DSO publishes each red light to the TSO; a light that does not arrive blocks
        # nothing
        seen = np.zeros_like(red)
        for k, f in enumerate(scn.grid.feeders):
            for t in np.flatnonzero(red[k]):
                hop = [(scn.dsos.of_feeder(k), TSO)]
                seen[k, t] = cr.send("red_light", hop, {"feeder": f.id}, int(t)) is None
        worsens, _ = worsening(scn, limits, _imports(scn, st))
        layer = scn.grid.node_layer[b.node]
        worsens &= (layer >= 0) & seen[np.maximum(layer, 0), b.period]
        blocked = int((cand & worsens).sum())
        cand &= ~worsens
    idx = np.flatnonzero(cand)
    bids = b.with_caps(b.q_max_mw - used).subset(idx)
    T = scn.periods
    base = scn.config.penalties
    # the whole-system operator models every feeder: its redispatch may not make one red
    feeders = tuple(range(len(grid.feeders))) if whole else ()
    problem = MarketProblem(
        grid=grid,
        bids=bids,
        ders=scn.ders,
        injection_mw=p_mw if whole else scn.node_injection_mw() + by_der_to_nodes(scn, st),
        q_mvar=scn.node_q0_mvar,
        # security first: an overload weighs more than the imbalance a curtailment leaves
        penalties=PenaltyPrices(
            base.imbalance_eur_per_mwh,
            SECURITY_WEIGHT * base.imbalance_eur_per_mwh,
            SECURITY_WEIGHT * base.voltage_eur_per_pu2h if whole else base.voltage_eur_per_pu2h,
        ),
        dt_h=scn.dt_h,
        imbalance_mw=np.zeros(T),
        transmission=True,
        feeders=feeders,
        forecast=(
            realtime_forecast(grid, ac, p_mw, scn.node_q0_mvar, EMERGENCY_RATING_MARGIN)
            if whole
            else GridForecast(
                np.ones((len(grid.feeders), T)),
                tuple(np.zeros((f.n, T)) for f in grid.feeders),
                np.full((grid.transmission.n_branch, T), EMERGENCY_RATING_MARGIN),
            )
        ),
    )
    cleared = clear_market(problem)
    ordered = np.zeros(len(b))
    ordered[idx] = cleared.accepted_mw
    acc = cr.instruct(
        "emergency_curtailment",
        ordered,
        np.maximum(b.q_max_mw - used, 0.0),
        tso_route(proto.tso_instructs),
    )
    pay = acc * b.price_eur_per_mwh * scn.dt_h
    hit = acc > EPS
    if proto.tso_instructs != "via_dso":  # the DSOs hear of it (through it, via_dso)
        _notify(scn, cr, acc, MO if proto.tso_instructs == "platform" else TSO)
    purchase = Purchase(TSO, "emergency curtailment", acc, pay)
    table = pd.DataFrame(
        {
            "der": scn.ders.id[b.der[hit]],
            "period": b.period[hit],
            "direction": np.where(b.direction[hit] > 0, "up", "down"),
            "mw": acc[hit],
            "price_eur_per_mwh": b.price_eur_per_mwh[hit],
        }
    )
    return Stack((*st.purchases, purchase), st.cuts), table, blocked


def _notify(scn: Scenario, cr: Courier, acc: np.ndarray, sender: str) -> None:
    """The TSO (or the platform) notifies the DSO of an emergency curtailment: with
    several DSOs, each DSO with curtailments in its area."""
    b = scn.bids
    hit = acc > EPS
    area = scn.dsos.node_area(scn.grid)[b.node]
    for period in np.unique(b.period[hit]):
        notified = (
            scn.dsos.names
            if scn.dsos.n == 1
            else tuple(
                scn.dsos.names[int(k)]
                for k in np.unique(area[hit & (b.period == period)])
                if k >= 0
            )
        )
        for dso in notified:
            mine = b.period == period
            if scn.dsos.n > 1:
                mine &= area == scn.dsos.names.index(dso)
            cr.send(
                "emergency_notice",
                [(sender, dso)],
                {"mwh": float(acc[mine].sum() * scn.dt_h)},
                int(period),
            )


def apply_rules(
    scn: Scenario,
    ac_model: AcModel,
    rt: RealTime,
    st: Stack,
    protocol: OperatingProtocol | None = None,
) -> tuple[Stack, Contingency]:
    """The standing activations after the contingency rules of ``protocol`` (default:
    ``OperatingProtocol()``), and what the rules did."""
    proto = OperatingProtocol() if protocol is None else protocol
    log = MessageLog()
    cr = Courier.of(scn, proto, log)
    rules = _Rules(scn, ac_model, rt, cr)
    p_mw, ac = real_time(scn, ac_model, rt, st)
    overrides = cut_table(scn, st.purchases[0], np.zeros(len(scn.bids)), np.full(len(scn.bids), ""))
    if proto.dso_override:
        st, overrides = _override(rules, st, ac)
        p_mw, ac = real_time(scn, ac_model, rt, st)
    st, emergency, blocked = _emergency(rules, st, p_mw, ac)
    if len(emergency):
        p_mw, ac = real_time(scn, ac_model, rt, st)
    st, actions, red = _dso_action(rules, st, p_mw, ac)
    return st, Contingency(
        overrides,
        emergency,
        log,
        proto,
        actions,
        blocked,
        int(red.sum()),
        cr.table(),
    )
