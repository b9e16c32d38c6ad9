"""Imbalance settlement of the balance responsible parties (issue 14, item 1): each BRP
(one per aggregator's portfolio, ``Scenario.brp_names``) is settled with the TSO for what
its portfolio's metered injection deviates from its wholesale position.

- Position: the portfolio's nominated schedules (``DerTable.p_base_mw``: the wholesale
  stage's, ``scenario.wholesale``), corrected for the flexibility the system operators
  activated (perimeter correction: an SO's activation moves the BRP's position with it, so a
  BRP is not charged for following an SO's order; what the unit did not deliver of it stays
  the BRP's imbalance, besides the flexibility contract's penalty).
- Imbalance price (dual pricing, an assumption: EB GL (Regulation (EU) 2017/2195) Art. 52
  and ACER's harmonisation of 2020 prefer a single price, dual pricing remains allowed): a
  short BRP pays the period's wholesale price plus ``wholesale.imbalance_spread_eur_per_mwh``
  per MWh, a long one is paid the price minus the spread.

Only a scenario with a wholesale stage has positions to settle against. Owns: the BRPs'
imbalance volumes and their ledger rows. Must not: post flexibility payments
(``settlement.settle``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tsodso.dispatch.stacking import by_der
from tsodso.scenario.domain import Scenario
from tsodso.schema.actors import TSO
from tsodso.settlement.ledger import to_cents

KIND = "imbalance"


@dataclass(frozen=True)
class Imbalance:
    """Each BRP's imbalance (A, T; MW, + = long: it injected more than its position)."""

    mw: np.ndarray
    rows: list[tuple[str, str, str, int]]

    def mwh(self, dt_h: float) -> float:
        """Absolute imbalance energy of every BRP together."""
        return float(np.abs(self.mw).sum() * dt_h)


def brp_imbalance(scn: Scenario, standing_mw: np.ndarray, metered_mw: np.ndarray) -> Imbalance:
    """The BRPs' imbalances given the standing activations (per bid, MW) and the metered
    output (D, T), and the ledger rows that settle them with the TSO; none without a
    wholesale stage."""
    n = len(scn.aggregator_names)
    if scn.wholesale is None:
        return Imbalance(np.zeros((n, scn.periods)), [])
    d, dt = scn.ders, scn.dt_h
    ordered = by_der(scn, standing_mw, 1) - by_der(scn, standing_mw, -1)
    dev = metered_mw - d.p_base_mw - ordered  # (D, T) against the corrected position
    mw = np.zeros((n, scn.periods))
    np.add.at(mw, d.aggregator, dev)
    price = scn.wholesale.price_eur_per_mwh
    spread = scn.config.wholesale.imbalance_spread_eur_per_mwh
    rows = []
    for a, brp in enumerate(scn.brp_names):
        short = np.maximum(-mw[a], 0.0) * dt
        long = np.maximum(mw[a], 0.0) * dt
        rows.append((brp, TSO, f"{KIND}: short", int(to_cents(((price + spread) * short).sum()))))
        rows.append((TSO, brp, f"{KIND}: long", int(to_cents(((price - spread) * long).sum()))))
    return Imbalance(mw, rows)
