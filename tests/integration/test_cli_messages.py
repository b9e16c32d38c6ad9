"""``tsodso run --out`` writes the run's messages in its region's standard (one zip per
encoding), ``--standard`` picks another, and a wrong name is a usage error."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from typer.testing import CliRunner

from tsodso.cli.main import app
from tsodso.exchange.standards.archive import read_archive
from tsodso.exchange.standards.validate import validate

runner = CliRunner()


def test_run_writes_messages_in_the_regions_standard(tmp_path: Path) -> None:
    args = ["run", "--model", "oen-hybrid", "-s", "small", "--no-doe", "--out", str(tmp_path)]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "IEEE 2030.5 / CSIP-AUS" in res.output
    zips = sorted(p.name for p in tmp_path.glob("messages-*.zip"))
    assert zips == ["messages-csip-aus.zip", "messages-json.zip"]
    docs = read_archive(tmp_path / "messages-csip-aus.zip")
    assert docs and {d.doc_type for d in docs} == {"DERControlList"}
    validate(docs[0])
    kpis = json.loads((tmp_path / "manifest.json").read_text())["kpis"]
    total = sum(
        len(z.read(n))
        for p in tmp_path.glob("messages-*.zip")
        for z in [zipfile.ZipFile(p)]
        for n in z.namelist()
        if n != "index.csv"
    )
    assert kpis["message_bytes"] == total


def test_run_standard_option(tmp_path: Path) -> None:
    args = ["run", "--model", "smartnet-a", "-s", "small", "--no-doe", "--out", str(tmp_path)]
    res = runner.invoke(app, [*args, "--standard", "openadr3"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "messages-openadr3.zip").exists()
    bad = runner.invoke(app, [*args, "--standard", "telex"])
    assert bad.exit_code == 2 and "unknown standard 'telex'" in bad.output


def test_run_standard_umei_writes_valid_documents(tmp_path: Path) -> None:
    args = ["run", "--model", "smartnet-a", "-s", "small", "--no-doe", "--out", str(tmp_path)]
    res = runner.invoke(app, [*args, "--standard", "umei"])
    assert res.exit_code == 0, res.output
    assert "EUniversal UMEI" in res.output
    assert (tmp_path / "messages-umei.zip").exists()
    docs = read_archive(tmp_path / "messages-umei.zip")
    seen: dict[str, int] = {}
    for d in docs:  # the first few of each type (the day's bids are ~29,000 orders)
        seen[d.doc_type] = seen.get(d.doc_type, 0) + 1
        if seen[d.doc_type] <= 50:
            validate(d)
    assert {"Market", "Portfolio", "Order", "TradeSearchResult", "MeterReadings"} <= set(seen)
    kpis = json.loads((tmp_path / "manifest.json").read_text())["kpis"]
    umei_bytes = sum(
        len(z.read(n))
        for z in [zipfile.ZipFile(tmp_path / "messages-umei.zip")]
        for n in z.namelist()
        if n != "index.csv"
    )
    assert kpis["message_bytes_umei"] == umei_bytes
