"""The equivalence map: presets that are the same mechanism on purpose, each pair with its
reason and sources (``equivalences.toml``). Every other pair of presets must give
different results on a scenario that exercises their difference.

Owns: reading and checking the map. Must not: run anything.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources

from tsodso.coordination.catalogue import CATALOGUE

EQUIVALENCES_FILE = "equivalences.toml"


@dataclass(frozen=True)
class Equivalence:
    """Two presets declared the same mechanism, and why."""

    a: str
    b: str
    reason: str
    sources: str


def equivalences() -> tuple[Equivalence, ...]:
    """The declared pairs; a pair naming an unknown preset is a packaging error."""
    text = resources.files(__package__).joinpath(EQUIVALENCES_FILE).read_text(encoding="utf-8")
    pairs = tuple(Equivalence(**p) for p in tomllib.loads(text).get("pair", []))
    unknown = sorted({x for p in pairs for x in (p.a, p.b)} - set(CATALOGUE))
    if unknown:
        raise ValueError(f"{EQUIVALENCES_FILE}: unknown presets {unknown}")
    return pairs


def equivalence_classes() -> list[set[str]]:
    """The presets grouped by declared equivalence (each preset in exactly one group)."""
    groups: list[set[str]] = [{m} for m in CATALOGUE]
    for p in equivalences():
        ga = next(g for g in groups if p.a in g)
        gb = next(g for g in groups if p.b in g)
        if ga is not gb:
            ga |= gb
            groups.remove(gb)
    return groups
