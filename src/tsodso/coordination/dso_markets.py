"""The distribution side of a model run when a scenario has several DSOs: who clears each
DSO area's market, who pays, and who receives which message.

With ``dso_markets = per_dso`` every DSO (or the independent DSO of its area) clears its
own market: the bids of its feeders go to it, it activates them, it pays for them, and a
uniform (pay-as-clear) price is set per DSO market. With ``one_platform`` one platform
clears the distribution side of every DSO at once (the market operator, or one
independent DSO where the model has one): each DSO sends it its feeders' models, there is
one uniform price, and the platform bills each DSO what it bought in its area. A scenario
with a single DSO has no difference: that DSO clears its own market, as before several
DSOs existed. Clearing quantities do not depend on this where the DSO-side problem has no
row joining feeders (each feeder's limits involve only its own bids); where it has one
(an energy-neutral correction step) each DSO market keeps its own area neutral.

Owns: ``DistributionSide`` and ``distribution_side`` (which replaces a single "DSO"
everywhere a family names the distribution operator). Must not: clear markets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from tsodso.coordination.context import MarketContext
from tsodso.coordination.outcome import Purchase, ReactivePurchase, Transfer
from tsodso.coordination.protocol import Protocol
from tsodso.grids.dso_areas import DsoAreas
from tsodso.scenario.domain import Scenario
from tsodso.schema.actors import IDSO, MO
from tsodso.schema.mechanism import Mechanism
from tsodso.schema.tables import BidTable


@dataclass(frozen=True)
class DistributionSide:
    """Who clears the distribution markets of one model run, per DSO area.

    ``operators[k]`` clears the market of DSO area ``k`` (the DSO itself, its area's
    independent DSO, or the one platform shared by every area); ``per_dso`` says whether
    each area is a market of its own."""

    scn: Scenario
    operators: tuple[str, ...]
    per_dso: bool

    @property
    def areas(self) -> DsoAreas:
        """The scenario's DSO areas."""
        return self.scn.dsos

    @property
    def label(self) -> str:
        """The clearing operator(s) as one name for step records."""
        ops = sorted(set(self.operators))
        if len(ops) == 1:
            return ops[0]
        return "IDSOs" if all(o.startswith(IDSO) for o in ops) else "DSOs"

    def operator_of_feeder(self, fpos: int) -> str:
        """Who clears the market of feeder position ``fpos``'s area."""
        return self.operators[int(self.areas.feeder_area[fpos])]

    def bid_area(self, bids: BidTable) -> np.ndarray:
        """DSO area of each bid (-1 for a transmission bid)."""
        return np.asarray(self.areas.node_area(self.scn.grid)[bids.node])

    def market(self, bids: BidTable) -> np.ndarray | None:
        """The market of each bid for uniform pricing: its DSO area when each DSO clears its
        own, else one market (None)."""
        return self.bid_area(bids) if self.per_dso and self.areas.n > 1 else None

    def groups(self, bids: BidTable) -> list[tuple[str, np.ndarray]]:
        """(operator, mask of ``bids``) for each operator that clears some of ``bids``."""
        area = self.bid_area(bids)
        out: list[tuple[str, np.ndarray]] = []
        for op in dict.fromkeys(self.operators):
            ks = [k for k, o in enumerate(self.operators) if o == op]
            out.append((op, np.isin(area, ks)))
        return out

    def send_bids(self, proto: Protocol, step: str, bids: BidTable) -> None:
        """Aggregators offer each distribution operator the bids in its areas."""
        if len(set(self.operators)) == 1:
            proto.bids(step, bids, self.operators[0])
            return
        for op, m in self.groups(bids):
            if m.any():
                proto.bids(step, bids.subset(np.flatnonzero(m)), op)

    def send_activations(
        self, proto: Protocol, step: str, bids: BidTable, accepted_mw: np.ndarray
    ) -> None:
        """Each distribution operator activates what it bought of ``bids`` in its areas."""
        if len(set(self.operators)) == 1:
            proto.activations(step, bids, accepted_mw, self.operators[0])
            return
        for op, m in self.groups(bids):
            if m.any():
                idx = np.flatnonzero(m)
                proto.activations(step, bids.subset(idx), accepted_mw[idx], op)

    def send_schedules(
        self, proto: Protocol, step: str, import_mw: Mapping[int, np.ndarray], sender: str
    ) -> None:
        """``sender`` gives each distribution operator the TDI schedules of its feeders."""
        for op in dict.fromkeys(self.operators):
            mine = {f: v for f, v in import_mw.items() if self.operator_of_feeder(f) == op}
            if mine:
                proto.schedules(step, mine, sender, op)

    def purchases(
        self,
        step: str,
        accepted_mw: np.ndarray,
        payments_eur: np.ndarray,
    ) -> tuple[Purchase, ...]:
        """One purchase per DSO: what was bought in its area (per scenario bid), which it
        pays (to its own market, or as the platform's bill for its area). Nothing may be
        bought outside every DSO area (never dropped: a ValueError names the step)."""
        area = self.bid_area(self.scn.bids)
        out = [
            Purchase(
                name,
                step,
                np.where(area == k, accepted_mw, 0.0),
                np.where(area == k, payments_eur, 0.0),
            )
            for k, name in enumerate(self.areas.names)
        ]
        beyond = area < 0
        if (np.abs(accepted_mw[beyond]) > 0).any() or (np.abs(payments_eur[beyond]) > 0).any():
            raise ValueError(f"{step}: a DSO purchase outside every DSO area")
        return tuple(out)

    def reactive_purchases(
        self, proto: Protocol, step: str, q_mvar: np.ndarray
    ) -> tuple[ReactivePurchase, ...]:
        """One reactive purchase per DSO: what was bought (``q_mvar`` per scenario reactive
        offer) in its area, at each offer's price per MVArh (pay-as-bid: the ORPS-like
        utilisation price of ``scenario.reactive``); each distribution operator sends the
        aggregators the reactive set-points it bought. Empty where nothing was offered."""
        r = self.scn.reactive
        if r is None or not len(q_mvar):
            return ()
        area = np.asarray(self.areas.node_area(self.scn.grid)[r.node])
        pay = np.abs(q_mvar) * r.price_eur_per_mvarh * self.scn.dt_h
        bought = np.abs(q_mvar) > 0
        for op, ks in self._operator_areas():
            for a in np.unique(r.aggregator):
                m = bought & np.isin(area, ks) & (r.aggregator == a)
                if m.any():
                    proto.data(
                        step,
                        op,
                        self.scn.aggregator_names[a],
                        "reactive_activations",
                        {
                            "der": self.scn.ders.id[r.der[m]],
                            "period": r.period[m],
                            "q_mvar": q_mvar[m],
                        },
                    )
        return tuple(
            ReactivePurchase(
                name,
                step,
                np.where(area == k, q_mvar, 0.0),
                np.where(area == k, pay, 0.0),
            )
            for k, name in enumerate(self.areas.names)
        )

    def send_reactive_offers(self, proto: Protocol, step: str) -> None:
        """Aggregators offer each distribution operator the reactive power of their DERs in
        its areas (one message per aggregator and operator)."""
        r = self.scn.reactive
        if r is None:
            return
        area = np.asarray(self.areas.node_area(self.scn.grid)[r.node])
        for op, ks in self._operator_areas():
            for a in np.unique(r.aggregator):
                m = np.isin(area, ks) & (r.aggregator == a)
                if m.any():
                    proto.data(
                        step,
                        self.scn.aggregator_names[a],
                        op,
                        "reactive_offers",
                        {
                            "der": self.scn.ders.id[r.der[m]],
                            "period": r.period[m],
                            "q_max_mvar": r.q_max_mvar[m],
                            "price": r.price_eur_per_mvarh[m],
                        },
                    )

    def _operator_areas(self) -> list[tuple[str, list[int]]]:
        return [
            (op, [k for k, o in enumerate(self.operators) if o == op])
            for op in dict.fromkeys(self.operators)
        ]

    def transfers(
        self, payer_is_dso: bool, other: str, reason: str, eur_by_feeder: Mapping[int, float]
    ) -> tuple[Transfer, ...]:
        """Per-DSO transfers with ``other`` (the TSO) from amounts per feeder position:
        each DSO pays (``payer_is_dso``) or receives the sum over its feeders."""
        by_dso = dict.fromkeys(self.areas.names, 0.0)
        for f, eur in eur_by_feeder.items():
            by_dso[self.areas.of_feeder(f)] += float(eur)
        return tuple(
            Transfer(name, other, reason, eur)
            if payer_is_dso
            else Transfer(other, name, reason, eur)
            for name, eur in by_dso.items()
        )


def distribution_side(ctx: MarketContext, mech: Mechanism, proto: Protocol) -> DistributionSide:
    """Who runs the distribution markets of ``mech`` on ``ctx``'s scenario, with the
    exchanges that setting them up takes:

    - the DSOs themselves (each its own market, or the only DSO);
    - with ``operator = idso``, an independent DSO per area (``IDSO-x`` for ``DSO-x``; one
      platform: a single ``IDSO``), an actor separate from the grid's owner: the DSO hands
      it every feeder's model and operational status, the exchange the sources name as
      the IDSO's cost;
    - with ``dso_markets = one_platform`` and several DSOs (no IDSO), the market operator's
      platform (``MO``), to which each DSO sends its feeders' models."""
    scn = ctx.scn
    areas = scn.dsos
    per_dso = mech.dso_markets == "per_dso" or areas.n == 1
    if mech.operator == "idso":
        idsos = areas.idso_names() if per_dso else (IDSO,) * areas.n
        for fpos in ctx.all_feeders:
            dso, idso = areas.of_feeder(fpos), idsos[int(areas.feeder_area[fpos])]
            proto.network_model("idso handover", dso, idso, fpos)
            proto.data(
                "idso handover",
                dso,
                idso,
                "network_status",
                {
                    "feeder": scn.grid.feeders[fpos].id,
                    "root_vm_pu": ctx.forecast.root_vm_pu[fpos],
                    "v2_offset": ctx.forecast.v2_offset[fpos],
                },
            )
        return DistributionSide(scn, idsos, per_dso)
    if per_dso:
        return DistributionSide(scn, areas.names, True)
    for fpos in ctx.all_feeders:
        proto.network_model("platform handover", areas.of_feeder(fpos), MO, fpos)
    return DistributionSide(scn, (MO,) * areas.n, False)
