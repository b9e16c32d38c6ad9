"""The fuzz suite's shared pieces: a case counter printed at the end of the session, and
a fast case33bw scenario builder for the tests that run what they accept."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fuzz.budget import BUDGET, COUNTS, scale


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not COUNTS:
        return
    tr = terminalreporter
    tr.section(f"fuzz cases (TSODSO_FUZZ_SCALE = {scale():g})")
    for name in BUDGET:
        if COUNTS[name]:
            tr.write_line(f"{name:28s} {COUNTS[name]:7,d}")
    tr.write_line(f"{'total':28s} {sum(COUNTS.values()):7,d}")


@pytest.fixture(scope="session")
def fast_case33bw() -> Iterator[None]:
    """Load case33bw once: pandapower's JSON reader takes 2-3 s per load, and the tests
    that build many scenarios on it would spend their budget there. Each build still gets
    its own copy of the same net."""
    import pandapower.networks as pn

    import tsodso.scenario.build as build

    net = pn.case33bw()
    original = build.load_net

    def load(spec: str) -> Any:
        return copy.deepcopy(net) if spec == "pandapower:case33bw" else original(spec)

    mp = pytest.MonkeyPatch()
    mp.setattr(build, "load_net", load)
    yield
    mp.undo()
