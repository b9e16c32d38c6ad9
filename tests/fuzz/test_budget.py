"""The fuzz suite's promise: at least 10,000 generated cases per CI run (scale 1), every
budget line used by a test, and the scale read strictly."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.fuzz.budget import BUDGET, fuzz, scale


def test_ci_budget_is_at_least_ten_thousand_cases() -> None:
    assert sum(BUDGET.values()) >= 10_000


def test_every_budget_line_has_a_test() -> None:
    used = {
        m
        for f in Path(__file__).parent.glob("test_*.py")
        for m in re.findall(r'@fuzz\("([^"]+)"\)', f.read_text())
    }
    assert used == set(BUDGET)


def test_scale(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TSODSO_FUZZ_SCALE", "20")
    assert scale() == 20 and fuzz("cli: options").max_examples == 20 * BUDGET["cli: options"]
    for bad in ("0", "-1", "x", "nan"):
        monkeypatch.setenv("TSODSO_FUZZ_SCALE", bad)
        with pytest.raises(ValueError, match="TSODSO_FUZZ_SCALE"):
            scale()
