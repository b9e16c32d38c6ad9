"""The actors of every coordination model (MODELS.md section 1), by the names that appear
in message logs, purchases and ledgers."""

from __future__ import annotations

from typing import Final

TSO: Final = "TSO"
DSO: Final = "DSO"
MO: Final = "MO"  # market operator: an ISO/RTO, AEMO, an exchange, a common platform
IDSO: Final = "IDSO"  # independent DSO: runs the distribution market, does not own the grid
DERS: Final = "DERs"  # the units themselves, as one party of the dispatch messages
