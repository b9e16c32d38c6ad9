"""Fuzz the sweep parser: --vary soups of field paths (real, mistyped, nested through a
value), separators and values (numbers, booleans, quoted and bare text, infinities, empty
items). Every spec list gives points (one per combination, each validated) or the
documented ScenarioConfigError naming the --vary or the field at fault."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from tests.fuzz import strategies as s
from tests.fuzz.budget import COUNTS, fuzz
from tsodso.scale.sweep import MAX_POINTS, parse_variations, sweep_points, variable_fields
from tsodso.schema.config import ScenarioConfig, ScenarioConfigError, load_config

LEAF = {leaf.path: leaf for leaf in s.LEAVES}
# the scalar fields (``dsos`` is varied too, between its rules, but is a table in files)
FIELDS = [f for f in variable_fields() if f in LEAF]
_paths = st.one_of(
    st.sampled_from(FIELDS),
    st.sampled_from(FIELDS).map(lambda f: f + ".x"),
    st.sampled_from(["ders", "events", "models", "name", "nope", "", " seed ", "a.b.c"]),
)
_values = st.one_of(
    st.integers(-5, 400).map(str),
    st.floats(allow_nan=True).map(repr),
    st.sampled_from(["true", "false", "inf", "-inf", "nan", '"3"', "'x'", "", "1e400"]),
    st.sampled_from(["nominated", "historical", '"mbma"', "[1]", "{a=1}"]),
    st.text(alphabet="abc,=.01 ", max_size=6),
)


def _toml(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    return repr(v)


@st.composite
def vary_specs(draw: st.DrawFn) -> list[str]:
    """Half the time specs of values each field accepts, else soup."""
    specs = []
    good = draw(st.booleans())
    fields = draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3, unique=True))
    for i in range(len(fields) if good else draw(st.integers(0, 3))):
        if good:
            leaf = LEAF[fields[i]]
            values = draw(st.lists(s.valid_value(leaf).map(_toml), min_size=1, max_size=3))
            specs.append(f"{leaf.path}={','.join(dict.fromkeys(values))}")
            continue
        path = draw(_paths)
        sep = draw(st.sampled_from(["=", "=", "=", "", "=="]))
        values = ",".join(draw(st.lists(_values, min_size=0, max_size=4)))
        specs.append(f"{path}{sep}{values}")
    return specs


@pytest.fixture(scope="module")
def base() -> ScenarioConfig:
    return load_config("small")


@fuzz("sweep: --vary")
@given(specs=vary_specs())
def test_vary(base: ScenarioConfig, specs: list[str]) -> None:
    COUNTS["sweep: --vary"] += 1
    try:
        variations = parse_variations(specs)
        points = sweep_points(base, variations)
    except ScenarioConfigError as e:
        event("refused")
        for p in e.problems:
            path = s.problem_path(p)
            assert p.startswith("--vary") or path.split(".")[0] in ScenarioConfig.model_fields, p
        return
    event("accepted")
    assert len(points) == math.prod(len(v) for v in variations.values()) <= MAX_POINTS
    assert len({p.digest() for p in points}) == len(points)  # every point is a new scenario
