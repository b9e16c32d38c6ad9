"""Fuzz the scenario schema: one field at a time (a value the field must refuse is refused
and the refusal names the field) and whole documents (nothing but the documented input
error escapes, and every problem names a field of the schema or a key of the input)."""

from __future__ import annotations

from typing import Any

from hypothesis import event, given

from tests.fuzz import strategies as s
from tests.fuzz.budget import COUNTS, fuzz
from tsodso.schema.config import ScenarioConfig, ScenarioConfigError, config_from_dict


@fuzz("schema: one field")
@given(s.field_value())
def test_one_field(case: tuple[s.Leaf, Any, bool]) -> None:
    COUNTS["schema: one field"] += 1
    leaf, value, must_refuse = case
    doc = s.nest(leaf.path, value)
    try:
        cfg = config_from_dict(doc)
    except ScenarioConfigError as e:
        event("refused")
        assert e.problems
        paths = [s.problem_path(p) for p in e.problems]
        for path in paths:
            assert s.known_path(path, doc), (path, e.problems)
        if must_refuse:
            assert leaf.path in paths, (leaf.path, e.problems)
        return
    event("accepted")
    assert not must_refuse, f"{leaf.path} = {value!r} was accepted"
    assert isinstance(cfg, ScenarioConfig)


@fuzz("schema: whole documents")
@given(s.documents())
def test_whole_documents(doc: dict[str, Any]) -> None:
    COUNTS["schema: whole documents"] += 1
    try:
        config_from_dict(doc)
        event("accepted")
    except ScenarioConfigError as e:
        event("refused")
        assert e.problems
        for p in e.problems:
            assert s.known_path(s.problem_path(p), doc), (p, doc)
