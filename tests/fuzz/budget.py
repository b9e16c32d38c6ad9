"""How many generated cases each fuzz test runs: the CI budget (at least 10,000 cases in
all, about a minute on the 2-core development machine), times ``TSODSO_FUZZ_SCALE`` for
longer local runs (e.g. ``TSODSO_FUZZ_SCALE=20 .venv/bin/python -m pytest tests/fuzz``)."""

from __future__ import annotations

import os
from collections import Counter

from hypothesis import HealthCheck, settings

#: generated cases per test at scale 1; validation-level cases are cheap and dominate
BUDGET: dict[str, int] = {
    "schema: one field": 3000,
    "schema: whole documents": 1500,
    "files: raw bytes": 2500,
    "files: TOML soup": 800,
    "mechanism: load": 1200,
    "mechanism: runs": 40,
    "sweep: --vary": 1000,
    "cli: options": 250,
    "scenario: runs": 25,
}


def scale() -> float:
    """``TSODSO_FUZZ_SCALE`` (default 1): a factor on every budget."""
    raw = os.environ.get("TSODSO_FUZZ_SCALE", "1")
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"TSODSO_FUZZ_SCALE = {raw!r}: expected a positive number") from None
    if not value > 0:
        raise ValueError(f"TSODSO_FUZZ_SCALE = {raw!r}: expected a positive number")
    return value


def fuzz(name: str) -> settings:
    """Hypothesis settings for the test counted under ``name``."""
    return settings(
        max_examples=max(1, round(BUDGET[name] * scale())),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


#: cases run in this session, per budget line (printed at the end of the session)
COUNTS: Counter[str] = Counter()
