"""The one orchestrator: scenario -> registration and prequalification -> the operators'
forecast (baseline AC power flow) -> coordination model -> its messages -> stacking,
dispatch, delivery, baselines, settlement (``lifecycle``) -> AC check of what was
delivered -> KPIs. Every step returns a new object; nothing is written back.

Owns: ``Prepared``, ``RunResult``, ``prepare`` and ``run_model``. Must not: format output.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tsodso.coordination import families
from tsodso.coordination.areas import OnceMap
from tsodso.coordination.catalogue import ModelPreset, get_model
from tsodso.coordination.context import MarketContext, reactive_at_nodes
from tsodso.coordination.outcome import ModelOutcome
from tsodso.exchange.build import messages_of
from tsodso.exchange.messages import MessageLog
from tsodso.exchange.standards import RenderContext, RenderedLog, render_log, standard_of
from tsodso.grids.forecast import GridForecast
from tsodso.kpi.metrics import compute_kpis, without_solution
from tsodso.kpi.tables import run_tables
from tsodso.kpi.unmet import unmet_needs
from tsodso.lifecycle import Lifecycle, run_lifecycle
from tsodso.operation.contingency import RealTime
from tsodso.operation.stages import nothing_bought, run_real_time, run_reserved
from tsodso.registration.grid import GridCheck, static_hosting_check
from tsodso.registration.products import Registry, register
from tsodso.scenario.domain import Scenario
from tsodso.scenario.history import der_history
from tsodso.schema.mechanism import Mechanism
from tsodso.validation.ac import AcModel, AcResult
from tsodso.validation.forecast import operators_forecast


class RunCache:
    """What runs on one prepared scenario share: the outcome of each mechanism (presets
    that are the same point of the space run once), its messages rendered per standard and
    the DER history of the X-of-Y baseline (read once). Thread-safe: models running at
    once make each shared result once."""

    def __init__(self) -> None:
        self.outcomes: OnceMap[str, ModelOutcome] = OnceMap()
        self.encodings: OnceMap[tuple[str, str], RenderedLog] = OnceMap()  # (mechanism, std)
        self.history: dict[str, np.ndarray | None] = {}
        self.lock = threading.Lock()


@dataclass(frozen=True)
class Prepared:
    """A registered scenario (only prequalified offers), the DSO's grid prequalification,
    the AC model, the baseline (no flexibility) AC power flow and the operators' forecast
    made from it, the market context and the real-time events."""

    scn: Scenario
    registry: Registry
    grid_check: GridCheck
    ac_model: AcModel
    baseline: AcResult
    forecast: GridForecast
    ctx: MarketContext
    realtime: RealTime
    cache: RunCache = field(default_factory=RunCache, compare=False, repr=False)

    def summary(self) -> dict[str, Any]:
        """The scenario as the comparison reports it: name, digest, configuration, sizes,
        the uncoordinated day's problems (baseline AC flow) and registration counts."""
        scn, b = self.scn, self.baseline
        return {
            "name": scn.config.name,
            "digest": scn.config.digest(),
            "config": scn.config.model_dump(mode="json"),
            "sizes": scn.sizes(),
            "baseline": {
                "overload_mwh": round(b.overload_mwh(), 3),
                "overload_transmission_mwh": round(b.overload_mwh(distribution=False), 3),
                "overload_distribution_mwh": round(b.overload_mwh(distribution=True), 3),
                "voltage_violations": b.voltage_violations(),
                "voltage_violations_distribution": b.voltage_violations(distribution=True),
                "imbalance_mwh": round(float(abs(scn.imbalance_mw).sum() * scn.dt_h), 3),
            },
            "registration": {
                **self.registry.summary(),
                "withdrawn_mwh": round(self.registry.withdrawn_mwh(scn), 3),
                "grid_check_blocked_der_directions": len(self.grid_check.reasons),
            },
        }

    def history_mw(self) -> np.ndarray | None:
        """(D, Y, T) DER history for the X-of-Y baseline (None where the scenario day has
        too few earlier days of its type); read once."""
        with self.cache.lock:
            if "h" not in self.cache.history:
                try:
                    days = self.scn.config.settlement.history_days
                    self.cache.history["h"] = der_history(self.scn, days)[0]
                except ValueError:
                    self.cache.history["h"] = None
            return self.cache.history["h"]


@dataclass(frozen=True)
class RunResult:
    """One model run: the model, what its market(s) decided and the messages they took,
    what happened after (lifecycle), the AC check of what was delivered and the KPIs."""

    model: ModelPreset
    outcome: ModelOutcome
    messages: MessageLog  # the market's messages (the lifecycle's are in ``life``)
    life: Lifecycle
    ac: AcResult  # of what was delivered
    kpis: dict[str, float | int | None]
    prepared: Prepared = field(compare=False, repr=False)
    standard: str = "json"  # the standard its messages are measured in (its region's)
    encoded: RenderedLog | None = field(default=None, compare=False, repr=False)

    def rendered(self, standard: str | None = None, keep: bool = True) -> RenderedLog:
        """Every message of the run (market and lifecycle) rendered in ``standard`` (the
        run's own by default), JSON where the standard has none; ``keep`` keeps the bytes."""
        return render_messages(
            self.prepared.scn, self.messages, self.life, standard or self.standard, keep
        )

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table of the run as a DataFrame, by name (activations, registrations,
        stacking, set-points, metering, baselines, settlement, ledger, statements, node
        voltages, branch loadings, unmet imbalance, messages, steps, kpis)."""
        p = self.prepared
        tables = run_tables(
            p.scn,
            p.registry,
            p.grid_check,
            self.outcome,
            self.messages,
            self.life,
            self.ac,
            self.kpis,
        ) | ({"message_encodings": self.encoded.summary()} if self.encoded is not None else {})
        tables["unmet_needs"] = self.unmet_needs()
        return tables

    def unmet_needs(self) -> pd.DataFrame:
        """Every need the run leaves unmet, with the reason (``kpi.unmet``)."""
        p = self.prepared
        m = p.ac_model
        branches = ([str(k) for k in m.branch_kind], [int(e) for e in m.branch_element])
        return unmet_needs(
            p.scn, p.forecast, self.model.mechanism, self.outcome, self.life, self.ac, branches
        )


def prepare(scn: Scenario, time_limit_s: float = 300.0) -> Prepared:
    """Register every DER (withdrawing offers that fail the product prequalification),
    then run the baseline AC power flow once: the operators' forecast is calibrated to it."""
    registry = register(scn)
    scn = registry.apply(scn)
    ac_model = AcModel(scn.net, scn.grid, scn.dt_h)
    forecast, base = operators_forecast(
        scn.grid, ac_model, scn.node_injection_mw(), scn.node_q0_mvar
    )
    ctx = MarketContext(scn, forecast, time_limit_s)
    grid_check = static_hosting_check(scn, scn.bids, forecast)
    realtime = RealTime.of(scn, ac_model, base.tap_pos)
    return Prepared(scn, registry, grid_check, ac_model, base, forecast, ctx, realtime)


def render_messages(
    scn: Scenario, messages: MessageLog, life: Lifecycle, standard: str, keep: bool = False
) -> RenderedLog:
    """A run's market and lifecycle messages rendered in ``standard``."""
    base = life.baselines[scn.config.settlement.baseline]
    ctx = RenderContext.of(scn, life.settlement.lines, base)
    return render_log([*messages.messages, *life.messages.messages], ctx, standard, keep)


def cleared(prep: Prepared, mech: Mechanism) -> ModelOutcome:
    """What the markets of ``mech`` bought on ``prep``, at each of its stages
    (``operation.stages``); presets that share a mechanism share its outcome, and a
    staged model shares its day-ahead stage with the single-stage one."""

    def clear() -> ModelOutcome:
        if mech.stages == "single":
            return families.run(prep.ctx, mech)
        if mech.stages == "perfect":  # one clearing, at real time, nothing bought before
            return run_real_time(prep.ctx, mech, prep.ac_model, nothing_bought(prep.scn))
        day_ahead = cleared(prep, mech.model_copy(update={"stages": "single"}))
        if mech.stages == "reserve_rt":
            return run_reserved(prep.ctx, mech, prep.ac_model, day_ahead)
        return run_real_time(prep.ctx, mech, prep.ac_model, day_ahead)

    return prep.cache.outcomes.get(repr(mech), clear)


def run_model(
    prep: Prepared,
    model: ModelPreset | str,
    with_history: bool = False,
    standard: str | None = None,
) -> RunResult:
    """Run one coordination model on a prepared scenario, from clearing to settlement.
    ``with_history`` also computes the historical baseline when it does not settle;
    ``standard`` measures its messages in that standard instead of its region's."""
    preset = get_model(model) if isinstance(model, str) else model
    t0 = time.perf_counter()
    key = repr(preset.mechanism)
    outcome = cleared(prep, preset.mechanism)
    scn = prep.scn
    messages = messages_of(scn, outcome.exchanges)
    needs_history = scn.config.settlement.baseline == "historical" or with_history
    history = prep.history_mw() if needs_history else None
    life = run_lifecycle(
        scn, preset.mechanism, outcome, history, prep.ac_model, prep.realtime, preset.protocol
    )
    delta = life.delivery.node_delta_mw(scn)
    q = scn.node_q0_mvar
    if life.reactive is not None:  # the reactive set-points delivered, at the DERs' nodes
        q = q + reactive_at_nodes(scn, life.reactive.delivered_mvar)
    # the tap changers step from where the forecast put them (``AcModel.run``)
    ac = prep.ac_model.run(
        scn.node_injection_mw(delta),
        q,
        out_of_service=prep.realtime.out_of_service,
        start_taps=prep.realtime.start_taps,
    )
    std = standard or standard_of(preset.region)
    # the same mechanism sends the same messages (its contingency ones under the same
    # protocol): rendered once
    ekey = (key + (repr(preset.protocol) if prep.realtime.active.any() else ""), std)
    encoded = prep.cache.encodings.get(ekey, lambda: render_messages(scn, messages, life, std))
    wall = time.perf_counter() - t0
    kpis = compute_kpis(
        scn, outcome, messages, life, ac, wall, prep.forecast, encoded.bytes_by_encoding()
    )
    if not outcome.has_solution:  # no fake numbers: a missing result is None
        kpis = without_solution(kpis)
    return RunResult(preset, outcome, messages, life, ac, kpis, prep, std, encoded)
