"""The command line against its contract (shapes of --json, files of run --out, errors)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from tsodso.cli.main import app
from tsodso.envelopes.doe import METHODS
from tsodso.kpi.metrics import KPI_KEYS

runner = CliRunner()


@pytest.fixture(scope="module")
def compare_small() -> dict:  # type: ignore[type-arg]
    res = runner.invoke(app, ["compare", "--scenario", "small", "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_compare_json_shape(compare_small: dict) -> None:  # type: ignore[type-arg]
    doc = compare_small
    assert set(doc) >= {"scenario", "results"}
    assert doc["scenario"]["sizes"]["feeders"] >= 10
    assert [r["model"] for r in doc["results"]] == ["smartnet-a", "smartnet-d"]
    for r in doc["results"]:
        assert r["status"] == "optimal"
        assert set(KPI_KEYS) <= set(r["kpis"])


def test_central_shows_distribution_violations_joint_fixes_them(compare_small: dict) -> None:  # type: ignore[type-arg]
    k = {r["model"]: r["kpis"] for r in compare_small["results"]}
    central, joint = k["smartnet-a"], k["smartnet-d"]
    assert central["voltage_violations"] > 100
    assert joint["voltage_violations"] <= 0.05 * central["voltage_violations"]
    # both resolve the TSO's needs: the markets leave no imbalance; what delivery leaves
    # (forecast errors, failed units, rebound) is less than doing nothing
    base = compare_small["scenario"]["baseline"]
    for kpis in (central, joint):
        assert kpis["overload_transmission_mwh"] < 0.1 * base["overload_transmission_mwh"]
    assert central["market_unmet_imbalance_mwh"] == 0 and joint["market_unmet_imbalance_mwh"] == 0
    imbalance = base["imbalance_mwh"]
    assert 0 < central["unresolved_imbalance_mwh"] < imbalance
    assert 0 < joint["unresolved_imbalance_mwh"] < imbalance
    # respecting distribution limits costs more, and the DSO pays the increment
    assert joint["procurement_cost_eur"] > central["procurement_cost_eur"]
    assert joint["dso_cost_eur"] > 0 and central["dso_cost_eur"] == 0
    assert joint["social_welfare_eur"] > central["social_welfare_eur"]
    # the common market needs distribution network data at the platform: the small grid's
    # 15 DSOs (one per HV/MV substation) each hold their own, and the platform all of them
    assert joint["d_network_data_holders"] == 16 and central["d_network_data_holders"] == 15


def test_models_json_lists_the_catalogue() -> None:
    res = runner.invoke(app, ["models", "--json"])
    assert res.exit_code == 0
    rows = json.loads(res.stdout)["models"]
    assert len(rows) == 34
    assert len({r["id"] for r in rows}) == 34
    for r in rows:
        assert r["source"] and r["region"] in {"EU", "GB", "AU", "NA"}
        assert {"operator", "sequence", "d_constraints", "d_path", "priority", "interface"} <= set(
            r["parameters"]
        )


def test_run_writes_tables_and_manifest(tmp_path: Path) -> None:
    res = runner.invoke(
        app, ["run", "--model", "smartnet-a", "--scenario", "small", "--out", str(tmp_path)]
    )
    assert res.exit_code == 0, res.output
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["solver"]["status"] == "optimal"
    assert manifest["seed"] == 7 and len(manifest["scenario"]["digest"]) == 16
    assert manifest["versions"]["highspy"]
    act = pd.read_parquet(tmp_path / "activations.parquet")
    assert len(act) > 0 and (act.accepted_mw > 0).all()
    msgs = pd.read_parquet(tmp_path / "messages.parquet")
    assert set(msgs.kind) >= {"bids", "activation", "setpoint", "meter_data", "remittance"}
    # the lifecycle's tables (issue 4): registration to settlement, DOEs per method
    read = {p.stem: pd.read_parquet(p) for p in tmp_path.glob("*.parquet")}
    for name in (
        "registrations",
        "grid_prequalification",
        "does",
        "doe_summary",
        "setpoints",
        "metered",
        "baselines",
        "baseline_errors",
        "settlement_lines",
        "ledger",
        "statements",
        "stacking",
    ):
        assert name in read and len(read[name]) > 0, name
    assert set(read["doe_summary"].method) == set(METHODS)
    assert set(read["baseline_errors"].method) == {"nominated", "historical", "mbma"}
    assert read["ledger"].cents.dtype.kind == "i"  # money in integer cents
    totals = read["statements"][read["statements"].counterparty == "(total)"]
    assert totals.net_eur.sum() == pytest.approx(0.0, abs=1e-9)  # every party, to the cent
    assert set(totals.party) >= {"TSO", *(f"dera-{i}" for i in range(1, 5))}
    assert "settlement" in res.output and "ledger total 0 cents" in res.output


def test_run_takes_one_model(tmp_path: Path) -> None:
    res = runner.invoke(
        app, ["run", "--model", "smartnet-a,smartnet-d", "-s", "small", "--out", str(tmp_path)]
    )
    assert res.exit_code == 2 and "expected one model id" in res.output


def test_time_limit_stops_a_decomposition_with_its_best_result() -> None:
    args = ["compare", "-s", "small", "-m", "smartnet-d-decentralised", "--json"]
    res = runner.invoke(app, [*args, "--time-limit", "1"])
    assert res.exit_code == 0, res.output
    (r,) = json.loads(res.stdout)["results"]
    assert r["status"] == "time_limit"
    assert r["kpis"]["procurement_cost_eur"] > 0  # its best point so far, reported
    bad = runner.invoke(app, [*args, "--time-limit", "0"])
    assert bad.exit_code == 2 and "--time-limit" in bad.output


def test_unknown_model_is_one_clear_message() -> None:
    res = runner.invoke(app, ["compare", "--models", "smartnet-a,nope,also-nope"])
    assert res.exit_code == 2
    assert "nope" in res.output and "also-nope" in res.output
    assert "Traceback" not in res.output


def test_bad_scenario_file_lists_every_problem(tmp_path: Path) -> None:
    f = tmp_path / "bad.toml"
    f.write_text("grid = 3\nperiods = 0\n[penalties]\nimbalance_eur_per_mwh = -5\n")
    res = runner.invoke(app, ["compare", "--scenario", str(f)])
    assert res.exit_code == 2
    for field in ("grid", "periods", "penalties.imbalance_eur_per_mwh"):
        assert field in res.output
    assert "Traceback" not in res.output


def test_unknown_grid_is_a_clear_message(tmp_path: Path) -> None:
    f = tmp_path / "g.toml"
    f.write_text('grid = "pandapower:no_such_case"\n')
    res = runner.invoke(app, ["compare", "--scenario", str(f)])
    assert res.exit_code == 2
    assert "no_such_case" in res.output and "Traceback" not in res.output


def test_user_defined_model_in_the_scenario_file(tmp_path: Path) -> None:
    f = tmp_path / "mine.toml"
    f.write_text(
        'preset = "no-d-congestion"\n'
        "[models.my-filtered]\n"
        'operator = "separate"\nsequence = "dso_then_tso"\nd_constraints = "full"\n'
        'd_path = "filtered"\npriority = "dso"\n'
    )
    res = runner.invoke(app, ["compare", "-s", str(f), "-m", "my-filtered", "--json"])
    assert res.exit_code == 0, res.output
    (r,) = json.loads(res.stdout)["results"]
    assert r["model"] == "my-filtered" and r["family"] == "sequential"
    assert r["status"] == "optimal"
    listed = runner.invoke(app, ["models", "--json", "-s", str(f)])
    ids = [m["id"] for m in json.loads(listed.stdout)["models"]]
    assert "my-filtered" in ids and len(ids) == 35
    f.write_text(f.read_text() + 'sequence = "sideways"\n')  # duplicate key: invalid TOML
    bad = runner.invoke(app, ["compare", "-s", str(f)])
    assert bad.exit_code == 2 and "Traceback" not in bad.output


def test_doe_model_reports_hosting_and_fairness() -> None:
    res = runner.invoke(app, ["compare", "-s", "small", "-m", "oen-hybrid,smartnet-a", "--json"])
    assert res.exit_code == 0, res.output
    k = {r["model"]: r["kpis"] for r in json.loads(res.stdout)["results"]}
    assert k["oen-hybrid"]["doe_hosting_mw"] > 0
    assert 0 < k["oen-hybrid"]["doe_fairness_jain"] <= 1
    assert k["oen-hybrid"]["discarded_flexibility_mwh"] > 0
    assert k["smartnet-a"]["doe_hosting_mw"] is None  # no envelopes in a model without DOEs
