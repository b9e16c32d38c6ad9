"""A double-entry ledger in integer cents: every posting moves money from a payer to a
payee, so the balances of all parties sum to zero by construction; statements per party.

Owns: postings, balances, statements, and exact splitting of an amount into shares
(largest remainder). Must not: decide who pays what (``settlement.settle`` does).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


def to_cents(eur: np.ndarray | float) -> np.ndarray:
    """Euros to integer cents, rounding half to even."""
    return np.rint(np.asarray(eur, dtype=float) * 100.0).astype(np.int64)


def split_cents(total: int, weights: np.ndarray) -> np.ndarray:
    """Split ``total`` cents in proportion to ``weights`` (>= 0) so that the parts are
    integers and sum exactly to ``total`` (largest remainder)."""
    w = np.asarray(weights, dtype=float)
    if len(w) == 0:
        return np.zeros(0, dtype=np.int64)
    s = w.sum()
    if s <= 0:
        out = np.zeros(len(w), dtype=np.int64)
        out[0] = total
        return out
    exact = total * w / s
    base = np.floor(exact).astype(np.int64)
    rest = int(total - base.sum())
    order = np.argsort(-(exact - base), kind="stable")
    base[order[:rest]] += 1
    return np.asarray(base)


@dataclass(frozen=True)
class Ledger:
    """Postings (payer, payee, kind, cents >= 0)."""

    postings: pd.DataFrame

    @classmethod
    def of(cls, rows: list[tuple[str, str, str, int]]) -> Ledger:
        """Postings from (payer, payee, kind, cents) rows; a negative amount is posted the
        other way, zero amounts are dropped; rows of the same payer, payee and kind are
        summed."""
        fixed = [(a, b, k, c) if c >= 0 else (b, a, k, -c) for a, b, k, c in rows if int(c) != 0]
        df = pd.DataFrame(fixed, columns=["payer", "payee", "kind", "cents"])
        df["cents"] = df.cents.astype(np.int64)
        df = df.groupby(["payer", "payee", "kind"], as_index=False, sort=True).cents.sum()
        return cls(df)

    def balances(self) -> dict[str, int]:
        """Net cents per party: received minus paid."""
        p = self.postings
        got = p.groupby("payee").cents.sum()
        paid = p.groupby("payer").cents.sum()
        parties = sorted(set(got.index) | set(paid.index))
        return {x: int(got.get(x, 0)) - int(paid.get(x, 0)) for x in parties}

    def total_cents(self) -> int:
        """Sum of all balances: zero for any ledger built from postings."""
        return int(sum(self.balances().values()))

    def paid_by(self, party: str, kind_prefix: str = "") -> int:
        p = self.postings
        m = (p.payer == party) & p.kind.str.startswith(kind_prefix)
        return int(p.cents[m].sum())

    def received_by(self, party: str, kind_prefix: str = "") -> int:
        p = self.postings
        m = (p.payee == party) & p.kind.str.startswith(kind_prefix)
        return int(p.cents[m].sum())

    def statement(self, party: str) -> pd.DataFrame:
        """One line per counterparty and kind: received, paid (EUR), and a total line."""
        p = self.postings
        inc = p[p.payee == party].assign(counterparty=p.payer, received=p.cents, paid=0)
        out = p[p.payer == party].assign(counterparty=p.payee, received=0, paid=p.cents)
        lines = pd.concat([inc, out])[["counterparty", "kind", "received", "paid"]]
        lines = lines.groupby(["counterparty", "kind"], as_index=False, sort=True).sum()
        total = pd.DataFrame(
            [["(total)", "", int(lines.received.sum()), int(lines.paid.sum())]],
            columns=lines.columns,
        )
        lines = pd.concat([lines, total], ignore_index=True)
        lines["net"] = lines.received - lines.paid
        lines.insert(0, "party", party)
        for c in ("received", "paid", "net"):
            lines[f"{c}_eur"] = lines.pop(c).astype(np.int64) / 100.0
        return lines

    def statements(self) -> pd.DataFrame:
        """Every party's statement, one table."""
        parties = sorted(set(self.postings.payer) | set(self.postings.payee))
        if not parties:
            return pd.DataFrame(
                columns=["party", "counterparty", "kind", "received_eur", "paid_eur", "net_eur"]
            )
        return pd.concat([self.statement(x) for x in parties], ignore_index=True)
