"""The command line against bad input and interruptions (issue 11): options, the
environment and the scenario are checked together before any work (exit 2, one message,
no traceback), JSON is strict, a model without a solution shows no numbers, Ctrl-C ends
with one line and exit status 130."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from tsodso.cli import main as cli
from tsodso.cli.main import app

runner = CliRunner()


@pytest.fixture
def no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if a scenario is built: the refusal must come before any work."""
    import tsodso.api  # noqa: F401  bound to the real builder before it is patched here
    import tsodso.scenario.build as build

    def forbidden(*a: Any, **k: Any) -> None:
        raise AssertionError("a scenario was built before the options were checked")

    monkeypatch.setattr(build, "build_scenario", forbidden)


def _refused(args: list[str], env: dict[str, str] | None = None) -> str:
    res = runner.invoke(app, args, env=env)
    assert res.exit_code == 2, res.output
    assert (
        "Traceback" not in res.output
        and res.exception is None
        or isinstance(res.exception, SystemExit)
    )
    return " ".join(res.output.split())  # rich wraps long lines


def test_out_is_checked_before_any_work(tmp_path: Path, no_work: None) -> None:
    a_file = tmp_path / "f"
    a_file.write_text("x")
    text = _refused(["run", "--model", "smartnet-a", "-s", "small", "--out", str(a_file)])
    assert "exists and is not a directory" in text
    text = _refused(["run", "--model", "smartnet-a", "-s", "small", "--out", str(a_file / "d")])
    assert "its parent" in text
    text = _refused(["run", "--model", "smartnet-a", "-s", "small", "--out", ""])
    assert "--out '': expected a directory path" in text
    text = _refused(["compare", "-s", "small", "--out", str(a_file)])
    assert "exists and is not a directory" in text
    text = _refused(["sweep", "--vary", "seed=1,2", "--out", str(a_file)])
    assert "exists and is not a directory" in text
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    text = _refused(["run", "--model", "smartnet-a", "-s", "small", "--out", str(mine)])
    assert "not a tsodso run directory" in text and "--replace" in text


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs a read-only /proc")
def test_out_that_cannot_be_written(no_work: None) -> None:
    text = _refused(["run", "--model", "smartnet-a", "-s", "small", "--out", "/proc/tsodso"])
    assert "cannot write in /proc" in text


def test_scenario_path_mistakes(tmp_path: Path, no_work: None) -> None:
    assert "empty path" in _refused(["compare", "-s", ""])
    assert "is a directory" in _refused(["compare", "-s", str(tmp_path)])
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    assert "sets nothing" in _refused(["compare", "-s", str(empty)])
    listed = tmp_path / "list.toml"
    listed.write_text('preset = ["small"]\n')
    assert "expected one of" in _refused(["compare", "-s", str(listed)])


def test_every_problem_in_one_message(tmp_path: Path, no_work: None) -> None:
    f = tmp_path / "bad.toml"
    f.write_text('preset = "small"\nseed = -1\n')
    text = _refused(
        ["sweep", "-s", str(f), "--vary", "nope=1", "--workers", "-3", "--out", ""]
        + ["-m", "smartnet-a,smartnet-a"],
        env={"TSODSO_AREA_THREADS": "x"},
    )
    for part in (
        "--workers -3",
        "--out ''",
        "--vary nope",
        "TSODSO_AREA_THREADS = 'x'",
        "seed = -1",
    ):
        assert part in text, part
    f.write_text('preset = "small"\n')
    text = _refused(["compare", "-s", str(f), "-m", "nope,smartnet-a,nope", "--out", ""])
    assert "unknown model id(s): nope" in text and "--out ''" in text and "more than once" in text


def test_option_values(no_work: None) -> None:
    assert "more than once" in _refused(["compare", "-s", "small", "-m", "smartnet-a,smartnet-a"])
    for bad in ("0", "-1", "inf", "nan"):
        assert "--time-limit" in _refused(["compare", "-s", "small", "--time-limit", bad])
    assert "--workers 0" in _refused(["sweep", "--vary", "seed=1,2", "--workers", "0"])
    text = _refused(["sweep", "--vary", "seed=1,2", "--scheduler", "localhost:8786"])
    assert "expected tcp://HOST:PORT" in text
    text = _refused(["sweep", "--vary", "seed=1,2", "--scheduler", "tcp://127.0.0.1:1"])
    assert "cannot reach it" in text
    text = _refused(["sweep", "--vary", "ders=1", "--vary", "seed.x=2", "--vary", "seed=1,,2"])
    assert "--vary ders" in text and "--vary seed.x" in text and "empty value" in text
    text = _refused(["compare", "-s", "small"], env={"TSODSO_CACHE": "/proc/tsodso-cache"})
    assert "TSODSO_CACHE" in text


def test_rich_markup_in_a_name_is_text(tmp_path: Path) -> None:
    f = tmp_path / "m.toml"
    f.write_text('preset = "no-d-congestion"\nname = "[bold]x[/] [/]"\n')
    res = runner.invoke(app, ["compare", "-s", str(f), "-m", "smartnet-a"])
    assert res.exit_code == 0, res.output
    assert "[bold]x[/] [/]" in res.output


def _strict(token: str) -> None:
    raise ValueError(f"not strict JSON: {token}")


def test_no_solution_is_null_in_json_and_a_dash_in_tables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    res = runner.invoke(
        app,
        ["compare", "-s", "no-d-congestion", "-m", "smartnet-a", "--time-limit", "1e-6"]
        + ["--json", "--out", str(tmp_path / "cmp")],
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout, parse_constant=_strict)
    saved = json.loads((tmp_path / "cmp" / "comparison.json").read_text(), parse_constant=_strict)
    assert saved["results"] == doc["results"]
    (r,) = doc["results"]
    assert r["status"] == "time_limit"
    assert r["kpis"]["procurement_cost_eur"] is None
    assert r["kpis"]["unresolved_imbalance_mwh"] is None
    assert r["kpis"]["wall_time_s"] is not None
    shown = io.StringIO()
    monkeypatch.setattr(cli, "out", Console(file=shown, width=400))
    cli._print_table(doc)
    row = next(line for line in shown.getvalue().splitlines() if "smartnet-a" in line)
    cells = [c.strip() for c in row.strip("│ ").split("│")]
    assert cells[:3] == ["smartnet-a", "time_limit", "-"]


def _interrupt_after(seconds: float, args: list[str]) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-c", "from tsodso.cli.entry import main; main()", *args]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(seconds)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    return subprocess.CompletedProcess(cmd, p.returncode, out, err)


def test_ctrl_c_while_importing_is_one_line_and_exit_130() -> None:
    done = _interrupt_after(0.5, ["compare", "-s", "small"])
    assert done.returncode == 130, done.stderr
    assert done.stderr.strip() == "interrupted"


def test_ctrl_c_while_clearing_is_one_line_and_exit_130() -> None:
    # interrupted when the first model has cleared and 33 are left (not after a fixed
    # time: on a fast machine the small comparison is over in two seconds)
    cmd = [sys.executable, "-c", "from tsodso.cli.entry import main; main()"]
    cmd += ["compare", "-s", "small", "--models", "all"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stderr is not None
    seen = []
    for line in p.stderr:
        seen.append(line)
        if " in " in line and ":" in line:  # a model's progress line: clearing is under way
            break
    p.send_signal(signal.SIGINT)
    out, rest = p.communicate(timeout=120)
    assert seen and " in " in seen[-1], seen
    assert p.returncode == 130, rest
    # a model that finished while the signal travelled may still report; then one line
    assert rest.strip().splitlines()[-1] == "interrupted" and "Traceback" not in rest


def test_run_without_a_solution_exits_1_and_says_so(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["run", "--model", "smartnet-a", "-s", "no-d-congestion", "--no-doe"]
    res = runner.invoke(app, [*args, "--time-limit", "1e-6", "--out", str(out)])
    assert res.exit_code == 1, res.output
    assert "no solution (time_limit)" in res.output and "Traceback" not in res.output
    m = json.loads((out / "manifest.json").read_text(), parse_constant=_strict)
    assert m["solver"]["has_solution"] is False
    assert m["kpis"]["procurement_cost_eur"] is None


def test_help_texts_are_shown_whole() -> None:
    # rich markup would eat text in square brackets; every option's help must show whole
    import typer

    group = typer.main.get_command(app)
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        res = runner.invoke(app, [name, "--help"], env={"COLUMNS": "200"})
        assert res.exit_code == 0, res.output
        shown = " ".join(res.output.replace("│", " ").split())
        for param in command.params:
            if getattr(param, "help", None):
                assert " ".join(param.help.split()) in shown, (name, param.help)
