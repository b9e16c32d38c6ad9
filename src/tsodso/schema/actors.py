"""The actors of every coordination model (MODELS.md section 1), by the names that appear
in message logs, purchases and ledgers.

A scenario may have several DSOs (``grids.dso_areas``): each is an actor named ``DSO``
(the only one) or ``DSO-<suffix>`` (``DSO-1``, ``DSO-north``), so that every DSO is told
apart in the logs and still recognised as a DSO by ``is_dso``; an area's independent DSO is
``IDSO`` or ``IDSO-<suffix>``."""

from __future__ import annotations

import re
from typing import Final

TSO: Final = "TSO"
DSO: Final = "DSO"
MO: Final = "MO"  # market operator: an ISO/RTO, AEMO, an exchange, a common platform
IDSO: Final = "IDSO"  # independent DSO: runs the distribution market, does not own the grid
DERS: Final = "DERs"  # the units themselves, as one party of the dispatch messages

#: a DSO's actor name: ``DSO`` or ``DSO-`` followed by letters, digits, '_' or '-' (no '.':
#: a name is also a field of the scenario file's ``[dsos]`` table)
DSO_NAME: Final = re.compile(r"DSO(-[A-Za-z0-9_-]{1,40})?")
_IDSO_NAME: Final = re.compile(r"IDSO(-[A-Za-z0-9_-]{1,40})?")


def dso_name(k: int) -> str:
    """The default name of the ``k``-th DSO (0-based) of several: ``DSO-1``, ``DSO-2``..."""
    return f"{DSO}-{k + 1}"


def is_dso(actor: str) -> bool:
    """Whether ``actor`` is a DSO (``DSO`` or ``DSO-...``)."""
    return DSO_NAME.fullmatch(actor) is not None


def is_idso(actor: str) -> bool:
    """Whether ``actor`` is an independent DSO (``IDSO`` or ``IDSO-...``)."""
    return _IDSO_NAME.fullmatch(actor) is not None


def role(actor: str) -> str:
    """The role of an actor: ``DSO`` for every DSO, ``IDSO`` for every independent DSO, else
    the name itself (``TSO``, ``MO``, an aggregator's or a BRP's name)."""
    if is_dso(actor):
        return DSO
    if is_idso(actor):
        return IDSO
    return actor
