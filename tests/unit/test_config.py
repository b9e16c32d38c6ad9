from __future__ import annotations

from pathlib import Path

import pytest

from tsodso.schema.config import PRESETS, ScenarioConfigError, config_from_dict, load_config


def test_presets_load() -> None:
    for name in PRESETS:
        assert load_config(name).name == name


def test_bad_file_lists_every_problem(tmp_path: Path) -> None:
    f = tmp_path / "bad.toml"
    f.write_text('day = 400\nseed = "x"\nrenewable_scale = -1\nfoo = 1\n[ders]\nev_share = 3\n')
    with pytest.raises(ScenarioConfigError) as e:
        load_config(str(f))
    text = str(e.value)
    for field in ("day = 400", "seed", "renewable_scale", "foo", "ders.ev_share"):
        assert field in text
    assert len(e.value.problems) == 5


def test_toml_overrides_a_preset(tmp_path: Path) -> None:
    f = tmp_path / "mine.toml"
    f.write_text('preset = "small"\nseed = 3\n[ders]\nbattery_share = 0.5\n')
    cfg = load_config(str(f))
    assert (cfg.seed, cfg.periods, cfg.ders.battery_share) == (3, 8, 0.5)
    assert cfg.name == "mine"


def test_window_must_fit_the_day(tmp_path: Path) -> None:
    f = tmp_path / "w.toml"
    f.write_text("first_period = 90\nperiods = 10\n")
    with pytest.raises(ScenarioConfigError, match="first_period \\+ periods"):
        load_config(str(f))


def test_not_toml_and_missing(tmp_path: Path) -> None:
    f = tmp_path / "x.toml"
    f.write_text("this is = = not toml")
    with pytest.raises(ScenarioConfigError, match="not valid TOML"):
        load_config(str(f))
    with pytest.raises(ScenarioConfigError, match="no such file"):
        load_config(str(tmp_path / "missing.toml"))


def test_digest_changes_with_content() -> None:
    a, b = load_config("default"), load_config("small")
    assert a.digest() != b.digest()
    assert a.digest() == load_config("default").digest()


def test_historical_baseline_needs_enough_earlier_days() -> None:
    from tsodso.scenario.build import build_scenario

    cfg = config_from_dict(
        {"day": 3, "periods": 2, "settlement": {"baseline": "historical", "history_days": 10}}
    )
    with pytest.raises(ScenarioConfigError) as e:
        build_scenario(cfg)
    assert "settlement.baseline = 'historical'" in str(e.value)
    assert "earlier weekday" in str(e.value) or "earlier weekend" in str(e.value)
