"""Fuzz the mechanism space: every [models.ID] table is refused when the scenario is
loaded (each problem naming the model and its field) or accepted, and every accepted
point of the space runs, on the case33bw feeder, to a solution whose ledger sums to zero
and whose KPIs are finite."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import assume, event, given
from hypothesis import strategies as st

from tests.conftest import feeder_case
from tests.fuzz import strategies as s
from tests.fuzz.budget import COUNTS, fuzz
from tsodso.coordination.catalogue import ModelPreset, models_for
from tsodso.coordination.families import FAMILIES, check, family_of
from tsodso.pipeline import Prepared, prepare, run_model
from tsodso.schema.config import ScenarioConfigError, config_from_dict
from tsodso.schema.mechanism import DIMENSIONS, Mechanism

#: the sequence that makes family_of choose each family (parallel, iterative: their own)
SEQUENCE_OF = {
    "central": "single",
    "local": "single",
    "joint": "joint",
    "sequential": "dso_then_tso",
    "implicit": "implicit",
}


@st.composite
def accepted_points(draw: st.DrawFn) -> Mechanism:
    """Points of the space their family says it runs (drawn within its declarations)."""
    fam = FAMILIES[draw(st.sampled_from(sorted(FAMILIES)))]
    values: dict[str, Any] = {}
    for dim, allowed in DIMENSIONS.items():
        choices = sorted(fam.supports.get(dim, allowed))
        # what family_of reads: the sequence, a DSO operator (local) and an implicit path
        if dim == "sequence":
            choices = [SEQUENCE_OF.get(fam.name, fam.name)]
        elif dim == "operator" and fam.name in ("local", "central"):
            choices = ["dso"] if fam.name == "local" else [c for c in choices if c != "dso"]
        elif dim == "d_path" and fam.name != "implicit":
            choices = [c for c in choices if c != "implicit"]
        if dim == "needs":
            values[dim] = tuple(draw(st.lists(st.sampled_from(choices), min_size=1, unique=True)))
        else:
            values[dim] = draw(st.sampled_from(choices))
    values["dso_correction"] = fam.dso_correction and draw(st.booleans())
    m = Mechanism(**values)
    assume(family_of(m) == fam.name and not check(m))
    return m


@st.composite
def model_tables(draw: st.DrawFn) -> dict[str, Any]:
    """[models] tables: a third points their family runs under good ids, a third clean
    random points, a third with junk values and ids."""
    kind = draw(st.integers(0, 2))
    if kind == 0:
        ids = s._good_ids
        tables = accepted_points().map(Mechanism.as_dict)
    else:
        ids = s.model_ids
        tables = s.mechanism(junk=kind == 2)
    return draw(st.dictionaries(ids, tables, min_size=1, max_size=2))


@fuzz("mechanism: load")
@given(model_tables())
def test_user_models_are_accepted_or_refused_at_load(models: dict[str, Any]) -> None:
    COUNTS["mechanism: load"] += 1
    doc = {"models": models}
    try:
        available = models_for(config_from_dict(doc))
    except ScenarioConfigError as e:
        event("refused")
        for p in e.problems:
            path = s.problem_path(p)
            assert path.startswith("models") and s.known_path(path, doc), p
        return
    event("accepted")
    for mid in models:
        assert available[mid].family in FAMILIES  # what runs it is decided at load


@pytest.fixture(scope="module")
def feeder(fast_case33bw: None) -> Prepared:
    return prepare(feeder_case())


@fuzz("mechanism: runs")
@given(accepted_points())
def test_every_accepted_point_runs(feeder: Prepared, mech: Mechanism) -> None:
    COUNTS["mechanism: runs"] += 1
    event(family_of(mech))
    r = run_model(feeder, ModelPreset("fuzz", "fuzz", "user", "fuzz", "fuzz", mech))
    assert r.outcome.has_solution, (mech, r.outcome.status)
    assert r.life.settlement.ledger.total_cents() == 0
    assert r.kpis["ledger_total_cents"] == 0
    for k, v in r.kpis.items():
        assert v is None or math.isfinite(v), (k, v)
    assert r.kpis["procurement_cost_eur"] is not None
