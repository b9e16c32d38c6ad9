"""Every bad input the schema can judge on its own gets one message that names its field
(issue 11): strict types, finite values in ranges of meaning, cross-field rules, bounded
sizes, safe file reading, and the environment variables."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest

from tsodso.schema.config import (
    MAX_TOML_DEPTH,
    PRESETS,
    ScenarioConfigError,
    config_from_dict,
    load_config,
)
from tsodso.schema.environment import (
    DEFAULT_MODEL_THREADS,
    EnvironmentConfigError,
    area_threads,
    environment_problems,
    highs_log,
    model_threads,
)
from tsodso.schema.files import InputFileError, read_input_text


def _problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ScenarioConfigError) as e:
        config_from_dict(data)
    return e.value.problems


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"seed": -1}, "seed = -1"),
        ({"renewable_scale": float("inf")}, "renewable_scale = inf"),
        ({"renewable_scale": 1e308}, "renewable_scale = 1e+308"),
        ({"load_scale": float("nan")}, "load_scale = nan"),
        ({"ders": {"battery_mw": 1e308}}, "ders.battery_mw"),
        ({"ders": {"ev_mw": float("inf")}}, "ders.ev_mw"),
        ({"settlement": {"penalty_factor": float("inf")}}, "settlement.penalty_factor"),
        ({"penalties": {"imbalance_eur_per_mwh": 1e300}}, "penalties.imbalance_eur_per_mwh"),
        ({"aggregators": 10**9}, "aggregators = 1000000000"),
        ({"aggregators": 1e9}, "aggregators = 1000000000.0"),
    ],
)
def test_non_finite_and_out_of_range_values_are_refused(data: dict[str, Any], field: str) -> None:
    (problem,) = _problems(data)
    assert problem.startswith(field)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"aggregators": True}, "aggregators = True"),
        ({"day": "3"}, "day = '3'"),
        ({"renewable_scale": "1.5"}, "renewable_scale = '1.5'"),
        ({"ders": {"battery_share": False}}, "ders.battery_share = False"),
        ({"ders": {"curtailable_generation": 1}}, "ders.curtailable_generation = 1"),
        ({"periods": 4.0}, "periods = 4.0"),
        ({"name": 3}, "name = 3"),
    ],
)
def test_no_coercion_between_bool_text_and_numbers(data: dict[str, Any], field: str) -> None:
    (problem,) = _problems(data)
    assert problem.startswith(field)


def test_an_integer_is_a_number() -> None:
    assert config_from_dict({"renewable_scale": 2}).renewable_scale == 2.0


def test_event_fields_that_do_not_apply_are_refused() -> None:
    problems = _problems(
        {"events": [{"kind": "line_outage", "element": 3, "magnitude": 0.2, "feeder": "x"}]}
    )
    assert problems == [
        "events[0].magnitude: kind = 'line_outage' takes no magnitude (forecast_error only)",
        "events[0].feeder: kind = 'line_outage' takes no feeder (forecast_error only)",
    ]
    (p,) = _problems({"events": [{"kind": "forecast_error", "element": 2}]})
    assert p.startswith("events[0].element")


def test_event_periods_must_lie_inside_the_scenario() -> None:
    problems = _problems(
        {
            "periods": 8,
            "events": [{"kind": "forecast_error", "first_period": 2, "last_period": 8}],
        }
    )
    assert problems == [
        "events[0].last_period = 8: expected < periods = 8 (a scenario index)",
    ]
    (p,) = _problems({"periods": 8, "events": [{"kind": "forecast_error", "first_period": 9}]})
    assert p.startswith("events[0].first_period = 9")


def test_voltage_margin_must_leave_a_band() -> None:
    (p,) = _problems({"d_vmin_pu": 0.99, "d_vmax_pu": 1.01, "d_voltage_margin_pu": 0.015})
    assert p.startswith("d_voltage_margin_pu = 0.015: leaves no band")
    config_from_dict({"d_vmin_pu": 0.99, "d_vmax_pu": 1.01, "d_voltage_margin_pu": 0.009})


def test_model_ids_must_be_selectable() -> None:
    mech = {"operator": "tso", "sequence": "single", "d_constraints": "none", "d_path": "direct"}
    problems = _problems({"models": {"all": mech, "a,b": mech, "ok-id": mech}})
    assert [p.split(":")[0] for p in problems] == ["models.all (id)", "models.a,b (id)"]


def test_a_user_model_cannot_shadow_a_catalogue_model() -> None:
    from tsodso.coordination.catalogue import models_for

    cfg = config_from_dict(
        {
            "models": {
                "smartnet-a": {
                    "operator": "tso",
                    "sequence": "joint",
                    "d_constraints": "full",
                    "d_path": "platform",
                }
            }
        }
    )
    with pytest.raises(ScenarioConfigError, match=r"models.smartnet-a \(id\): the catalogue"):
        models_for(cfg)


def test_needs_are_named_once_each() -> None:
    base = {"operator": "tso", "sequence": "single", "d_constraints": "none", "d_path": "direct"}
    (p,) = _problems({"models": {"m": {**base, "needs": ["balancing", "balancing"]}}})
    assert p.startswith("models.m.needs") and "more than once" in p
    (p,) = _problems({"models": {"m": {**base, "needs": []}}})
    assert p.startswith("models.m.needs")


def test_many_problems_are_listed_together(tmp_path: Path) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(
        'seed = -1\nrenewable_scale = inf\naggregators = true\nname = "x"\n'
        "[settlement]\npenalty_factor = nan\n"
    )
    with pytest.raises(ScenarioConfigError) as e:
        load_config(str(f))
    fields = [p.split(" = ")[0] for p in e.value.problems]
    assert fields == ["seed", "renewable_scale", "aggregators", "settlement.penalty_factor"]


# -- files


def test_empty_scenario_file_is_refused_plainly(tmp_path: Path) -> None:
    for text in ("", "\n# only a comment\n", "\ufeff"):
        f = tmp_path / "empty.toml"
        f.write_text(text, encoding="utf-8")
        with pytest.raises(ScenarioConfigError, match='sets nothing: write preset = "default"'):
            load_config(str(f))


def test_bom_and_utf8(tmp_path: Path) -> None:
    f = tmp_path / "bom.toml"
    f.write_bytes('\ufeffpreset = "small"\nname = "été"\n'.encode())
    cfg = load_config(str(f))
    assert cfg.name == "été" and cfg.periods == 8
    f.write_bytes(b'preset = "small"\nname = "\xff"\n')
    with pytest.raises(ScenarioConfigError, match="not UTF-8 text: byte 0xff at offset 25"):
        load_config(str(f))


def test_directory_empty_path_and_missing(tmp_path: Path) -> None:
    with pytest.raises(ScenarioConfigError, match="is a directory"):
        load_config(str(tmp_path))
    with pytest.raises(ScenarioConfigError, match="empty path"):
        load_config("")
    with pytest.raises(ScenarioConfigError, match="empty path"):
        load_config("   ")
    with pytest.raises(ScenarioConfigError, match="no such file"):
        load_config(str(tmp_path / "nope.toml"))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_named_pipe_is_refused_without_hanging(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.toml"
    os.mkfifo(fifo)
    outcome: list[str] = []

    def load() -> None:
        try:
            load_config(str(fifo))
        except ScenarioConfigError as e:
            outcome.append(str(e))

    t = threading.Thread(target=load, daemon=True)
    t.start()
    t.join(timeout=10)
    assert not t.is_alive(), "reading a named pipe blocked"
    assert outcome and "is a named pipe, expected a regular file" in outcome[0]


def test_size_cap(tmp_path: Path) -> None:
    f = tmp_path / "big.toml"
    f.write_text("# " + "x" * (1 << 20) + "\n")
    with pytest.raises(ScenarioConfigError, match="expected at most 1,048,576"):
        load_config(str(f))
    with pytest.raises(InputFileError, match="expected at most 10"):
        read_input_text(f, 10)


def test_nesting_is_capped(tmp_path: Path) -> None:
    f = tmp_path / "deep.toml"
    for depth in (MAX_TOML_DEPTH + 1, 600):  # parsed then refused; too deep to parse
        f.write_text("x = " + "[" * depth + "]" * depth + "\n")
        with pytest.raises(ScenarioConfigError, match="nested"):
            load_config(str(f))


@pytest.mark.parametrize("preset", ['["small"]', "{ a = 1 }", "3", '"nope"'])
def test_preset_must_be_a_preset_name(tmp_path: Path, preset: str) -> None:
    f = tmp_path / "p.toml"
    f.write_text(f"preset = {preset}\n")
    with pytest.raises(ScenarioConfigError, match="preset = .*expected one of"):
        load_config(str(f))


def test_digest_covers_content_not_the_file_name(tmp_path: Path) -> None:
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    for f in (a, b):
        f.write_text('preset = "small"\nseed = 3\n')
    ca, cb = load_config(str(a)), load_config(str(b))
    assert ca.name != cb.name and ca.digest() == cb.digest()
    assert ca.digest() != load_config("small").digest()  # the seed differs


def test_presets_validate() -> None:
    for name in PRESETS:
        assert load_config(name).name == name


# -- environment


def test_environment_variables_are_checked_together(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    env = {
        "TSODSO_AREA_THREADS": "two",
        "TSODSO_MODEL_THREADS": "0",
        "TSODSO_CACHE": str(blocker / "cache"),
        "TSODSO_HIGHS_LOG": "maybe",
    }
    problems = environment_problems(env)
    assert [p.split(" = ")[0] for p in problems] == list(env)
    assert environment_problems({"TSODSO_AREA_THREADS": "2", "TSODSO_HIGHS_LOG": "0"}) == []
    with pytest.raises(EnvironmentConfigError, match="TSODSO_AREA_THREADS = '0'"):
        area_threads({"TSODSO_AREA_THREADS": "0"})
    assert area_threads({"TSODSO_AREA_THREADS": " 3 "}) == 3
    with pytest.raises(EnvironmentConfigError, match="TSODSO_MODEL_THREADS = 'x'"):
        model_threads({"TSODSO_MODEL_THREADS": "x"})
    assert model_threads({"TSODSO_MODEL_THREADS": "1"}) == 1
    assert 1 <= model_threads({}) <= DEFAULT_MODEL_THREADS
    assert highs_log({"TSODSO_HIGHS_LOG": "0"}) is False
    assert highs_log({"TSODSO_HIGHS_LOG": "yes"}) is True
