"""Fuzz whole scenarios that the schema accepts, on the case33bw feeder: each one builds,
and cheap models of three families (central, local, joint) run on it to a solution whose
ledger sums to zero and whose KPIs are finite."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import event, example, given
from hypothesis import strategies as st

from tests.conftest import feeder_case
from tests.fuzz import strategies as s
from tests.fuzz.budget import COUNTS, fuzz
from tsodso.pipeline import prepare, run_model
from tsodso.schema.config import ScenarioConfigError

MODELS = ("smartnet-a", "coordinet-local", "smartnet-d")
#: fields the case33bw fixture sets or that would leave the feeder (grid, voltage levels,
#: feeders to attach to a transmission case: tested in tests/integration/test_coupled_case)
FIXED = (
    "name",
    "grid",
    "periods",
    "first_period",
    "transmission_min_kv",
    "feeders.grid",
    "feeders.count",
)


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    """Overrides of the feeder case: a few fields each, within what each field accepts."""
    leaves = [leaf for leaf in s.LEAVES if leaf.path not in FIXED]
    doc: dict[str, Any] = {
        "periods": draw(st.integers(1, 4)),
        "first_period": draw(st.integers(0, 92)),
    }
    for leaf in draw(st.lists(st.sampled_from(leaves), max_size=6, unique=True)):
        doc = s.merge(doc, s.nest(leaf.path, draw(s.valid_value(leaf))))
    if draw(st.booleans()):
        doc["events"] = [
            {
                "kind": "forecast_error",
                "magnitude": draw(st.floats(-1, 5)),
                "first_period": 0,
                "last_period": doc["periods"] - 1,
            }
        ]
    return doc


@fuzz("scenario: runs")
@given(doc=scenarios())
# found by this test: a feeder without any DER built a DER table of float ids and kinds
@example(
    doc={
        "periods": 1,
        "first_period": 0,
        "ders": {"battery_share": 0.0, "ev_share": 0.0, "flex_load_share": 0.0},
    }
)
def test_accepted_scenarios_run(fast_case33bw: None, doc: dict[str, Any]) -> None:
    COUNTS["scenario: runs"] += 1
    try:
        scn = feeder_case(**doc)
        event("built")
    except ScenarioConfigError as e:  # cross-field and grid rules: named, then done
        event("refused")
        for p in e.problems:
            assert s.known_path(s.problem_path(p), doc), p
        return
    prep = prepare(scn)
    for model in MODELS:
        r = run_model(prep, model)
        assert r.outcome.has_solution, (model, r.outcome.status)
        assert r.kpis["ledger_total_cents"] == 0
        for k, v in r.kpis.items():
            assert v is None or math.isfinite(v), (model, k, v)
