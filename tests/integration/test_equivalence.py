"""Models the sources tell apart, tsodso tells apart (issue 12): on the discriminating
preset every pair of named models gives different results unless the equivalence map
declares them the same mechanism (with its reason and sources), and declared pairs give
identical results."""

from __future__ import annotations

import math
from typing import Any

from tests.conftest import all_model_kpis
from tsodso.coordination.catalogue import CATALOGUE
from tsodso.coordination.equivalence import equivalence_classes, equivalences

TIMING = {"wall_time_s", "solve_time_s", "compute_time_s"}


def _signature(k: dict[str, Any]) -> tuple[object, ...]:
    out: list[object] = []
    for key in sorted(k):
        if key in TIMING:
            continue
        v = k[key]
        if isinstance(v, float):
            out.append(None if math.isnan(v) else round(v, 3))
        else:
            out.append(v)
    return tuple(out)


def test_declared_pairs_have_a_reason_and_sources() -> None:
    pairs = equivalences()
    assert pairs
    for p in pairs:
        assert p.a in CATALOGUE and p.b in CATALOGUE and p.a != p.b
        assert len(p.reason) > 40 and "[" in p.sources, p


def test_named_models_are_distinct_unless_declared_equivalent() -> None:
    kpis = all_model_kpis("discriminating")
    sig = {m: _signature(k) for m, k in kpis.items()}
    classes = equivalence_classes()
    cls_of = {m: i for i, c in enumerate(classes) for m in c}
    same_undeclared = [
        (a, b)
        for i, a in enumerate(CATALOGUE)
        for b in list(CATALOGUE)[i + 1 :]
        if sig[a] == sig[b] and cls_of[a] != cls_of[b]
    ]
    assert not same_undeclared, f"identical but not declared equivalent: {same_undeclared}"
    for c in classes:
        first = sorted(c)[0]
        for m in c:
            assert sig[m] == sig[first], f"declared equivalent but different: {first}, {m}"
    distinct = len(set(sig.values()))
    assert distinct >= 28, distinct
    assert distinct == len(classes)
