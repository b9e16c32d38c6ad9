"""The writers' bulk formatting (``exchange.standards.text``) gives, for any float, exactly
what the per-element formatting it replaced gave (issue 13: same bytes)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tsodso.exchange.standards import text

finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12)
# values near a rounding boundary and signed zeros, which a vectorised round gets wrong
tricky = st.sampled_from([0.00015, -0.00015, 0.125, -0.125, 2.675, -0.0, 0.0, -4e-5, 1e-9])
values = st.lists(st.one_of(finite, tricky), max_size=50)


@given(values, st.sampled_from([2, 3, 4, 6]))
def test_fixed_is_round_then_format(xs: list[float], digits: int) -> None:
    want = [f"{round(x, digits) + 0.0:.{digits}f}" for x in xs]
    assert text.fixed(np.array(xs, dtype=float), digits) == want


@given(values)
def test_watts_is_int_round(xs: list[float]) -> None:
    assert text.watts(np.array(xs, dtype=float)) == [int(round(x * 1e6)) for x in xs]


def test_watts_refuses_what_is_not_finite() -> None:
    with pytest.raises(ValueError, match="not finite"):
        text.watts(np.array([1.0, np.nan]))


@given(values, st.sampled_from([3, 4]))
def test_rounded_is_pythons_round(xs: list[float], digits: int) -> None:
    got = text.rounded(np.array(xs, dtype=float), digits)
    assert [repr(v) for v in got] == [repr(round(x, digits)) for x in xs]


@given(st.lists(st.floats(), max_size=50))
def test_json_numbers_are_json_dumps(xs: list[float]) -> None:
    assert text.json_numbers(xs) == [json.dumps(x) for x in xs]
    assert text.reprs(xs) == [repr(x) for x in xs]


@given(st.lists(st.one_of(st.integers(), st.text(max_size=8)), max_size=30))
def test_message_ids_are_message_id(last: list[object]) -> None:
    assert text.message_ids(("umei", 7, "order"), last) == [
        text.message_id("umei", 7, "order", x) for x in last
    ]


@given(st.text(max_size=20))
def test_json_str_is_json_dumps(s: str) -> None:
    assert text.json_str(s) == json.dumps(s)
