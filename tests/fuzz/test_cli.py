"""Fuzz the command line's options: commands with random options (valid, mistyped, out of
range, repeated models, unwritable or empty --out, malformed or closed schedulers) and
random TSODSO_* variables. The outcome is exit status 0 (``models``), 2 with a message
and no traceback, or, where everything was valid, the start of the work (stopped there:
building a scenario or starting a sweep is what the other suites run)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from typer.testing import CliRunner

from tests.fuzz.budget import COUNTS, fuzz
from tsodso.cli.main import app

runner = CliRunner()
_DIR = Path(tempfile.mkdtemp(prefix="tsodso-fuzz-cli-"))
(_DIR / "a-file").write_text("x")
(_DIR / "full").mkdir()
(_DIR / "full" / "notes.txt").write_text("x")


class Accepted(Exception):
    """Raised where the work would start: every option was accepted."""


@pytest.fixture(scope="module", autouse=True)
def stop_before_work() -> Any:
    import tsodso.api  # noqa: F401  bound to the real builder before it is patched here
    import tsodso.scenario.build as build

    def stop(*a: Any, **k: Any) -> None:
        raise Accepted

    import tsodso.scale.sweep as sweep

    mp = pytest.MonkeyPatch()
    mp.setattr(build, "build_scenario", stop)
    mp.setattr(sweep, "run_sweep", stop)  # its points are built in other processes
    yield
    mp.undo()


_scenarios = st.sampled_from(
    ["small", "default", "nope", "", str(_DIR), str(_DIR / "a-file"), str(_DIR / "missing")]
)
_models = st.sampled_from(
    ["smartnet-a", "smartnet-a,smartnet-d", "all", "nope", "smartnet-a,smartnet-a", "", ","]
)
_outs = st.sampled_from(
    [str(_DIR / "new"), str(_DIR / "full"), str(_DIR / "a-file"), "", str(_DIR / "a-file/x")]
)
_numbers = st.sampled_from(["1", "0", "-3", "2.5", "inf", "nan", "1e309", "x", "300", "65"])
_schedulers = st.sampled_from(
    ["tcp://127.0.0.1:1", "localhost:8786", "tcp://", "tcp://127.0.0.1:99999", "x://y:1", ""]
)
_vary = st.sampled_from(["seed=1,2", "day=400", "ders=1", "seed.x=1", "nope", "seed=1,,2"])


@st.composite
def command_lines(draw: st.DrawFn) -> list[str]:
    cmd = draw(st.sampled_from(["compare", "run", "sweep", "models"]))
    args = [cmd]
    if draw(st.booleans()):
        args += ["--scenario", draw(_scenarios)]
    if cmd == "models":
        args += draw(st.sampled_from([[], ["--json"], ["--markdown"]]))
        return args
    if cmd == "run":
        args += ["--model", draw(_models), "--out", draw(_outs)]
        if draw(st.booleans()):
            args.append("--replace")
    elif draw(st.booleans()):
        args += ["--models", draw(_models)]
    if cmd in ("compare", "run") and draw(st.booleans()):
        args += ["--time-limit", draw(_numbers)]
    if cmd == "compare" and draw(st.booleans()):
        args += ["--out", draw(_outs)]
    if cmd == "sweep":
        for _ in range(draw(st.integers(0, 2))):
            args += ["--vary", draw(_vary)]
        if draw(st.booleans()):
            args += ["--workers", draw(_numbers)]
        if draw(st.integers(0, 3)) == 0:
            args += ["--scheduler", draw(_schedulers)]
        if draw(st.booleans()):
            args += ["--out", draw(_outs)]
    return args


_env = st.fixed_dictionaries(
    {},
    optional={
        "TSODSO_AREA_THREADS": st.sampled_from(["1", "0", "x", " 2 ", "999"]),
        "TSODSO_CACHE": st.sampled_from([str(_DIR / "cache"), str(_DIR / "a-file"), ""]),
        "TSODSO_HIGHS_LOG": st.sampled_from(["0", "1", "maybe"]),
    },
)


@fuzz("cli: options")
@given(args=command_lines(), env=_env)
def test_options(args: list[str], env: dict[str, str]) -> None:
    COUNTS["cli: options"] += 1
    res = runner.invoke(app, args, env=env)
    if isinstance(res.exception, Accepted):
        event("accepted: work would start")
        return
    assert "Traceback" not in res.output
    assert res.exit_code in (0, 2), (args, env, res.output, res.exception)
    if res.exit_code == 2:
        event("refused")
        assert res.output.strip()  # a message, not silence
    else:
        event("done (models)")
        assert args[0] == "models"
