"""Every regression case folder under tests/cases holds: its outputs stay within the
stored tolerances (``python -m tests.cases.regress NAME`` shows and accepts changes)."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.cases.regress import Case, cases, compute, differences, load_expected


@pytest.mark.parametrize("c", cases(), ids=lambda c: c.name)
def test_case(c: Case, tmp_path) -> None:
    got = compute(c)
    got.to_csv(tmp_path / "got.csv")  # compare as stored: through CSV
    diff = differences(c, pd.read_csv(tmp_path / "got.csv", index_col="model"), load_expected(c))
    assert not diff, f"{c.name}: {len(diff)} difference(s)\n" + "\n".join(diff[:40])
