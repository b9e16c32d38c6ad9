"""Settlement of one model run: what each standing activation delivered, what it is paid,
and the money that flows between operators, as a double-entry ledger in cents.

Per standing activation (a bid accepted by one buyer, after stacking):
- delivered = its share of what the DER delivered in that direction and period, measured
  against the settlement baseline (pro rata when several markets activated the DER the
  same way), never more than ordered;
- utilisation = its price under the model's pricing rule (pay-as-bid, pay-as-clear or
  nodal: what the clearing priced) times the energy delivered;
- availability = ``availability_eur_per_mw_h`` times the MW activated times the hours;
- penalty = ``penalty_factor`` times its bid price times the energy not delivered.
The buyer pays the provider (the DER's aggregator) and the provider pays the penalty.

Money between operators follows the model's ``d_path`` through its transfers: a fixed
amount (the TSO paying a DSO for an interface exchange, or the system-price component of a
tariff) is scaled by the payee's delivery ratio; a platform or a clearing operator bills
each party its share of its net settlement with providers, split to the cent so that a
platform nets to exactly zero.

Owns: line items, the ledger and the settlement KPIs. Must not: choose baselines or
simulate delivery (``settlement.baselines``, ``dispatch.delivery``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tsodso.coordination.outcome import Reservation, Transfer
from tsodso.dispatch.stacking import EPS, Stack, by_der
from tsodso.scenario.domain import Scenario
from tsodso.schema.actors import TSO, is_dso
from tsodso.settlement.imbalance import KIND as IMBALANCE
from tsodso.settlement.imbalance import brp_imbalance
from tsodso.settlement.ledger import Ledger, split_cents, to_cents


@dataclass(frozen=True)
class Settlement:
    """Line items per standing activation, the ledger, and what it was measured with."""

    lines: pd.DataFrame
    ledger: Ledger
    baseline: str
    imbalance_mwh: float = 0.0  # the BRPs' absolute imbalance (``settlement.imbalance``)
    # availability payments for capacity reserved day-ahead: buyer, der, aggregator, eur
    reservations: pd.DataFrame | None = None

    def kpis(self) -> dict[str, float]:
        ln, led = self.lines, self.ledger
        out = {
            "non_delivery_mwh": round(float((ln.ordered_mwh - ln.delivered_mwh).sum()), 4),
            "penalties_eur": round(float(ln.penalty_cents.sum()) / 100.0, 2),
            "delivered_mwh": round(float(ln.delivered_mwh.sum()), 4),
        }
        bal = led.balances()
        for party in ("TSO", "MO"):
            out[f"settled_{party.lower()}_eur"] = -bal.get(party, 0) / 100.0
        # every DSO together (``ledger.balances`` has each DSO's own)
        out["settled_dso_eur"] = -sum(v for p, v in bal.items() if is_dso(p)) / 100.0
        out["ledger_total_cents"] = led.total_cents()
        out["brp_imbalance_mwh"] = round(self.imbalance_mwh, 4)
        out["brp_imbalance_eur"] = (
            sum(led.paid_by(b, IMBALANCE) - led.received_by(b, IMBALANCE) for b in self.brps)
            / 100.0
        )
        return out

    @property
    def brps(self) -> list[str]:
        """The parties settled for imbalance."""
        p = self.ledger.postings
        m = p.kind.str.startswith(IMBALANCE)
        return sorted((set(p.payer[m]) | set(p.payee[m])) - {TSO})

    def provider_revenue_eur(self, ders: pd.Index | None = None) -> dict[str, float]:
        """Per buyer, what the providers were paid net of penalties (EUR): every DER's, or
        only those whose ids ``ders`` lists."""
        ln = self.lines if ders is None else self.lines[self.lines.der.isin(ders)]
        net = ln.utilisation_cents + ln.availability_cents - ln.penalty_cents
        out = {str(k): float(v) / 100.0 for k, v in net.groupby(ln.buyer).sum().items()}
        if self.reservations is not None and len(self.reservations):
            rs = self.reservations
            rs = rs if ders is None else rs[rs.der.isin(ders)]
            for k, v in rs.groupby("buyer").eur.sum().items():
                out[str(k)] = out.get(str(k), 0.0) + float(v)
        return out

    def paid_eur_by_buyer(self, n_bids: int) -> dict[str, np.ndarray]:
        """Per buyer, the net settled amount per scenario bid (EUR)."""
        ln = self.lines
        net = (ln.utilisation_cents + ln.availability_cents - ln.penalty_cents) / 100.0
        out: dict[str, np.ndarray] = {}
        for buyer, idx in ln.groupby("buyer").groups.items():
            arr = np.zeros(n_bids)
            np.add.at(arr, ln.bid.loc[idx].to_numpy(), net.loc[idx].to_numpy())
            out[str(buyer)] = arr
        return out


def settle(
    scn: Scenario,
    st: Stack,
    transfers: tuple[Transfer, ...],
    delivered_mw: np.ndarray,
    baseline: str,
    metered_mw: np.ndarray | None = None,
    reservations: tuple[Reservation, ...] = (),
) -> Settlement:
    """Settle the standing activations ``st`` given each DER's delivered flexibility
    ``delivered_mw`` (D, T; metered minus baseline, + = up) and the model's transfers;
    with ``metered_mw`` (D, T) also each BRP's imbalance (``settlement.imbalance``), and
    the availability payments for capacity ``reservations`` (paid as reserved: the unit
    was offered in real time whether activated or not)."""
    b, dt, cfg = scn.bids, scn.dt_h, scn.config.settlement
    total = st.accepted_mw
    ratio = {}
    for direction in (1, -1):
        ordered = by_der(scn, total, direction)
        got = np.maximum(direction * delivered_mw, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio[direction] = np.where(ordered > EPS, np.minimum(got / ordered, 1.0), 1.0)
    bid_ratio = np.where(b.direction > 0, ratio[1][b.der, b.period], ratio[-1][b.der, b.period])
    names = np.array(scn.aggregator_names)
    parts = []
    for p in st.purchases:
        k = np.flatnonzero(p.accepted_mw > EPS)
        acc, pay = p.accepted_mw[k], p.payments_eur[k]
        delivered = acc * bid_ratio[k]
        parts.append(
            pd.DataFrame(
                {
                    "buyer": p.buyer,
                    "step": p.step,
                    "bid": k,
                    "der": scn.ders.id[b.der[k]],
                    "aggregator": names[b.aggregator[k]],
                    "period": b.period[k],
                    "direction": np.where(b.direction[k] > 0, "up", "down"),
                    "ordered_mwh": acc * dt,
                    "delivered_mwh": delivered * dt,
                    "price_eur_per_mwh": pay / (acc * dt),
                    "utilisation_cents": to_cents(pay * bid_ratio[k]),
                    "availability_cents": to_cents(cfg.availability_eur_per_mw_h * acc * dt),
                    "penalty_cents": to_cents(
                        cfg.penalty_factor * b.price_eur_per_mwh[k] * (acc - delivered) * dt
                    ),
                }
            )
        )
    lines = pd.concat(parts, ignore_index=True)
    rows: list[tuple[str, str, str, int]] = []
    by_pair = lines.groupby(["buyer", "aggregator"], sort=True)[
        ["utilisation_cents", "availability_cents", "penalty_cents"]
    ].sum()
    for (buyer, agg), r in by_pair.iterrows():
        rows.append((str(buyer), str(agg), "utilisation", int(r.utilisation_cents)))
        rows.append((str(buyer), str(agg), "availability", int(r.availability_cents)))
        rows.append((str(agg), str(buyer), "penalty", int(r.penalty_cents)))
    reserved = _reservations(scn, reservations)
    by_pair = reserved.groupby(["buyer", "aggregator"], sort=True).eur.sum()
    for (buyer, agg), eur in by_pair.items():
        rows.append((str(buyer), str(agg), "reservation", int(to_cents(eur))))
    rows += _transfers(transfers, lines, rows)
    imb = brp_imbalance(scn, total, metered_mw) if metered_mw is not None else None
    if imb is not None:
        rows += imb.rows
    mwh = imb.mwh(dt) if imb is not None else 0.0
    return Settlement(lines, Ledger.of(rows), baseline, mwh, reserved)


def _reservations(scn: Scenario, reservations: tuple[Reservation, ...]) -> pd.DataFrame:
    """One row per reserved bid: buyer, DER, aggregator and the availability payment (EUR;
    rounded to the cent per buyer and aggregator, as posted)."""
    b = scn.bids
    parts = [
        pd.DataFrame(
            {
                "buyer": r.buyer,
                "der": scn.ders.id[b.der[k]],
                "aggregator": np.array(scn.aggregator_names)[b.aggregator[k]],
                "eur": r.payments_eur[k],
            }
        )
        for r in reservations
        if len(k := np.flatnonzero(r.reserved_mw > EPS))
    ]
    if not parts:
        return pd.DataFrame(columns=["buyer", "der", "aggregator", "eur"])
    return pd.concat(parts, ignore_index=True)


def _delivery_ratio(lines: pd.DataFrame, buyer: str) -> float:
    m = lines.buyer == buyer
    ordered = float(lines.ordered_mwh[m].sum())
    return float(lines.delivered_mwh[m].sum()) / ordered if ordered > EPS else 1.0


def _transfers(
    transfers: tuple[Transfer, ...],
    lines: pd.DataFrame,
    provider_rows: list[tuple[str, str, str, int]],
) -> list[tuple[str, str, str, int]]:
    """Ledger rows of the operator-to-operator transfers (fixed, then shares)."""
    out: list[tuple[str, str, str, int]] = []
    for t in transfers:
        if t.share is None:
            cents = int(to_cents(t.eur * _delivery_ratio(lines, t.payee)))
            out.append((t.payer, t.payee, f"transfer: {t.reason}", cents))
    bills = [t for t in transfers if t.share is not None]
    for payee in sorted({t.payee for t in bills}):
        mine = [t for t in bills if t.payee == payee]
        net = sum(
            c if (a == payee) else -c
            for a, b, kind, c in provider_rows
            if payee in (a, b) and kind in ("utilisation", "availability", "penalty", "reservation")
        )
        shares = np.array([t.share or 0.0 for t in mine])
        owed = net if abs(shares.sum() - 1.0) < 1e-9 else int(round(net * shares.sum()))
        for t, cents in zip(mine, split_cents(owed, shares), strict=True):
            out.append((t.payer, t.payee, f"bill: {t.reason}", int(cents)))
    return out
