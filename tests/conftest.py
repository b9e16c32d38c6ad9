"""Shared fixtures: the small preset (simbench grid, 8 periods) built once per session."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from tsodso.pipeline import Prepared, prepare
from tsodso.scenario.build import build_scenario
from tsodso.scenario.domain import Scenario
from tsodso.schema.config import config_from_dict, load_config

CASES = Path(__file__).parent / "reference" / "cases"


@pytest.fixture(scope="session")
def tolerances() -> dict[str, Any]:
    return tomllib.loads((CASES / "tolerances.toml").read_text())


@pytest.fixture(scope="session")
def small() -> Scenario:
    return build_scenario(load_config("small"))


@pytest.fixture(scope="session")
def small_prepared(small: Scenario) -> Prepared:
    return prepare(small)


def feeder_case(**overrides: Any) -> Scenario:
    """case33bw (Baran-Wu feeder) behind an ideal slack: a fast synthetic scenario."""
    cfg = {
        "name": "case33bw",
        "grid": "pandapower:case33bw",
        "periods": 4,
        "first_period": 40,
        "imbalance_std_mw": 0.3,
        "transmission_min_kv": 100.0,
        **overrides,
    }
    return build_scenario(config_from_dict(cfg))
