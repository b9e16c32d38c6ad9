"""The double-entry ledger in cents and exact splitting."""

from __future__ import annotations

import numpy as np
import pytest

from tsodso.settlement.ledger import Ledger, split_cents, to_cents


@pytest.mark.parametrize("total", [0, 1, 100, 12345, -999, 7])
def test_split_sums_exactly_and_follows_the_weights(total: int) -> None:
    w = np.array([1.0, 1.0, 1.0])
    parts = split_cents(total, w)
    assert parts.sum() == total
    assert parts.max() - parts.min() <= 1  # equal weights: at most a cent apart


def test_split_by_uneven_weights() -> None:
    # 100.00 EUR split 2:1 -> 66.67 and 33.33 (the larger remainder gets the cent)
    assert split_cents(10000, np.array([2.0, 1.0])).tolist() == [6667, 3333]


def test_to_cents_rounds_half_to_even() -> None:
    assert to_cents(np.array([0.005, 0.015, 1.234, -0.005])).tolist() == [0, 2, 123, 0]


def test_ledger_nets_reverses_and_balances() -> None:
    led = Ledger.of(
        [
            ("TSO", "dera-1", "utilisation", 1000),
            ("TSO", "dera-1", "utilisation", 500),  # summed with the line above
            ("dera-1", "TSO", "penalty", 200),
            ("DSO", "dera-2", "utilisation", -300),  # negative: posted the other way
            ("MO", "dera-2", "availability", 0),  # dropped
        ]
    )
    bal = led.balances()
    assert bal == {"DSO": 300, "TSO": -1300, "dera-1": 1300, "dera-2": -300}
    assert led.total_cents() == 0
    assert len(led.postings) == 3
    st = led.statement("TSO")
    total = st[st.counterparty == "(total)"].iloc[0]
    assert total.received_eur == 2.0 and total.paid_eur == 15.0 and total.net_eur == -13.0
