"""Families own their registry entries: every named model is a point its family can run,
and a user model that its family cannot run is refused when the scenario is loaded, with
every problem listed (one case per family), never in the middle of a run."""

from __future__ import annotations

from typing import Any

import pytest

from tsodso.coordination.catalogue import CATALOGUE, CatalogueError, load_catalogue, models_for
from tsodso.coordination.families import FAMILIES, check, family_of
from tsodso.schema.config import ScenarioConfigError, config_from_dict
from tsodso.schema.mechanism import DIMENSIONS, Mechanism


def test_declarations_name_real_dimensions_and_values() -> None:
    for fam in FAMILIES.values():
        assert set(fam.supports) | set(fam.ignores) <= set(DIMENSIONS), fam.name
        assert not set(fam.supports) & set(fam.ignores), fam.name
        for dim, values in fam.supports.items():
            assert values <= set(DIMENSIONS[dim]), (fam.name, dim)


def test_every_named_model_passes_its_family() -> None:
    for mid, m in CATALOGUE.items():
        assert check(m.mechanism) == [], mid
    assert {family_of(m.mechanism) for m in CATALOGUE.values()} == set(FAMILIES)


BASE = {"operator": "separate", "d_constraints": "full", "priority": "dso"}
# one unsupported point per family, and what its refusal must name
REFUSED: dict[str, tuple[dict[str, Any], list[str]]] = {
    "central": (
        {
            "operator": "tso",
            "sequence": "single",
            "d_constraints": "interface_aggregate",
            "d_path": "platform",
        },
        ["d_constraints = 'interface_aggregate'", "d_path = 'platform'"],
    ),
    "local": (
        {"operator": "dso", "sequence": "single", "d_path": "direct", "dso_correction": True},
        ["d_path = 'direct'", "dso_correction = true"],
    ),
    "joint": (
        {"operator": "separate", "sequence": "joint", "d_path": "residual", "interface": "joint"},
        ["operator = 'separate'", "d_path = 'residual'"],
    ),
    "sequential": (
        {"sequence": "dso_then_tso", "d_path": "platform", "interface": "curve"},
        ["d_path = 'platform'"],
    ),
    "parallel": (
        {"sequence": "parallel", "d_path": "aggregated", "d_constraints": "interface_aggregate"},
        ["d_path = 'aggregated'", "d_constraints = 'interface_aggregate'"],
    ),
    "iterative": (
        {
            "sequence": "iterative",
            "d_path": "direct",
            "d_constraints": "doe",
            "interface": "priced_flow",
        },
        ["d_path = 'direct'", "d_constraints = 'doe'"],
    ),
    "implicit": (
        {
            "sequence": "implicit",
            "d_path": "implicit",
            "d_constraints": "traffic_light",
            "interface": "priced_flow",
        },
        ["d_constraints = 'traffic_light'"],
    ),
}


@pytest.mark.parametrize("family", sorted(REFUSED))
def test_unsupported_user_model_is_refused_at_load(family: str) -> None:
    point, expected = REFUSED[family]
    fields = {**BASE, **point}
    assert family_of(Mechanism(**fields)) == family
    cfg = config_from_dict({"models": {"mine": fields}})
    with pytest.raises(ScenarioConfigError) as err:
        models_for(cfg)
    problems = [p for p in err.value.problems if p.startswith("models.mine")]
    assert len(problems) == len(expected), problems
    for want in expected:
        assert any(want in p and family in p for p in problems), (want, problems)


def test_a_refusal_lists_every_model_at_once() -> None:
    models = {f"m-{fam}": {**BASE, **point} for fam, (point, _) in REFUSED.items()}
    with pytest.raises(ScenarioConfigError) as err:
        models_for(config_from_dict({"models": models}))
    named = {p.split(":")[0] for p in err.value.problems}
    assert named == {f"models.m-{fam}" for fam in REFUSED}


def test_the_reported_dso_then_tso_platform_combination_is_refused() -> None:
    """Before families declared what they run, this model passed validation and ended in
    a traceback mid-run (issue 10)."""
    fields = {
        "operator": "separate",
        "sequence": "dso_then_tso",
        "d_constraints": "full",
        "d_path": "platform",
    }
    with pytest.raises(ScenarioConfigError, match="sequential family"):
        models_for(config_from_dict({"models": {"x": fields}}))


def test_a_bad_catalogue_row_is_a_catalogue_error() -> None:
    text = """
[sources]
s = "a source"
[models.bad]
name = "bad"
region = "EU"
source = "s"
operator = "tso"
sequence = "single"
d_constraints = "interface_aggregate"
d_path = "direct"
description = "x"
[models.worse]
name = "worse"
region = "EU"
source = "nowhere"
operator = "tso"
sequence = "single"
d_constraints = "none"
d_path = "direct"
description = "x"
"""
    with pytest.raises(CatalogueError) as err:
        load_catalogue(text)
    assert "models.bad" in str(err.value) and "models.worse.source" in str(err.value)


def test_commercial_needs_and_highest_value_belong_to_one_market() -> None:
    """Only a market that serves everyone (the joint family) clears commercial needs, and
    allocation by value needs a commercial buyer to mean anything."""
    seq = {**BASE, "sequence": "dso_then_tso", "d_path": "aggregated", "interface": "curve"}
    value = {
        **BASE,
        "operator": "independent",
        "sequence": "joint",
        "d_path": "platform",
        "interface": "joint",
        "priority": "highest_value",
    }
    models = {
        "seq": {**seq, "needs": ["balancing", "commercial"]},
        "value": value,
    }
    with pytest.raises(ScenarioConfigError) as err:
        models_for(config_from_dict({"models": models}))
    text = "\n".join(err.value.problems)
    assert "models.seq: needs = 'commercial'" in text
    assert "models.value: priority = 'highest_value' without the 'commercial' need" in text
