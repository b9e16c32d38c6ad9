"""The DOE report: every envelope method in both directions, on every feeder, at the DSO's
forecast, verified with the AC power flow of the whole grid.

Customers are the connection points: every non-root feeder node with a load, a static
generator or a DER. The forecast of a feeder is LinDistFlow of the baseline injections
(``scn.node_p0_mw``, ``scn.node_q0_mvar``) with the root voltage of the baseline AC power
flow, calibrated by the pipeline's squared-voltage offsets (as the DOE filter does). The
``static`` method is not grid-aware: its AC check is expected to fail in places, which the
report shows (``ac_pass_share``, ``min_scale``). ``proportional`` is weighted by connection
size (``connection_mw``).

Owns: the report's computation and its tables. Must not: render or print (edges do).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tsodso.envelopes.doe import METHODS, Envelope, envelope
from tsodso.envelopes.verify import BISECTION_STEPS, VerifiedEnvelopes, ac_verified_feeders
from tsodso.grids.distflow import FeederState
from tsodso.grids.forecast import GridForecast
from tsodso.registration.grid import forecast_state
from tsodso.scenario.domain import Scenario
from tsodso.validation.ac import AcModel, AcResult


@dataclass(frozen=True)
class DoeRun:
    """One method and direction: the linear envelopes of every feeder and their AC check."""

    method: str
    direction: int
    linear: tuple[Envelope, ...]  # per feeder (feeder order)
    verified: VerifiedEnvelopes
    compute_s: float  # the envelopes of all feeders
    verify_s: float  # their AC verification


@dataclass(frozen=True)
class DoeReport:
    """Envelopes by method and direction; ``summary()`` and ``limits()`` tabulate them."""

    runs: tuple[DoeRun, ...]
    feeder_ids: tuple[str, ...]
    customer_bus: tuple[np.ndarray, ...]  # pandapower bus of each customer, per feeder
    periods: int
    forecast_s: float  # the forecast states of all feeders

    def run(self, method: str, direction: int) -> DoeRun:
        for r in self.runs:
            if r.method == method and r.direction == direction:
                return r
        raise KeyError(f"no DOE run for {method!r}, direction {direction}")

    def summary(self) -> pd.DataFrame:
        """One row per method and direction: mean over periods of the total verified
        hosting of all feeders (and the linear one), mean Jain index over feeders with
        customers, share of hosting feeder-periods passing the AC check unscaled, the
        smallest scale, and the seconds spent computing and verifying."""
        rows = []
        has = [len(b) > 0 for b in self.customer_bus]
        for r in self.runs:
            v = r.verified
            jain = [e.jain() for e, h in zip(v.envelopes, has, strict=True) if h]
            rows.append(
                {
                    "method": r.method,
                    "direction": r.direction,
                    "hosting_mw": _mean_total(v.envelopes),
                    "hosting_linear_mw": _mean_total(r.linear),
                    "jain": float(np.mean(jain)) if jain else 1.0,
                    "ac_pass_share": v.ac_pass_share,
                    "min_scale": v.min_scale,
                    "compute_s": r.compute_s,
                    "verify_s": r.verify_s,
                    "ac_periods": v.ac_periods,
                }
            )
        return pd.DataFrame(rows)

    def limits(self) -> pd.DataFrame:
        """Long table: method, direction, feeder, bus, period, limit_mw (verified),
        limit_mw_linear."""
        T = self.periods
        n = [len(b) for b in self.customer_bus]
        feeder = np.repeat(np.arange(len(n)), n)
        bus = np.concatenate([np.asarray(b, dtype=np.int64) for b in self.customer_bus])
        parts = []
        for r in self.runs:
            ver = np.concatenate([e.limit_mw for e in r.verified.envelopes])  # (C, T)
            lin = np.concatenate([e.limit_mw for e in r.linear])
            parts.append(
                pd.DataFrame(
                    {
                        "method": r.method,
                        "direction": r.direction,
                        "feeder": np.repeat(feeder, T),
                        "bus": np.repeat(bus, T),
                        "period": np.tile(np.arange(T), len(bus)),
                        "limit_mw": ver.ravel(),
                        "limit_mw_linear": lin.ravel(),
                    }
                )
            )
        out = pd.concat(parts, ignore_index=True)
        out["method"] = pd.Categorical(out["method"], categories=list(METHODS))
        out["feeder"] = pd.Categorical.from_codes(
            out["feeder"].to_numpy(), categories=list(self.feeder_ids)
        )
        return out


def _mean_total(envs: Sequence[Envelope]) -> float:
    """Mean over periods of the total hosting of all feeders."""
    return float(np.sum([e.hosting_mw for e in envs], axis=0).mean()) if envs else 0.0


def customers(scn: Scenario) -> tuple[np.ndarray, ...]:
    """Connection points per feeder: positions of the non-root nodes with a load, a static
    generator or a DER."""
    b2n = scn.grid.bus_to_node
    nodes = np.unique(
        np.concatenate(
            [
                b2n.loc[scn.net.load.bus].to_numpy(dtype=np.int64),
                b2n.loc[scn.net.sgen.bus].to_numpy(dtype=np.int64),
                np.asarray(scn.ders.node, dtype=np.int64),
            ]
        )
    )
    return tuple(
        np.flatnonzero(np.isin(f.nodes, nodes) & (np.arange(f.n) > 0)) for f in scn.grid.feeders
    )


def connection_mw(scn: Scenario) -> np.ndarray:
    """(N,) connection size per node: rated apparent power of its loads and static
    generators (``sn_mva``, else |p_mw|) plus the rated power of the scenario's synthetic
    DERs; the weight of the ``proportional`` method."""
    b2n = scn.grid.bus_to_node
    out = np.zeros(scn.grid.n_nodes)
    for table in (scn.net.load, scn.net.sgen):
        size = table.sn_mva.fillna(table.p_mw.abs()) if "sn_mva" in table else table.p_mw.abs()
        np.add.at(out, b2n.loc[table.bus].to_numpy(), size.to_numpy(dtype=float))
    syn = np.asarray(scn.ders.synthetic, dtype=bool)
    np.add.at(out, scn.ders.node[syn], scn.ders.p_rated_mw[syn])
    return out


def feeder_states(scn: Scenario, forecast: GridForecast) -> tuple[FeederState, ...]:
    """The DSO's forecast of every feeder: LinDistFlow of the baseline with the baseline AC
    root voltage, plus the calibration offset of squared voltages."""
    return tuple(forecast_state(scn, k, forecast) for k in range(len(scn.grid.feeders)))


def doe_report(
    scn: Scenario,
    ac_model: AcModel,
    baseline: AcResult,
    forecast: GridForecast,
    methods: Sequence[str] = METHODS,
    directions: Sequence[int] = (1, -1),
    margin_pu: float | None = None,
    steps: int = BISECTION_STEPS,
) -> DoeReport:
    """Envelopes of every feeder by each method and direction at the DSO's forecast,
    AC-verified (``margin_pu`` defaults to the scenario's ``d_voltage_margin_pu``;
    ``steps``: bisection steps of the verification)."""
    margin = scn.config.d_voltage_margin_pu if margin_pu is None else margin_pu
    t0 = time.perf_counter()
    states = feeder_states(scn, forecast)
    cust = customers(scn)
    size = connection_mw(scn)
    forecast_s = time.perf_counter() - t0
    runs = []
    for method in methods:
        for d in directions:
            t0 = time.perf_counter()
            lin = tuple(
                envelope(f, st, c, method, d, weights=size[f.nodes[c]], margin_pu=margin)
                for f, st, c in zip(scn.grid.feeders, states, cust, strict=True)
            )
            t1 = time.perf_counter()
            ver = ac_verified_feeders(lin, ac_model, scn, baseline, steps)
            runs.append(DoeRun(method, d, lin, ver, t1 - t0, time.perf_counter() - t1))
    buses = tuple(
        scn.grid.node_bus[f.nodes[c]].astype(np.int64)
        for f, c in zip(scn.grid.feeders, cust, strict=True)
    )
    ids = tuple(str(f.id) for f in scn.grid.feeders)
    return DoeReport(tuple(runs), ids, buses, scn.periods, forecast_s)
