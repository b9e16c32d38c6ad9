"""AC validation: a batch AC power flow of the whole coupled grid for every period, with
power-grid-model, and the violations it finds.

Owns: a direct conversion of the few pandapower element types tsodso uses (bus, line,
two-winding transformer, shunt, external grid) onto fused nodes, with per-node net injections
as symmetric generators; voltage-controlled generators (pandapower ``gen``: power-grid-model
has no PV node) as reactive injections found by an outer loop that holds their nodes at the
set point; violation counting. pandapower is the reference for this conversion in the tests;
here it runs only for the periods of a grid with generators that the outer loop cannot solve
(50-200 ms a period). Must not: know about markets.
"""

from __future__ import annotations

import copy
import os
import threading
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandapower.auxiliary import pandapowerNet
from power_grid_model import (
    CalculationMethod,
    ComponentType,
    DatasetType,
    LoadGenType,
    PowerGridModel,
    TapChangingStrategy,
    WindingType,
    initialize_array,
)
from power_grid_model.enum import BranchSide  # type: ignore[attr-defined]

from tsodso.grids.model import CoupledGrid
from tsodso.grids.topology import line_in_operation, trafo_in_operation

#: PV nodes are held within this of their set point (pu)
PV_TOL_PU = 1e-6
#: most outer rounds of the PV loop (each one batch solve); 3 to 6 are typical on case14
PV_MAX_ROUNDS = 30


def _pv_nodes(
    net: pandapowerNet, grid: CoupledGrid, source_nodes: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Nodes with an in-service voltage-controlled generator and their voltage set points
    (pu); generators at a source node leave the voltage to the source."""
    gen = net.get("gen", None)
    if gen is None or gen.empty:
        return np.zeros(0, dtype=int), np.zeros(0)
    on = gen[gen.in_service.astype(bool)]
    node = grid.bus_to_node.loc[on.bus].to_numpy()
    keep = ~np.isin(node, source_nodes)
    nodes, first = np.unique(node[keep], return_index=True)
    return nodes, on.vm_pu.to_numpy(dtype=float)[keep][first]


class AcCheckError(RuntimeError):
    """The AC power flow did not converge for some periods."""


@dataclass(frozen=True)
class AcResult:
    """Per-period AC power flow results and the violations they show."""

    vm_pu: np.ndarray  # (T, N) node voltage magnitudes
    branch_loading: np.ndarray  # (T, B) loading as a fraction of rating (lines, then trafos)
    branch_rating_mva: np.ndarray  # (B,)
    branch_is_distribution: np.ndarray  # (B,) bool
    node_vmin: np.ndarray
    node_vmax: np.ndarray
    node_is_distribution: np.ndarray
    dt_h: float
    converged: np.ndarray  # (T,) bool; results of unconverged periods are not counted
    #: (T, regulated transformers) tap position the automatic tap control chose (None
    #: where no transformer regulates); columns follow ``AcModel.regulated_trafos``
    tap_pos: np.ndarray | None = None
    tap_start: np.ndarray | None = None  # positions before the first period (day-ahead)
    # (B,) a distribution node each branch touches (its feeder's), -1 for transmission ones
    branch_d_node: np.ndarray | None = None

    def __post_init__(self) -> None:
        # a period whose power flow diverged says nothing about limits: blank it out (in
        # copies: the arrays handed in stay as they were)
        bad = ~self.converged
        if bad.any():
            vm, loading = self.vm_pu.copy(), self.branch_loading.copy()
            vm[bad] = np.nan
            loading[bad] = np.nan
            object.__setattr__(self, "vm_pu", vm)
            object.__setattr__(self, "branch_loading", loading)

    def overload_mwh(self, distribution: bool | None = None) -> float:
        """Energy above rating, sum over branches and periods (MVA taken as MW, pf ~ 1)."""
        over = np.nan_to_num(np.maximum(self.branch_loading - 1.0, 0.0)) * self.branch_rating_mva
        if distribution is not None:
            over = over[:, self.branch_is_distribution == distribution]
        return float(over.sum() * self.dt_h)

    def voltage_violations(self, distribution: bool | None = None) -> int:
        """Node-intervals outside the node's voltage band."""
        with np.errstate(invalid="ignore"):
            bad = (self.vm_pu < self.node_vmin - 1e-6) | (self.vm_pu > self.node_vmax + 1e-6)
        if distribution is not None:
            bad = bad[:, self.node_is_distribution == distribution]
        return int(bad.sum())

    def tap_changes(self) -> int:
        """Tap steps the on-load tap changers made over the window (from the day-ahead
        positions; a changer's wear and maintenance grow with its operations)."""
        if self.tap_pos is None or not self.tap_pos.size:
            return 0
        start = self.tap_start if self.tap_start is not None else self.tap_pos[0]
        pos = np.vstack([start[None, :], self.tap_pos])
        return int(np.abs(np.diff(pos, axis=0)).sum())

    def max_voltage_deviation_pu(self) -> float:
        up = np.nan_to_num(self.vm_pu - self.node_vmax, nan=0.0)
        dn = np.nan_to_num(self.node_vmin - self.vm_pu, nan=0.0)
        return float(max(up.max(initial=0.0), dn.max(initial=0.0)))


class AcModel:
    """The grid as a power-grid-model instance; call ``run`` with node injections."""

    def __init__(
        self,
        net: pandapowerNet,
        grid: CoupledGrid,
        dt_h: float = 0.25,
        regulate_taps: bool = True,
    ):
        self.grid = grid
        self.dt_h = dt_h
        n = grid.n_nodes
        node = initialize_array(DatasetType.input, ComponentType.node, n)
        node["id"] = np.arange(n)
        node["u_rated"] = grid.node_vn_kv * 1e3
        next_id = n
        b2n = grid.bus_to_node

        ln = net.line[line_in_operation(net)]
        lf = b2n.loc[ln.from_bus].to_numpy()
        lt = b2n.loc[ln.to_bus].to_numpy()
        keep = lf != lt
        ln, lf, lt = ln[keep], lf[keep], lt[keep]
        par = ln.parallel.to_numpy(dtype=float)
        line = initialize_array(DatasetType.input, ComponentType.line, len(ln))
        line["id"] = np.arange(next_id, next_id + len(ln))
        next_id += len(ln)
        line["from_node"], line["to_node"] = lf, lt
        line["from_status"], line["to_status"] = 1, 1
        length = ln.length_km.to_numpy(dtype=float)
        line["r1"] = ln.r_ohm_per_km.to_numpy() * length / par
        line["x1"] = ln.x_ohm_per_km.to_numpy() * length / par
        line["c1"] = ln.c_nf_per_km.to_numpy() * length * 1e-9 * par
        line["tan1"] = 0.0
        imax = ln.max_i_ka.to_numpy() * 1e3 * par * ln.df.to_numpy(dtype=float)
        line["i_n"] = imax
        self._line_rating = np.sqrt(3) * grid.node_vn_kv[lf] * imax / 1e3  # MVA

        tr = net.trafo[trafo_in_operation(net)]
        if (tr.parallel != 1).any():
            raise AcCheckError("parallel > 1 transformers are not supported by the AC check")
        th = b2n.loc[tr.hv_bus].to_numpy()
        tl = b2n.loc[tr.lv_bus].to_numpy()
        trafo = initialize_array(DatasetType.input, ComponentType.transformer, len(tr))
        trafo["id"] = np.arange(next_id, next_id + len(tr))
        next_id += len(tr)
        trafo["from_node"], trafo["to_node"] = th, tl
        trafo["from_status"], trafo["to_status"] = 1, 1
        trafo["u1"] = tr.vn_hv_kv.to_numpy() * 1e3
        trafo["u2"] = tr.vn_lv_kv.to_numpy() * 1e3
        sn = tr.sn_mva.to_numpy() * 1e6
        trafo["sn"] = sn
        trafo["uk"] = tr.vk_percent.to_numpy() / 100
        trafo["pk"] = tr.vkr_percent.to_numpy() / 100 * sn
        trafo["i0"] = tr.i0_percent.to_numpy() / 100
        trafo["p0"] = tr.pfe_kw.to_numpy() * 1e3
        clock = np.round(tr.shift_degree.fillna(0).to_numpy() / 30).astype(int) % 12
        trafo["clock"] = clock
        trafo["winding_from"] = WindingType.wye_n
        trafo["winding_to"] = np.where(clock % 2 == 1, WindingType.delta, WindingType.wye_n)
        hv_side = (tr.tap_side.fillna("hv") == "hv").to_numpy()
        trafo["tap_side"] = np.where(hv_side, 0, 1)
        trafo["tap_pos"] = tr.tap_pos.fillna(0).to_numpy()
        trafo["tap_min"] = tr.tap_min.fillna(0).to_numpy()
        trafo["tap_max"] = tr.tap_max.fillna(0).to_numpy()
        trafo["tap_nom"] = tr.tap_neutral.fillna(0).to_numpy()
        u_side = np.where(hv_side, tr.vn_hv_kv, tr.vn_lv_kv) * 1e3
        trafo["tap_size"] = tr.tap_step_percent.fillna(0).to_numpy() / 100 * u_side
        self._trafo_rating = sn / 1e6
        regulator = _tap_regulators(tr, trafo, next_id) if regulate_taps else None
        if regulator is not None:
            next_id += len(regulator)

        eg = net.ext_grid[net.ext_grid.in_service.astype(bool)]
        source = initialize_array(DatasetType.input, ComponentType.source, len(eg))
        source["id"] = np.arange(next_id, next_id + len(eg))
        next_id += len(eg)
        source["node"] = b2n.loc[eg.bus].to_numpy()
        source["status"] = 1
        source["u_ref"] = eg.vm_pu.to_numpy(dtype=float)
        source["u_ref_angle"] = np.deg2rad(eg.va_degree.to_numpy(dtype=float))
        source["sk"] = 1e15  # an ideal voltage source, like pandapower's ext_grid

        sh = net.shunt[net.shunt.in_service.astype(bool)] if "shunt" in net else None
        shunt = initialize_array(
            DatasetType.input, ComponentType.shunt, 0 if sh is None else len(sh)
        )
        if sh is not None and len(sh):
            # pandapower gives a shunt's consumption p + jq at its rated voltage (times its
            # step): admittance g - jb = (p + jq) / vn^2 in siemens (MW / kV^2)
            vn2 = sh.vn_kv.to_numpy(dtype=float) ** 2
            step = sh.step.to_numpy(dtype=float) if "step" in sh else 1.0
            shunt["id"] = np.arange(next_id, next_id + len(sh))
            next_id += len(sh)
            shunt["node"] = b2n.loc[sh.bus].to_numpy()
            shunt["status"] = 1
            shunt["g1"] = sh.p_mw.to_numpy(dtype=float) * step / vn2
            shunt["b1"] = -sh.q_mvar.to_numpy(dtype=float) * step / vn2

        gen = initialize_array(DatasetType.input, ComponentType.sym_gen, n)
        gen["id"] = np.arange(next_id, next_id + n)
        gen["node"] = np.arange(n)
        gen["status"] = 1
        gen["type"] = LoadGenType.const_power
        gen["p_specified"] = 0.0
        gen["q_specified"] = 0.0
        self._gen_ids = gen["id"].copy()
        data = {
            ComponentType.node: node,
            ComponentType.line: line,
            ComponentType.transformer: trafo,
            ComponentType.source: source,
            ComponentType.shunt: shunt,
            ComponentType.sym_gen: gen,
        }
        if regulator is not None and len(regulator):
            data[ComponentType.transformer_tap_regulator] = regulator
        #: whether on-load tap changers step in each period (automatic tap control)
        self.regulates_taps = regulator is not None and len(regulator) > 0
        # position among the transformers of each regulated one (ids ascend with position)
        reg_pos = (
            np.searchsorted(trafo["id"], regulator["regulated_object"])
            if regulator is not None
            else np.zeros(0, dtype=int)
        )
        self._regulated_ids = trafo["id"][reg_pos]
        self._tap_start = trafo["tap_pos"][reg_pos].astype(int)
        #: pandapower index of each regulated transformer (the columns of ``tap_pos``)
        self.regulated_trafos = tr.index.to_numpy()[reg_pos]
        self.model = PowerGridModel(
            {k: v for k, v in data.items() if len(v)},
            system_frequency=float(getattr(net, "f_hz", 50.0)),
        )
        is_d = grid.node_layer >= 0
        self._branch_is_d = np.concatenate([is_d[lf] | is_d[lt], is_d[tl]])
        self._branch_d_node = np.concatenate(
            [np.where(is_d[lf], lf, np.where(is_d[lt], lt, -1)), np.where(is_d[tl], tl, -1)]
        )
        #: pandapower element of each result branch: ("line" | "trafo", index)
        self.branch_kind = np.array(["line"] * len(ln) + ["trafo"] * len(tr))
        self.branch_element = np.concatenate([ln.index.to_numpy(), tr.index.to_numpy()])
        self._branch_ids = {
            ComponentType.line: line["id"].copy(),
            ComponentType.transformer: trafo["id"].copy(),
        }
        vmin = net.bus.min_vm_pu if "min_vm_pu" in net.bus else None
        vmax = net.bus.max_vm_pu if "max_vm_pu" in net.bus else None
        buses = grid.node_bus
        self.node_vmin = (
            vmin.loc[buses].fillna(0.9).to_numpy(float) if vmin is not None else np.full(n, 0.9)
        )
        self.node_vmax = (
            vmax.loc[buses].fillna(1.1).to_numpy(float) if vmax is not None else np.full(n, 1.1)
        )
        self.node_is_d = is_d
        self._pv_nodes, self._pv_set = _pv_nodes(net, grid, source["node"])
        self._pv_sens_inv = self._pv_sensitivity() if len(self._pv_nodes) else None
        self._net = net
        self._pp: tuple[pandapowerNet, np.ndarray] | None = None
        #: periods of the last ``run`` solved by pandapower's runpp (the PV loop's fallback)
        self.fallback_periods = 0
        self._lock = threading.Lock()

    def _pv_sensitivity(self, dq_mvar: float = 1.0) -> np.ndarray:
        """Inverse of dV/dQ at the PV nodes (pu per Mvar), by finite differences around the
        unloaded grid: one linear batch (no iteration noise in the differences) of as many
        periods as PV nodes, plus the base."""
        k, n = len(self._pv_nodes), self.grid.n_nodes
        q = np.zeros((n, k + 1))
        q[self._pv_nodes, np.arange(1, k + 1)] = dq_mvar
        res = self._batch(np.zeros((n, k + 1)), q, None, 1, linear=True)
        vm = res.vm_pu[:, self._pv_nodes]
        sens = (vm[1:] - vm[0]).T / dq_mvar  # sens[i, j]: dV_i / dQ_j
        return np.asarray(np.linalg.inv(sens))

    def _solve(
        self,
        update: dict[ComponentType, np.ndarray],
        method: CalculationMethod,
        threads: int,
        regulate: bool,
    ) -> tuple[dict[ComponentType, np.ndarray], np.ndarray]:
        """One batch power flow; returns the results and the periods that failed."""
        nr = method == CalculationMethod.newton_raphson
        out = self.model.calculate_power_flow(
            update_data=update,
            calculation_method=method,
            threading=threads,
            max_iterations=30 if nr else 100,
            # the iterative current method converges linearly: 1e-6 keeps voltages within
            # 2e-7 pu and loadings within 1e-6 of a 1e-10 Newton-Raphson solve (measured on
            # the default day) at 15 % less time
            error_tolerance=1e-8 if nr else 1e-6,
            continue_on_batch_error=True,
            tap_changing_strategy=(
                TapChangingStrategy.any_valid_tap if regulate else TapChangingStrategy.disabled
            ),
        )
        failure = self.model.batch_error
        failed = (
            np.asarray(failure.failed_scenarios, dtype=int)
            if failure is not None
            else np.zeros(0, dtype=int)
        )
        return out, failed

    def branch_index(self, kind: str, element: int) -> int:
        """Position of a pandapower line or transformer among the result branches."""
        hit = np.flatnonzero((self.branch_kind == kind) & (self.branch_element == element))
        if not len(hit):
            raise KeyError(f"{kind} {element} is not in operation in the AC model")
        return int(hit[0])

    def run(
        self,
        p_mw: np.ndarray,
        q_mvar: np.ndarray,
        threads: int = 0,
        out_of_service: np.ndarray | None = None,
        hold_taps: np.ndarray | None = None,
        start_taps: np.ndarray | None = None,
    ) -> AcResult:
        """AC power flow for every period; ``p_mw``, ``q_mvar`` are node injections (N, T).
        ``out_of_service`` (T, branches) marks branches that are open in a period
        (outages); their loading is reported as 0. ``threads``: 0 = every core.
        ``hold_taps`` (T, regulated transformers) holds the tap changers at these positions
        instead of letting them step (e.g. a forecast's positions, ``AcResult.tap_pos``);
        ``start_taps`` (same shape) lets them step from these positions instead of the
        day's starting ones (a tap changer stays where it is while its voltage is in band:
        started from the forecast's positions it moves only where the delivered state
        takes the voltage out of band).

        The batch is solved by power-grid-model's iterative current method, which factorises
        the admittance matrix once for the whole batch (twice as fast as Newton-Raphson here,
        voltages within 2e-7 pu); periods where it does not converge are solved again by
        Newton-Raphson.

        Nodes with voltage-controlled generators (PV nodes) get, on top of ``q_mvar``, the
        reactive injection that holds them at their set point: an outer loop of batch
        solves, each correcting those injections by the voltage error times an inverse
        dV/dQ sensitivity (that of the unloaded grid at first, improved per period by
        Broyden's update from the steps taken: a quasi-Newton method), until every
        PV node is within ``PV_TOL_PU`` (a period that does not get there in
        ``PV_MAX_ROUNDS`` is solved by pandapower's ``runpp``, which has PV buses, and
        counts as not converged only if that fails too). Reactive limits are not enforced, as
        in pandapower's ``runpp`` default and MATPOWER's ``runpf``."""
        with self._lock:  # one power-grid-model instance and fallback net, shared
            return self._run(p_mw, q_mvar, threads, out_of_service, hold_taps, start_taps)

    def _run(
        self,
        p_mw: np.ndarray,
        q_mvar: np.ndarray,
        threads: int,
        out_of_service: np.ndarray | None,
        hold_taps: np.ndarray | None,
        start_taps: np.ndarray | None,
    ) -> AcResult:
        inv = self._pv_sens_inv
        self.fallback_periods = 0
        if inv is None:
            return self._batch(
                p_mw, q_mvar, out_of_service, threads, hold_taps=hold_taps, start_taps=start_taps
            )
        pv = self._pv_nodes
        q = np.array(q_mvar, dtype=float, copy=True)
        T = q.shape[1]
        h = np.broadcast_to(inv, (T, *inv.shape)).copy()  # per-period inverse Jacobian
        step = prev = None
        for rnd in range(PV_MAX_ROUNDS):
            # the first round is linear: without their generators' reactive power, meshed
            # grids such as case118 have no power flow solution to start from
            res = self._batch(p_mw, q, out_of_service, threads, rnd == 0, hold_taps, start_taps)
            err = self._pv_set[None, :] - res.vm_pu[:, pv]  # (T, k)
            err = np.where(res.converged[:, None], np.nan_to_num(err), 0.0)
            if rnd and np.abs(err).max(initial=0.0) < PV_TOL_PU:
                break  # every period that converged holds its set points
            if rnd and not res.converged.any():
                break  # diverged everywhere: the fallback solves it
            if step is not None and prev is not None:
                # Broyden's good update of each period's inverse Jacobian (dQ per dV error)
                d_err = err - prev
                h_d = np.einsum("tij,tj->ti", h, d_err)
                s_h = np.einsum("ti,tij->tj", step, h)
                den = np.einsum("ti,ti->t", step, h_d)
                ok = np.abs(den) > 1e-12
                # err falls as q rises: h approximates -(d err / d q)^-1, hence the signs
                upd = np.einsum("ti,tj->tij", step + h_d, s_h)
                h[ok] -= upd[ok] / den[ok, None, None]
            step = np.einsum("tij,tj->ti", h, err)
            prev = err if rnd else None  # no secant across the linear first round
            q[pv] += step.T
        held = np.abs(np.nan_to_num(self._pv_set[None, :] - res.vm_pu[:, pv])).max(axis=1)
        bad = ~res.converged | (held >= PV_TOL_PU)
        return self._runpp_fallback(res, p_mw, q_mvar, np.flatnonzero(bad), out_of_service)

    def _pp_net(self) -> tuple[pandapowerNet, np.ndarray]:
        """The grid as pandapower solves it for the fallback: loads and static generators
        replaced by one static generator per node carrying the node's injection, the
        voltage-controlled generators at 0 MW (their power is in the injections) holding
        their set points. Built once."""
        import pandapower as pp

        if self._pp is None:
            net = copy.deepcopy(self._net)
            net.load.drop(net.load.index, inplace=True)
            net.sgen.drop(net.sgen.index, inplace=True)
            net.gen["p_mw"] = 0.0
            idx = [pp.create_sgen(net, int(b), p_mw=0.0) for b in self.grid.node_bus]
            self._pp = (net, np.asarray(idx))
        return self._pp

    def _pp_loading(self, net: pandapowerNet) -> np.ndarray:
        """Branch loadings from a pandapower result, as power-grid-model defines them: a
        line's larger end current over its rated current, a transformer's larger end
        apparent power over its rating."""
        is_line = self.branch_kind == "line"
        out = np.zeros(len(self.branch_kind))
        lines = self.branch_element[is_line]
        out[is_line] = net.res_line.loading_percent.loc[lines].to_numpy() / 100
        tr = self.branch_element[~is_line]
        r = net.res_trafo.loc[tr]
        s_hv = np.hypot(r.p_hv_mw.to_numpy(), r.q_hv_mvar.to_numpy())
        s_lv = np.hypot(r.p_lv_mw.to_numpy(), r.q_lv_mvar.to_numpy())
        out[~is_line] = np.maximum(s_hv, s_lv) / net.trafo.sn_mva.loc[tr].to_numpy()
        return np.nan_to_num(out)

    def _runpp_fallback(
        self,
        res: AcResult,
        p_mw: np.ndarray,
        q_mvar: np.ndarray,
        periods: np.ndarray,
        out_of_service: np.ndarray | None,
    ) -> AcResult:
        """Solve ``periods`` the PV loop did not get to by pandapower's ``runpp`` (PV buses,
        Newton-Raphson; about 50-80 ms a period), one period at a time; a period runpp cannot
        solve either stays not converged. Returns ``res`` with those periods filled in."""
        import pandapower as pp

        vm, loading = res.vm_pu.copy(), res.branch_loading.copy()
        converged = res.converged.copy()
        converged[periods] = False
        if len(periods):
            net, sgen = self._pp_net()
            for t in periods:
                net.sgen.loc[sgen, "p_mw"] = p_mw[:, t]
                net.sgen.loc[sgen, "q_mvar"] = q_mvar[:, t]
                on = (
                    ~out_of_service[t]
                    if out_of_service is not None
                    else np.ones(len(self.branch_kind), dtype=bool)
                )
                for kind in ("line", "trafo"):
                    mine = self.branch_kind == kind
                    net[kind].loc[self.branch_element[mine], "in_service"] = on[mine]
                try:
                    pp.runpp(net, calculate_voltage_angles=True, trafo_model="pi")
                except Exception:  # pandapower raises LoadflowNotConverged and others
                    continue
                vm[t] = net.res_bus.vm_pu.loc[self.grid.node_bus].to_numpy()
                loading[t] = self._pp_loading(net)
                converged[t] = True
        self.fallback_periods = int(converged[periods].sum())
        return AcResult(
            **{**res.__dict__, "vm_pu": vm, "branch_loading": loading, "converged": converged}
        )

    def _batch(
        self,
        p_mw: np.ndarray,
        q_mvar: np.ndarray,
        out_of_service: np.ndarray | None,
        threads: int,
        linear: bool = False,
        hold_taps: np.ndarray | None = None,
        start_taps: np.ndarray | None = None,
    ) -> AcResult:
        """One batch power flow with the injections as given (no PV control); ``linear``:
        power-grid-model's linear method (loads as impedances at 1 pu, no iterations)."""
        T = p_mw.shape[1]
        upd = initialize_array(DatasetType.update, ComponentType.sym_gen, (T, len(self._gen_ids)))
        upd["id"] = self._gen_ids
        upd["p_specified"] = p_mw.T * 1e6
        upd["q_specified"] = q_mvar.T * 1e6
        update = {ComponentType.sym_gen: upd}
        if out_of_service is not None and out_of_service.any():
            start = 0
            for comp, ids in self._branch_ids.items():
                closed = ~out_of_service[:, start : start + len(ids)]
                start += len(ids)
                if not len(ids):
                    continue
                b = initialize_array(DatasetType.update, comp, (T, len(ids)))
                b["id"] = ids
                b["from_status"] = closed
                b["to_status"] = closed
                update[comp] = b
        regulate = self.regulates_taps
        given = hold_taps if hold_taps is not None else start_taps
        if given is not None and self.regulates_taps:
            if given.shape != (T, len(self.regulated_trafos)):
                raise ValueError(
                    f"tap positions have shape {given.shape}, expected "
                    f"{(T, len(self.regulated_trafos))}"
                )
            comp = ComponentType.transformer
            if comp in update:  # outages: both updates in one array of every transformer
                full = update[comp]
                full["tap_pos"][:, np.searchsorted(full["id"][0], self._regulated_ids)] = given
            else:
                held = initialize_array(DatasetType.update, comp, (T, len(self._regulated_ids)))
                held["id"] = self._regulated_ids
                held["tap_pos"] = given
                update[comp] = held
            regulate = hold_taps is None  # started from ``start_taps``, the changers step
        threads = threads or (os.cpu_count() or 1)
        first = CalculationMethod.linear if linear else CalculationMethod.iterative_current
        # the linear method (the PV loop's first round) takes the taps as they are
        out, failed = self._solve(update, first, threads, regulate and not linear)
        if len(failed):  # Newton-Raphson for the periods the fast method could not solve
            again = {k: v[failed] for k, v in update.items()}
            out_nr, failed_nr = self._solve(
                again, CalculationMethod.newton_raphson, threads, regulate
            )
            for comp, arr in out_nr.items():
                out[comp][failed] = arr
            failed = failed[failed_nr] if len(failed_nr) else np.zeros(0, dtype=int)
        converged = np.ones(T, dtype=bool)
        converged[failed] = False
        parts = [
            out[k]["loading"] if k in out else np.zeros((T, 0))
            for k in (ComponentType.line, ComponentType.transformer)
        ]
        loading = np.hstack(parts)
        reg = out.get(ComponentType.transformer_tap_regulator) if regulate and not linear else None
        taps = hold_taps if not regulate and self.regulates_taps else None
        if reg is not None:
            taps = reg["tap_pos"]
        return AcResult(
            vm_pu=out[ComponentType.node]["u_pu"],
            branch_loading=loading,
            branch_rating_mva=np.concatenate([self._line_rating, self._trafo_rating]),
            branch_is_distribution=self._branch_is_d,
            node_vmin=self.node_vmin,
            node_vmax=self.node_vmax,
            node_is_distribution=self.node_is_d,
            dt_h=self.dt_h,
            converged=converged,
            tap_pos=None if taps is None else np.asarray(taps).astype(int),
            tap_start=None if taps is None else self._tap_start,
            branch_d_node=self._branch_d_node,
        )


#: total width of an on-load tap changer's voltage band, in tap steps. Assumption: a
#: relay's bandwidth is set wider than one step so that a step cannot jump across the
#: band (hunting) and narrow enough to hold the voltage; 1.5 steps sits in the range
#: utilities use (pandapower's DiscreteTapControl examples and simbench leave it open)
OLTC_BAND_STEPS = 1.5

HV_LV = ("hv", "lv")


def _tap_regulators(tr: pd.DataFrame, trafo: np.ndarray, first_id: int) -> np.ndarray | None:
    """Automatic tap control of every transformer simbench marks ``autoTap`` (its
    ``autoTapSide`` held at ``autoTapSetp``), as power-grid-model regulators; None when the
    grid says nothing about automatic taps (pandapower cases: taps stay where they are)."""
    if "autoTap" not in tr:
        return None
    auto = pd.to_numeric(tr.autoTap, errors="coerce").fillna(0).to_numpy() > 0
    step = tr.tap_step_percent.fillna(0).to_numpy(float) / 100
    auto &= step > 0
    k = np.flatnonzero(auto)
    reg = initialize_array(DatasetType.input, ComponentType.transformer_tap_regulator, len(k))
    if not len(k):
        return reg
    side = (
        tr.autoTapSide.fillna("lv").astype(str).str.lower().to_numpy()[k]
        if "autoTapSide" in tr
        else np.full(len(k), "lv")
    )
    odd = [f"{i} ({v!r})" for i, v in zip(tr.index[k], side, strict=True) if v not in HV_LV]
    if odd:
        raise AcCheckError(
            "automatic tap control: autoTapSide must be 'hv' or 'lv'; transformers "
            + ", ".join(odd)
        )
    setp = (
        pd.to_numeric(tr.autoTapSetp, errors="coerce").fillna(1.0).to_numpy(float)[k]
        if "autoTapSetp" in tr
        else np.ones(len(k))
    )
    u_side = np.where(side == "hv", trafo["u1"][k], trafo["u2"][k])
    reg["id"] = np.arange(first_id, first_id + len(k))
    reg["regulated_object"] = trafo["id"][k]
    reg["status"] = 1
    reg["control_side"] = np.where(side == "hv", BranchSide.from_side, BranchSide.to_side)
    reg["u_set"] = setp * u_side
    reg["u_band"] = OLTC_BAND_STEPS * step[k] * u_side
    reg["line_drop_compensation_r"] = 0.0
    reg["line_drop_compensation_x"] = 0.0
    return reg
