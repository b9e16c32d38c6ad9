"""``tsodso report``: one self-contained HTML page from a compare, run, sweep or assess output
directory; and the part of ``compare --out/--report`` that keeps what the report draws
(an edge: it imports the core and ``tsodso.report``, never the reverse).

Owns: the command, its messages and the hand-over from ``compare``. Must not: compute
results or draw figures.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

err = Console(stderr=True)


def report(
    source: Annotated[
        Path,
        typer.Argument(help="the --out directory of `tsodso compare`, `run` or `sweep`"),
    ],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="the HTML file to write (default: SOURCE/report.html)"),
    ] = None,
) -> None:
    """Write one self-contained HTML report (figures, sortable KPI table; opens offline)
    from an output directory."""
    from tsodso.report import ReportInputError

    dest = out if out is not None else source / "report.html"
    try:
        write_and_say(source, dest)
    except ReportInputError as e:
        err.print(f"[bold red]error:[/] {escape(str(e))}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from None


def write_and_say(source: Path, dest: Path, label: str | None = None) -> Path:
    """Write the report of ``source`` to ``dest`` and print its size and time."""
    from tsodso.report import write_report

    t0 = time.perf_counter()
    path = write_report(source, dest, label)
    size = path.stat().st_size / 1e6
    err.print(
        f"report: wrote {escape(str(path))} ({size:.1f} MB) in {time.perf_counter() - t0:.1f} s",
        highlight=False,
        soft_wrap=True,
    )
    return path


def collector() -> Any:
    """What ``compare`` hands each model's run to when it writes files or a report."""
    from tsodso.report.details import Details

    return Details()


def finish_compare(
    doc: dict[str, Any], details: Any, out_dir: Path | None, report_file: Path | None
) -> None:
    """After ``compare``: write the report tables next to ``comparison.json`` (``--out``)
    and the HTML report (``--report``). Without ``--out`` the report is made from the same
    files written to a temporary directory, so it equals ``tsodso report`` of them."""
    if out_dir is not None:
        details.write(out_dir)
        if report_file is not None:
            write_and_say(out_dir, report_file)
        return
    if report_file is None:
        return
    with tempfile.TemporaryDirectory(prefix="tsodso-report-") as tmp:
        src = Path(tmp)
        (src / "comparison.json").write_text(json.dumps(doc, indent=2))
        details.write(src)
        name = (doc.get("scenario") or {}).get("name", "")
        write_and_say(src, report_file, label=f"tsodso compare, scenario {name}")
