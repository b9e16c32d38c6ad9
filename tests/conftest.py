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


_ALL_MODELS: dict[str, dict[str, dict[str, Any]]] = {}


def all_model_kpis(preset: str) -> dict[str, dict[str, Any]]:
    """KPIs of every named model on a preset at the single-stage reference (one clearing:
    the catalogue's properties are stated for it), run once per test session (the
    catalogue property and equivalence tests share them)."""
    if preset not in _ALL_MODELS:
        from tsodso.coordination.catalogue import CATALOGUE
        from tsodso.pipeline import run_model

        prep = prepare(build_scenario(load_config(preset)))
        _ALL_MODELS[preset] = {
            mid: {"status": str(r.outcome.status), **r.kpis}
            for mid, r in (
                (mid, run_model(prep, m.at_stages("single"))) for mid, m in CATALOGUE.items()
            )
        }
    return _ALL_MODELS[preset]
