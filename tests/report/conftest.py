"""One comparison of the small preset written by the CLI (compare --out --report), shared by
the report's tests: the files are the report's contract, so the tests read them."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tsodso.cli.main import app

MODELS = "smartnet-a,smartnet-d"


@pytest.fixture(scope="session")
def small_compare(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``compare -s small --out DIR --report DIR/report.html`` (two models, 8 periods)."""
    out = tmp_path_factory.mktemp("compare-small")
    res = CliRunner().invoke(
        app,
        [
            "compare",
            "-s",
            "small",
            "-m",
            MODELS,
            "--out",
            str(out),
            "--report",
            str(out / "report.html"),
        ],
    )
    assert res.exit_code == 0, res.output
    return out
