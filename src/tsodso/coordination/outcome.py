"""What a coordination model hands back: what each buyer bought in each step, the money
it moves between operators, the clearings it took and what the actors exchanged
(``protocol``), from which ``exchange`` builds the message log.

Owns: ``ModelOutcome`` and its records. Must not: clear markets, build messages, run the AC
check or compute KPIs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from tsodso.clearing.lp import Status
from tsodso.clearing.market import Clearing
from tsodso.coordination.protocol import Exchange
from tsodso.schema.actors import TSO, is_dso


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

    buyer: str  # TSO | a DSO (DSO, DSO-x) | MO (the platform or market operator)
    step: str
    accepted_mw: np.ndarray  # per bid of scn.bids
    payments_eur: np.ndarray  # per bid of scn.bids

    @property
    def cost_eur(self) -> float:
        return float(self.payments_eur.sum())


@dataclass(frozen=True)
class ReactivePurchase:
    """Reactive power one DSO bought in one step, per reactive offer of the scenario
    (``Scenario.reactive``): MVAr (+ injection, - absorption) and what the DSO pays the
    providers for it (each offer's price per MVArh either way, pay-as-bid)."""

    buyer: str
    step: str
    q_mvar: np.ndarray
    payments_eur: np.ndarray

    @property
    def cost_eur(self) -> float:
        return float(self.payments_eur.sum())


@dataclass(frozen=True)
class Reservation:
    """Flexibility capacity one buyer reserved day-ahead, per scenario bid (an option it
    may activate in real time at the bid's energy price), and the availability payment it
    owes the provider for it (``operation.stages``, ``stages = 'reserve_rt'``)."""

    buyer: str
    step: str
    reserved_mw: np.ndarray  # per bid of scn.bids
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
    exchanges: tuple[Exchange, ...]  # what the actors sent each other, in order
    steps: tuple[StepRecord, ...]
    transfers: tuple[Transfer, ...] = ()
    iterations: int = 1
    discarded_mwh: float = 0.0  # offered but made unusable by filters, DOEs or rules
    extra_kpis: dict[str, float] = field(default_factory=dict)  # e.g. DOE hosting, fairness
    notes: tuple[str, ...] = field(default_factory=tuple)
    # a real-time stage bought for the realised baselines (``operation.stages``): the
    # DERs' forecast error was part of the need the markets were asked to meet
    real_time: bool = False
    # reactive power the DSOs bought (models whose ``reactive`` dimension is 'dso')
    reactive: tuple[ReactivePurchase, ...] = ()
    # capacity reserved day-ahead (``stages = 'reserve_rt'``): paid for whether activated
    reservations: tuple[Reservation, ...] = ()

    def __post_init__(self) -> None:
        if not self.purchases:
            raise ValueError("a model outcome needs at least one purchase (zeros if none)")

    @property
    def has_solution(self) -> bool:
        """Whether the model reached a solution: its optimum, or a feasible point within the
        time limit, in every clearing (a model that ended in error has none). Without one,
        what it bought is not a result: its figures are reported as missing, never as
        zeros."""
        solved = self.status in (Status.OPTIMAL, Status.TIME_LIMIT)
        return solved and all(math.isfinite(s.objective_eur) for s in self.steps)

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
        """Active and reactive power bought and capacity reserved, as ordered."""
        return float(self.payments_eur.sum()) + self.reactive_cost_eur + self.reservation_cost_eur

    @property
    def reservation_cost_eur(self) -> float:
        """What the buyers pay for the capacity they reserved."""
        return float(sum(r.cost_eur for r in self.reservations))

    @property
    def reserved_mw(self) -> np.ndarray | None:
        """Capacity reserved per scenario bid, every buyer together; None without any."""
        if not self.reservations:
            return None
        out: np.ndarray = sum(r.reserved_mw for r in self.reservations)  # type: ignore[assignment]
        return out

    @property
    def reactive_mvar(self) -> np.ndarray:
        """Reactive power bought per scenario reactive offer, every DSO together (MVAr)."""
        if not self.reactive:
            return np.zeros(0)
        out: np.ndarray = sum(r.q_mvar for r in self.reactive)  # type: ignore[assignment]
        return out

    @property
    def reactive_cost_eur(self) -> float:
        """What the DSOs pay for reactive power, as ordered."""
        return float(sum(r.cost_eur for r in self.reactive))

    def cost_of_purchases(self, buyer: str) -> float:
        """What ``buyer`` bought, as ordered (before any transfer)."""
        return float(sum(p.cost_eur for p in self.purchases if p.buyer == buyer))

    def cost_of(self, party: str) -> float:
        """What ``party`` pays in the end, as ordered: its purchases plus the transfers it
        pays minus those it receives (a platform that bills everything nets to zero)."""
        own = sum(p.cost_eur for p in self.purchases if p.buyer == party)
        own += sum(r.cost_eur for r in self.reactive if r.buyer == party)
        own += sum(r.cost_eur for r in self.reservations if r.buyer == party)
        paid = sum(t.eur for t in self.transfers if t.payer == party)
        received = sum(t.eur for t in self.transfers if t.payee == party)
        return float(own + paid - received)

    @property
    def tso_cost_eur(self) -> float:
        return self.cost_of(TSO)

    @property
    def dso_cost_eur(self) -> float:
        """What every DSO pays together."""
        return float(sum(self.cost_of(p) for p in self.dso_names))

    @property
    def dso_names(self) -> tuple[str, ...]:
        """The DSOs that buy, pay or are paid in this outcome, in order of appearance."""
        seen = [p.buyer for p in self.purchases] + [r.buyer for r in self.reactive]
        for t in self.transfers:
            seen += [t.payer, t.payee]
        return tuple(dict.fromkeys(p for p in seen if is_dso(p)))


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
