"""Distribution areas and the DSOs that own them: which feeder belongs to which DSO.

Owns: ``DsoAreas`` (the partition of the feeders into DSO areas, and each DSO's actor
name) and how it is derived from a scenario's ``dsos`` setting and the coupled grid. Every
part of tsodso that needs to know "whose feeder is this" or "who are the DSOs" reads it
here. Must not: read profiles, DERs or market data.

The default (``dsos = "substation"``): one DSO per HV/MV substation, i.e. per transmission
node at which feeders' TDIs sit. Feeders whose transformers hang off the same 110 kV bus
are the MV parts of one substation and belong to one operator; on simbench's HV/MV grids
this follows the data's own substation records (``net.substation``: one
``HV1_MVx.y_Substation`` per TDI bus; the two radial parts of MV3.101-MV3.103 share theirs),
so the 18 feeders of ``1-HVMV-mixed-all-0-sw`` belong to 15 DSOs. (assumption: simbench does
not say who owns the MV grids; one operator per HV/MV substation is the finest ownership
the grid supports, and so the case with the most DSO actors.) A grid with one substation
group has a single DSO named ``DSO``, as before several DSOs existed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from tsodso.grids.model import CoupledGrid
from tsodso.schema.actors import DSO, IDSO, dso_name

#: the ``dsos`` setting: a rule, or a table of DSO name -> feeder ids
DsoSpec = str | Mapping[str, Sequence[str]]


class DsoAreaError(ValueError):
    """A ``dsos`` table that does not partition the grid's feeders (every problem listed)."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class DsoAreas:
    """The DSOs of a scenario and the feeders each owns.

    ``names[k]`` is DSO ``k``'s actor name (in purchases, ledgers and messages);
    ``feeder_area[f]`` the DSO of feeder position ``f``; ``rule`` says how the partition
    was made (for reports)."""

    names: tuple[str, ...]
    feeder_area: np.ndarray  # (F,) int: DSO index of each feeder position
    rule: str

    @property
    def n(self) -> int:
        """Number of DSOs."""
        return len(self.names)

    def feeders(self, k: int) -> tuple[int, ...]:
        """Feeder positions of DSO ``k``."""
        return tuple(int(f) for f in np.flatnonzero(self.feeder_area == k))

    def of_feeder(self, fpos: int) -> str:
        """Actor name of the DSO that owns feeder position ``fpos``."""
        return self.names[int(self.feeder_area[fpos])]

    def idso_names(self) -> tuple[str, ...]:
        """The independent DSO running each area's market (``IDSO`` for the single DSO
        ``DSO``; ``IDSO-x`` for ``DSO-x``)."""
        return tuple(IDSO + n[len(DSO) :] for n in self.names)

    def node_area(self, grid: CoupledGrid) -> np.ndarray:
        """DSO index of each grid node (N,); -1 for transmission nodes."""
        layer = grid.node_layer
        out = np.full(len(layer), -1)
        in_d = layer >= 0
        out[in_d] = self.feeder_area[layer[in_d]]
        return out

    @classmethod
    def single(cls, n_feeders: int) -> DsoAreas:
        """One DSO (``DSO``) owning every feeder."""
        return cls((DSO,), np.zeros(n_feeders, dtype=int), "one DSO for every feeder")


def dso_areas(grid: CoupledGrid, spec: DsoSpec = "substation") -> DsoAreas:
    """The DSO areas ``spec`` describes on ``grid``: ``"substation"`` (default: one DSO per
    HV/MV substation, numbered ``DSO-1``, ``DSO-2``... in feeder order), ``"one"`` (a single
    ``DSO``) or a table of DSO names to feeder ids that covers every feeder exactly once.
    Raises ``DsoAreaError`` listing every problem of a table."""
    nf = len(grid.feeders)
    if isinstance(spec, str):
        if spec == "one":
            return DsoAreas.single(nf)
        if spec != "substation":
            raise DsoAreaError([f"dsos = {spec!r}: expected 'substation', 'one' or a table"])
        tdis: list[int] = []
        for f in grid.feeders:
            if f.tdi_node not in tdis:
                tdis.append(f.tdi_node)
        if len(tdis) <= 1:
            return DsoAreas(
                (DSO,), np.zeros(nf, dtype=int), "one DSO per HV/MV substation (one here)"
            )
        area = np.array([tdis.index(f.tdi_node) for f in grid.feeders], dtype=int)
        names = tuple(dso_name(k) for k in range(len(tdis)))
        return DsoAreas(names, area, "one DSO per HV/MV substation (feeders' TDI bus)")
    ids = [f.id for f in grid.feeders]
    owner: dict[str, list[str]] = {}
    problems: list[str] = []
    for name, feeders in spec.items():
        for fid in feeders:
            if fid not in ids:
                problems.append(
                    f"dsos.{name}: feeder {fid!r} is not a feeder of this grid "
                    f"(feeders: {', '.join(ids)})"
                )
            owner.setdefault(fid, []).append(name)
    for fid, names_of in owner.items():
        if len(names_of) > 1 and fid in ids:
            problems.append(
                f"dsos: feeder {fid!r} is in {len(names_of)} DSOs ({', '.join(names_of)}); "
                "expected exactly one"
            )
    missing = [fid for fid in ids if fid not in owner]
    if missing:
        problems.append(
            f"dsos: feeder(s) {', '.join(missing)} belong to no DSO; expected every feeder "
            "in exactly one"
        )
    if problems:
        raise DsoAreaError(problems)
    names = tuple(spec)
    area = np.array([names.index(owner[fid][0]) for fid in ids], dtype=int)
    return DsoAreas(names, area, "as configured (dsos table)")
