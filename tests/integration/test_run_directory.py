"""A run directory is whole (issue 11): written beside its target and moved into place,
never mixed with an earlier run's files, never left looking complete after an
interruption; its manifest says when, how and from what it was made, with a checksum per
file; wide tables have key tables."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tsodso.pipeline import Prepared, RunResult, run_model
from tsodso.report import tables as report
from tsodso.report.tables import files_under, is_run_dir, run_dir_problems, write_run


@pytest.fixture(scope="module")
def result(small_prepared: Prepared) -> RunResult:
    return run_model(small_prepared, "smartnet-a")


def _write(out: Path, prep: Prepared, r: RunResult, **kw: object) -> list[Path]:
    return write_run(out, prep.scn, prep, r, **kw)  # type: ignore[arg-type]


def test_rerun_replaces_the_directory_whole(
    tmp_path: Path, small_prepared: Prepared, result: RunResult
) -> None:
    out = tmp_path / "run"
    extra = {"does": pd.DataFrame({"x": [1.0]})}
    _write(out, small_prepared, result, extra=extra)
    assert (out / "does.parquet").exists() and is_run_dir(out)
    files = _write(out, small_prepared, result)  # an earlier run's directory: replaced
    assert not (out / "does.parquet").exists()
    assert files_under(out) == {p.relative_to(out).as_posix() for p in files}
    assert "details/ledger.parquet" in files_under(out)  # the report's tables, listed too
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no temporary left beside it
    from tsodso.report.files import DIR_MODE, FILE_MODE

    assert out.stat().st_mode & 0o777 == DIR_MODE  # not the private mode of a temp dir
    inside = list(out.rglob("*"))
    assert {p.stat().st_mode & 0o777 for p in inside if p.is_dir()} == {DIR_MODE}
    assert {p.stat().st_mode & 0o777 for p in inside if not p.is_dir()} == {FILE_MODE}


def test_a_directory_it_did_not_write(
    tmp_path: Path, small_prepared: Prepared, result: RunResult
) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep")
    assert run_dir_problems(str(out), replace=False)
    with pytest.raises(FileExistsError, match="--replace"):
        _write(out, small_prepared, result)
    assert (out / "notes.txt").read_text() == "keep"
    _write(out, small_prepared, result, replace=True)
    assert not (out / "notes.txt").exists() and is_run_dir(out)
    # a run directory a user added a file to is no longer one tsodso may replace unasked
    (out / "notes.txt").write_text("added")
    assert not is_run_dir(out) and run_dir_problems(str(out), replace=False)
    (out / "notes.txt").unlink()
    assert is_run_dir(out)
    (out / "details" / "notes.txt").write_text("added in a subdirectory")
    assert not is_run_dir(out)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run_dir_problems(str(empty), replace=False) == []


def test_an_interrupted_run_leaves_the_old_directory(
    tmp_path: Path,
    small_prepared: Prepared,
    result: RunResult,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = tmp_path / "run"
    _write(out, small_prepared, result, context={"started_utc": "first"})
    before = {name: (out / name).read_bytes() for name in files_under(out)}
    calls = []

    def interrupted(path: Path) -> str:
        calls.append(path)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return "x"

    monkeypatch.setattr(report, "sha256_file", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _write(out, small_prepared, result, context={"started_utc": "second"})
    assert {name: (out / name).read_bytes() for name in files_under(out)} == before
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_manifest_says_how_the_run_was_made(
    tmp_path: Path, small_prepared: Prepared, result: RunResult
) -> None:
    out = tmp_path / "run"
    context = {"started_utc": "2026-01-01T00:00:00+00:00", "command_line": ["tsodso", "run"]}
    _write(out, small_prepared, result, context={**context, "options": {"doe": False}})
    m = json.loads((out / "manifest.json").read_text())
    assert m["created_by"] == "tsodso run" and m["command_line"] == ["tsodso", "run"]
    assert m["options"] == {"doe": False} and m["started_utc"] == context["started_utc"]
    assert m["finished_utc"] >= m["started_utc"]
    assert m["tsodso"]["version"] and "git" in m["tsodso"]
    git = m["tsodso"]["git"]
    assert git is None or len(git["commit"]) == 40
    assert len(m["grid"]["sha256"]) == 64 and m["grid"]["spec"].startswith("simbench:")
    assert m["grid"]["sha256"] == report.grid_data_sha256(small_prepared.scn.net)
    assert m["solver"]["has_solution"] is True
    for name, info in m["files"].items():
        data = (out / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == info["sha256"] and len(data) == info["bytes"]
    assert set(m["files"]) | {"manifest.json"} == files_under(out)


def test_key_tables_map_wide_columns_to_the_grid(
    tmp_path: Path, small_prepared: Prepared, result: RunResult
) -> None:
    out = tmp_path / "run"
    _write(out, small_prepared, result)
    loading = pd.read_parquet(out / "branch_loading.parquet")
    keys = pd.read_parquet(out / "branch_keys.parquet")
    assert list(keys.column) == [c for c in loading.columns if c != "period"]
    net = small_prepared.scn.net
    lines = keys[keys.element_table == "line"]
    assert (net.line.from_bus.loc[lines.element_index].to_numpy() == lines.from_bus).all()
    trafos = keys[keys.element_table == "trafo"]
    assert (net.trafo.lv_bus.loc[trafos.element_index].to_numpy() == trafos.to_bus).all()
    assert np.array_equal(keys.distribution.to_numpy(), result.ac.branch_is_distribution)
    voltages = pd.read_parquet(out / "node_voltages.parquet")
    nodes = pd.read_parquet(out / "node_keys.parquet")
    assert set(nodes.column) == {c for c in voltages.columns if c != "period"}
    assert set(nodes.bus) == set(net.bus.index)
    assert (nodes.layer == "transmission").sum() > 0 and nodes.layer.nunique() == 19
