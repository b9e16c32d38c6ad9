"""What a coordination model hands back, and the pieces every family shares: the market
context, per-step records, pricing of accepted bids, and the standard actor messages.

Owns: ``MarketContext``, ``ModelOutcome`` and helpers used by several families.
Must not: run the AC check or compute KPIs (pipeline and kpi do).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from tsodso.clearing.lp import Status
from tsodso.clearing.market import (
    Clearing,
    MarketSpec,
    clear_market,
    merge_clearings,
    split_by_feeder,
)
from tsodso.coordination.areas import map_areas
from tsodso.coordination.mechanism import Mechanism
from tsodso.exchange.messages import DSO, TSO, MessageLog
from tsodso.scenario.domain import BidTable, Scenario


def _spec_key(scn: Scenario, spec: MarketSpec) -> str:
    h = hashlib.sha256()
    b = spec.bids
    for a in (b.der, b.direction, b.period, b.q_max_mw, b.price_eur_per_mwh):
        h.update(np.ascontiguousarray(a).tobytes())
    h.update(
        repr(
            (
                spec.balance,
                spec.transmission,
                spec.feeders,
                spec.voltage,
                spec.d_thermal,
                spec.time_limit_s,
                scn.config.digest(),
            )
        ).encode()
    )
    for extra in (spec.base_delta_mw, spec.imbalance_mw, spec.t_rating_factor):
        h.update(b"-" if extra is None else np.ascontiguousarray(extra).tobytes())
    for k in sorted(spec.tdi_schedule_mw):
        h.update(str(k).encode() + np.ascontiguousarray(spec.tdi_schedule_mw[k]).tobytes())
    return h.hexdigest()


@dataclass(frozen=True)
class MarketContext:
    """A scenario plus what the operators forecast before any market: root voltages of
    each feeder per period from the baseline AC power flow, the offset that calibrates
    each DSO's LinDistFlow model to that AC forecast (exact at the baseline), and the
    factor that turns the TSO's AC ratings into DC flow limits at that forecast."""

    scn: Scenario
    root_vm_pu: np.ndarray  # (n_feeders, T)
    v2_offset: tuple[np.ndarray, ...]  # per feeder (n, T): AC minus LinDistFlow at forecast
    t_rating_factor: np.ndarray | None = None  # (n_branch, T): DC flow / AC MVA at forecast
    time_limit_s: float = 300.0
    cache: dict[str, Clearing] = field(default_factory=dict, compare=False, repr=False)

    def spec(self, bids: BidTable, mech: Mechanism, **kw: object) -> MarketSpec:
        """A MarketSpec for ``bids`` with the needs of ``mech`` unless overridden."""
        needs = set(mech.needs)
        base: dict[str, object] = {
            "bids": bids,
            "balance": "balancing" in needs,
            "transmission": "t_congestion" in needs,
            "feeders": (),
            "voltage": "voltage" in needs,
            "d_thermal": "d_congestion" in needs,
            "root_vm_pu": self.root_vm_pu,
            "v2_offset": self.v2_offset,
            "t_rating_factor": self.t_rating_factor,
            "time_limit_s": self.time_limit_s,
        }
        base.update(kw)
        return MarketSpec(**base)  # type: ignore[arg-type]

    def dso_spec(self, bids: BidTable, mech: Mechanism, **kw: object) -> MarketSpec:
        """A DSO-side clearing: distribution needs only (no balance, no DC lines), every
        feeder modelled unless ``feeders`` says otherwise."""
        base: dict[str, object] = {
            "feeders": self.all_feeders,
            "balance": False,
            "transmission": False,
        }
        return self.spec(bids, mech, **{**base, **kw})

    def clear(self, spec: MarketSpec, scn: Scenario | None = None) -> Clearing:
        """Clear ``spec`` on ``scn`` (default: this context's scenario), reusing the result
        of an identical clearing run earlier on this context (many presets share one)."""
        scn = scn or self.scn
        key = _spec_key(scn, spec)
        hit = self.cache.get(key)
        if hit is None:
            parts = split_by_feeder(scn, spec)
            if len(parts) == 1:
                hit = clear_market(scn, spec)
            else:  # separate feeders: one LP each, on parallel threads
                cleared = map_areas(lambda p: clear_market(scn, p[1]), parts)
                hit = merge_clearings(
                    scn, spec.bids, [(p[0], c) for p, c in zip(parts, cleared, strict=True)]
                )
            self.cache[key] = hit
        return hit

    @property
    def all_feeders(self) -> tuple[int, ...]:
        return tuple(range(len(self.scn.grid.feeders)))


@dataclass(frozen=True)
class StepRecord:
    """One clearing inside a model run."""

    name: str
    operator: str
    status: str
    objective_eur: float
    n_variables: int
    n_constraints: int
    nnz: int
    build_s: float
    solve_s: float

    @classmethod
    def of(cls, name: str, operator: str, c: Clearing) -> StepRecord:
        return cls(
            name,
            operator,
            str(c.status),
            c.objective_eur,
            c.n_variables,
            c.n_constraints,
            c.nnz,
            c.build_s,
            c.solve_s,
        )


@dataclass(frozen=True)
class Purchase:
    """Flexibility one operator bought in one step of a model, per scenario bid: who pays
    the providers for it, and what (as ordered, at the model's pricing rule)."""

    buyer: str  # TSO | DSO | MO (the platform or market operator)
    step: str
    accepted_mw: np.ndarray  # per bid of scn.bids
    payments_eur: np.ndarray  # per bid of scn.bids

    @property
    def cost_eur(self) -> float:
        return float(self.payments_eur.sum())


@dataclass(frozen=True)
class Transfer:
    """Money between operators implied by the model's ``d_path``: the TSO paying a DSO for
    an interface exchange (curves, agreed interface prices), or a platform billing an SO its
    share (``share`` is then the fraction of everything the payee bought that the payer
    owes: settlement applies it to the delivered amounts). ``eur`` is the amount as ordered;
    negative amounts flow the other way."""

    payer: str
    payee: str
    reason: str
    eur: float
    share: float | None = None


@dataclass(frozen=True)
class ModelOutcome:
    """What a model bought (per buyer and step), the money it moves between operators, and
    how it was reached. Totals per bid and each operator's cost are derived from these."""

    status: Status
    purchases: tuple[Purchase, ...]
    unmet_imbalance_mw: np.ndarray  # (T,)
    messages: MessageLog
    steps: tuple[StepRecord, ...]
    transfers: tuple[Transfer, ...] = ()
    iterations: int = 1
    discarded_mwh: float = 0.0  # offered but made unusable by filters, DOEs or rules
    extra_kpis: dict[str, float] = field(default_factory=dict)  # e.g. DOE hosting, fairness
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not self.purchases:
            raise ValueError("a model outcome needs at least one purchase (zeros if none)")

    @property
    def accepted_mw(self) -> np.ndarray:
        """Accepted quantity per scenario bid, all buyers together."""
        out: np.ndarray = sum(p.accepted_mw for p in self.purchases)  # type: ignore[assignment]
        return out

    @property
    def payments_eur(self) -> np.ndarray:
        """What each scenario bid's provider is paid, all buyers together."""
        out: np.ndarray = sum(p.payments_eur for p in self.purchases)  # type: ignore[assignment]
        return out

    @property
    def procurement_cost_eur(self) -> float:
        return float(self.payments_eur.sum())

    def cost_of(self, party: str) -> float:
        """What ``party`` pays in the end, as ordered: its purchases plus the transfers it
        pays minus those it receives (a platform that bills everything nets to zero)."""
        own = sum(p.cost_eur for p in self.purchases if p.buyer == party)
        paid = sum(t.eur for t in self.transfers if t.payer == party)
        received = sum(t.eur for t in self.transfers if t.payee == party)
        return float(own + paid - received)

    @property
    def tso_cost_eur(self) -> float:
        return self.cost_of(TSO)

    @property
    def dso_cost_eur(self) -> float:
        return self.cost_of(DSO)


def platform_bills(
    buyer: str, total_eur: float, shares_eur: dict[str, float]
) -> tuple[Transfer, ...]:
    """A buyer acting for others (platform, market operator) bills each party its share of
    everything it bought; ``shares_eur`` are the amounts as ordered."""
    return tuple(
        Transfer(party, buyer, "bill", eur, eur / total_eur if total_eur else 0.0)
        for party, eur in shares_eur.items()
        if party != buyer
    )


def worst_status(*statuses: Status) -> Status:
    order = [Status.ERROR, Status.INFEASIBLE, Status.UNBOUNDED, Status.TIME_LIMIT]
    for s in order:
        if s in statuses:
            return s
    return Status.OPTIMAL


def scatter(n: int, index: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Values of a sub-table (rows ``index`` of a table of ``n``) back onto the full table."""
    out = np.zeros(n)
    out[index] += values
    return out


def delta_mw(scn: Scenario, accepted_mw: np.ndarray) -> np.ndarray:
    """Signed injection change per node and period (N, T) of accepted scenario bids."""
    d = np.zeros((scn.grid.n_nodes, scn.periods))
    b = scn.bids
    np.add.at(d, (b.node, b.period), b.direction * accepted_mw)
    return d


def distribution_bids(scn: Scenario) -> np.ndarray:
    """Mask of scenario bids from DERs inside a distribution feeder."""
    return scn.grid.node_layer[scn.bids.node] >= 0


def payments(c: Clearing, pricing: str) -> np.ndarray:
    """What each bid of ``c.bids`` is paid (EUR) under a pricing rule.

    pay_as_bid: own price; pay_as_clear: the highest accepted price of the same direction
    and period; nodal: the LMP/DLMP of its node times its signed quantity."""
    b, q, dt = c.bids, c.accepted_mw, c.dt_h
    if pricing == "pay_as_bid":
        return q * b.price_eur_per_mwh * dt
    if pricing == "pay_as_clear":
        acc = q > 1e-6
        key = (b.direction > 0).astype(int) * 100000 + b.period
        clear = np.zeros(len(b))
        for k in np.unique(key[acc]):
            m = key == k
            clear[m] = b.price_eur_per_mwh[m & acc].max()
        return q * clear * dt
    if pricing == "nodal":
        lmp = c.node_price_eur_per_mwh[b.node, b.period]
        return np.nan_to_num(q * b.direction * lmp * dt)
    raise ValueError(f"unknown pricing {pricing!r}")


def send_bids(log: MessageLog, step: str, scn: Scenario, bids: BidTable, receiver: str) -> None:
    """Each aggregator sends its bids for the day to ``receiver`` in one message."""
    for a in np.unique(bids.aggregator):
        m = bids.aggregator == a
        log.send(
            step,
            scn.aggregator_names[a],
            receiver,
            "bids",
            {
                "der": scn.ders.id[bids.der[m]],
                "direction": bids.direction[m],
                "period": bids.period[m],
                "q_max_mw": bids.q_max_mw[m],
                "price": bids.price_eur_per_mwh[m],
            },
        )


def send_activations(
    log: MessageLog, step: str, scn: Scenario, bids: BidTable, accepted: np.ndarray, sender: str
) -> None:
    """Per period, the operator sends each aggregator its accepted quantities."""
    acc = accepted > 1e-6
    for t in np.unique(bids.period[acc]):
        for a in np.unique(bids.aggregator[acc & (bids.period == t)]):
            m = acc & (bids.period == t) & (bids.aggregator == a)
            log.send(
                step,
                sender,
                scn.aggregator_names[a],
                "activation",
                {
                    "der": scn.ders.id[bids.der[m]],
                    "direction": bids.direction[m],
                    "q_mw": accepted[m],
                },
                period=int(t),
            )


def send_schedules(
    log: MessageLog, step: str, scn: Scenario, schedules: dict[int, np.ndarray]
) -> None:
    """The TSO sends each DSO the TDI import it must hold, per feeder."""
    for fpos, imp in schedules.items():
        log.send(
            step,
            TSO,
            DSO,
            "interface_schedule",
            {"feeder": scn.grid.feeders[fpos].id, "import_mw": imp},
        )


def feeder_model_payload(scn: Scenario, fpos: int) -> dict[str, np.ndarray]:
    """The distribution network data a DSO shares for one feeder."""
    f = scn.grid.feeders[fpos]
    return {
        "node": scn.grid.node_bus[f.nodes],
        "parent": f.parent,
        "r_pu": f.r_pu,
        "x_pu": f.x_pu,
        "rating_mva": np.where(np.isfinite(f.rating_mva), f.rating_mva, -1.0),
        "vmin": f.vmin_pu,
        "vmax": f.vmax_pu,
        "p_forecast_mw": scn.node_p0_mw[f.nodes],
    }
