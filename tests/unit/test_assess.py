"""The assessment's arithmetic on hand-made inputs (no grid): the data file is complete,
overrides change the NPV exactly as computed by hand, weighted annual figures, intervals
and ranking stability equal a hand computation on 2 days x 2 seeds, representative days
weigh the whole year, criteria read their tables."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any, get_args

import numpy as np
import pandas as pd
import pytest

from tsodso.assess import annual, criteria, economics
from tsodso.assess.assumptions import (
    AssessInputError,
    apply_overrides,
    default_assumptions,
    entry_problems,
    load_assumptions,
)
from tsodso.assess.days import YEAR_DAYS, representative_days
from tsodso.assess.points import REFERENCE
from tsodso.coordination.catalogue import CATALOGUE
from tsodso.schema.mechanism import Mechanism


def _raw(name: str) -> dict[str, Any]:
    text = resources.files("tsodso.assess").joinpath(name).read_text("utf-8")
    return tomllib.loads(text)


def test_cost_data_file_is_complete() -> None:
    entries = _raw("assumptions.toml")["assumptions"]
    assert len(entries) >= 20
    for key, e in entries.items():
        assert entry_problems(key, e, "assumptions.toml") == [], key
        assert e["unit"].strip() and isinstance(e["year"], int)
        assert e["low"] <= e["central"] <= e["high"], key
        # a source, or the word assumption with its reason
        assert e["source"].strip()
        if e["source"] == "assumption":
            assert len(e["reason"]) > 20, key
    # the NPV's parameters are all there
    for k in ("discount_rate", "horizon_years", "der_growth_per_year", "staff_cost"):
        assert entries[k]["kind"] == "parameter"


def test_criteria_score_every_value_of_their_field() -> None:
    a = default_assumptions()
    for c in a.criteria.values():
        if c.field is None:
            assert c.bands and c.bands[-1][0] >= 1e6  # the last band catches all
            continue
        annotation = Mechanism.model_fields[c.field].annotation
        assert set(c.scores) == set(get_args(annotation)), c.key
    assert set(a.weights) == set(a.criteria)


def _inputs(models: list[str], cts: dict[str, float], areas: int = 18) -> economics.Inputs:
    """One uptake variant: constant series over the years."""
    one = {m: np.array([v]) for m, v in cts.items()}
    zero = {m: np.array([0.0]) for m in cts}
    const = {m: np.array([4.0]) for m in cts}
    series = {
        "cost_to_serve_eur": one,
        "messages": zero,
        "message_bytes": zero,
        "parties": const,
        "interfaces": const,
        "overloaded_branches": zero,
    }
    mech = {m: CATALOGUE[m].mechanism for m in models}
    return economics.Inputs(models, mech, np.array([1.0]), series, areas)


def test_npv_by_hand_and_an_override_changes_it_exactly() -> None:
    a = default_assumptions()
    v = a.values()
    models = ["smartnet-a", "smartnet-d", "gridworks-idso"]
    inp = _inputs(
        models,
        {REFERENCE: 1.0e7, "smartnet-a": 8.0e6, "smartnet-d": 6.0e6, "gridworks-idso": 7.0e6},
    )
    base = economics.npv_table(inp, a, v).set_index("model")
    r, horizon = v["discount_rate"], int(v["horizon_years"])
    annuity = sum((1 + r) ** -y for y in range(1, horizon + 1))
    # smartnet-a: no platform, no DSO market, no forecasting (d_constraints none): only the
    # 4 interfaces and 4 parties
    capex_a = 4 * v["interface_capex"]
    opex_a = 4 * v["ict_opex_per_party"]
    expected_a = -capex_a + (1.0e7 - 8.0e6 - opex_a) * annuity
    assert base.loc["smartnet-a", "npv_eur"] == pytest.approx(expected_a, rel=1e-12)

    # a platform's capex +5 MEUR: smartnet-d (a platform) loses exactly 5 MEUR, the others
    # nothing
    data = {"assumptions": {"platform_capex": {"central": v["platform_capex"] + 5e6}}}
    moved = economics.npv_table(inp, b := apply_overrides(a, data, "t.toml"), b.values())
    moved_i = moved.set_index("model")["npv_eur"]
    assert moved_i["smartnet-d"] == pytest.approx(base.loc["smartnet-d", "npv_eur"] - 5e6)
    assert moved_i["smartnet-a"] == base.loc["smartnet-a", "npv_eur"]
    assert moved_i["gridworks-idso"] == base.loc["gridworks-idso", "npv_eur"]

    # the DSO market's opex +1,000 EUR/area/year: gridworks-idso (DSO first) loses
    # 1,000 x 18 areas x the annuity factor over 15 years at 3.5 %
    data = {"assumptions": {"dso_market_opex": {"central": v["dso_market_opex"] + 1000.0}}}
    b = apply_overrides(a, data, "t.toml")
    moved_i = economics.npv_table(inp, b, b.values()).set_index("model")["npv_eur"]
    assert moved_i["gridworks-idso"] == pytest.approx(
        base.loc["gridworks-idso", "npv_eur"] - 1000.0 * 18 * annuity, rel=1e-12
    )
    assert moved_i["smartnet-d"] == base.loc["smartnet-d", "npv_eur"]


def test_switching_value_of_a_linear_cost_is_where_the_npvs_cross() -> None:
    a = default_assumptions()
    inp = _inputs(
        ["smartnet-a", "smartnet-d"], {REFERENCE: 1.0e7, "smartnet-a": 8.0e6, "smartnet-d": 2.0e6}
    )
    npv = economics.npv_table(inp, a, a.values()).set_index("model")["npv_eur"]
    assert npv.idxmax() == "smartnet-d"
    gap = npv["smartnet-d"] - npv["smartnet-a"]
    table = economics.switching_values(inp, a, ["platform_capex"]).iloc[0]
    # smartnet-d alone pays the platform: first place changes when its capex grows by gap
    assert table["switching_value"] == pytest.approx(a.items["platform_capex"].central + gap)
    assert table["new_leader"] == "smartnet-a"


def test_bad_overrides_are_one_error_naming_every_problem(tmp_path: Path) -> None:
    f = tmp_path / "a.toml"
    f.write_text(
        "[assumptions.platform_capx]\ncentral = 1.0\n"
        "[assumptions.platform_opex]\nmiddle = 2.0\ncentral = true\n"
        "[assumptions.staff_cost]\ncentral = 1.0e9\n"
        "[weights]\nbeauty = 1.0\n"
        "[costs]\nx = 1\n"
    )
    with pytest.raises(AssessInputError) as e:
        load_assumptions(str(f))
    text = str(e.value)
    assert len(e.value.problems) == 6
    for needle in (
        "assumptions.platform_capx: unknown assumption",
        "assumptions.platform_opex.middle: unknown field",
        "assumptions.platform_opex.central: expected a finite number",
        "assumptions.staff_cost: low",
        "weights.beauty: unknown criterion",
        "costs: unknown table",
    ):
        assert needle in text, needle
    assert all(p.startswith(str(f)) for p in e.value.problems)


def _rows(periods_kpi: dict[tuple[str, int, int], float]) -> pd.DataFrame:
    weights = {10: 100, 200: 266}
    return pd.DataFrame(
        [
            {
                "variant": 0,
                "uptake": 1.0,
                "model": m,
                "day": d,
                "weight": weights[d],
                "seed": s,
                "cost_to_serve_eur": x,
                "parties": x / 1000.0,
            }
            for (m, d, s), x in periods_kpi.items()
        ]
    )


def test_weighted_annual_figures_equal_a_hand_computation() -> None:
    x = {
        ("A", 10, 1): 100.0,
        ("A", 10, 2): 300.0,
        ("A", 200, 1): 50.0,
        ("A", 200, 2): 70.0,
        ("B", 10, 1): 200.0,
        ("B", 10, 2): 210.0,
        ("B", 200, 1): 40.0,
        ("B", 200, 2): 60.0,
    }
    rows = _rows(x)
    table = annual.annual_table(rows, periods=96).set_index(["model", "kpi"])
    # value: sum over days of weight x the mean over seeds
    a_value = 100 * (100 + 300) / 2 + 266 * (50 + 70) / 2
    b_value = 100 * (200 + 210) / 2 + 266 * (40 + 60) / 2
    assert table.loc[("A", "cost_to_serve_eur"), "value"] == pytest.approx(a_value)
    assert table.loc[("B", "cost_to_serve_eur"), "value"] == pytest.approx(b_value)
    # 4 equally likely seed combinations (one seed per day): 5 % / 95 % = min / max
    a_combos = [100 * p + 266 * q for p in (100, 300) for q in (50, 70)]
    assert table.loc[("A", "cost_to_serve_eur"), "p05"] == pytest.approx(min(a_combos))
    assert table.loc[("A", "cost_to_serve_eur"), "p95"] == pytest.approx(max(a_combos))
    # a level KPI is the weighted mean over days
    level = (100 * (0.1 + 0.3) / 2 + 266 * (0.05 + 0.07) / 2) / 366
    assert table.loc[("A", "parties"), "value"] == pytest.approx(level)
    # a run of 8 quarter-hours stands for its day: x 96 / 8
    short = annual.annual_table(rows, periods=8).set_index(["model", "kpi"])
    assert short.loc[("A", "cost_to_serve_eur"), "value"] == pytest.approx(12 * a_value)
    # the ranking and its stability: per combination (same seed for both models)
    rank = annual.ranking(rows, periods=96).set_index("model")
    b_combos = [100 * p + 266 * q for p in (200, 210) for q in (40, 60)]
    a_first = np.mean([a < b for a, b in zip(a_combos, b_combos, strict=True)])
    assert rank.loc["A", "share_first"] == pytest.approx(a_first)
    assert rank.loc["B", "share_first"] == pytest.approx(1 - a_first)
    assert 0 < a_first < 1  # the case does test stability
    assert rank.loc["A", "share_top3"] == 1.0
    assert list(rank["rank"]) == [1, 2]
    # presets of one mechanism tie in every resample: both count as first
    tied = pd.concat([rows, rows[rows["model"] == "A"].assign(model="A2")])
    both = annual.ranking(tied, periods=96).set_index("model")
    assert both.loc["A", "share_first"] == both.loc["A2", "share_first"] == pytest.approx(a_first)


def test_representative_days_weigh_the_year() -> None:
    rng = np.random.default_rng(3)
    season = np.cos(np.linspace(0, 2 * np.pi, YEAR_DAYS))[:, None]
    load = 100 + 20 * season + rng.normal(0, 2, (YEAR_DAYS, 96))
    res = 50 - 30 * season + rng.normal(0, 5, (YEAR_DAYS, 96))
    res[150, 40:56] = 400.0  # a stress day
    days = representative_days(load, res, 8)
    assert len(days) == 8 and sum(d.weight for d in days) == YEAR_DAYS
    stress = [d for d in days if d.day == 150]
    assert stress and stress[0].weight == 1 and "stress" in stress[0].label
    assert len({d.day for d in days}) == 8
    one = representative_days(load, res, 1)
    assert one[0].weight == YEAR_DAYS
    with pytest.raises(ValueError):
        representative_days(load, res, 0)


def test_criteria_read_their_tables() -> None:
    a = default_assumptions()
    mech = {m: CATALOGUE[m].mechanism for m in ("smartnet-a", "oen-single-integrated-platform")}
    levels = {
        "smartnet-a": {"d_network_data_holders": 1.0},
        "oen-single-integrated-platform": {"d_network_data_holders": 2.0},
    }
    s = criteria.scores(mech, levels, a).set_index(["model", "criterion"])["score"]
    assert s[("smartnet-a", "neutrality")] == 2  # operator tso
    assert s[("oen-single-integrated-platform", "neutrality")] == 5  # independent
    assert s[("smartnet-a", "data_holders")] == 5
    assert s[("oen-single-integrated-platform", "data_holders")] == 4
    weights = replace(a, weights={k: (1.0 if k == "neutrality" else 0.0) for k in a.weights})
    ranked = criteria.mca_ranking(criteria.scores(mech, levels, weights))
    assert list(ranked["model"]) == ["oen-single-integrated-platform", "smartnet-a"]
    assert list(ranked["mca_score"]) == [5.0, 2.0]
