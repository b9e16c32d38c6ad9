"""Why a need is unmet (issue 12): every unmet need of a run gets a reason read off the
offers, what the markets bought and what they saw, and the table adds up to the KPIs."""

from __future__ import annotations

import pytest

from tsodso.pipeline import Prepared, prepare, run_model
from tsodso.scenario.build import build_scenario
from tsodso.schema.config import load_config


@pytest.fixture(scope="module")
def disc() -> Prepared:
    return prepare(build_scenario(load_config("discriminating")))


def test_reasons_follow_each_models_rules(disc: Prepared) -> None:
    # a central market has no distribution model: its distribution violations are limits
    # its market does not model
    central = run_model(disc, "smartnet-a")
    t = central.unmet_needs()
    assert central.kpis["voltage_violations_distribution"] > 0
    volt = t[t.need == "voltage"]
    assert set(volt.reason) == {"limit not modelled by this model's markets"}
    assert volt.amount.sum() == central.kpis["voltage_violations_distribution"]
    # a local market clears only the DSO's needs: balancing is not its need
    local = run_model(disc, "coordinet-local")
    t = local.unmet_needs()
    imb = t[t.need == "imbalance"]
    assert set(imb.reason) == {"not a need of this model"}
    assert imb.amount.sum() == pytest.approx(local.kpis["unresolved_imbalance_mwh"], abs=1e-3)
    # fragmented markets: the TSO cannot reach the distribution offers that would balance
    frag = run_model(disc, "coordinet-fragmented").unmet_needs()
    assert set(frag[frag.need == "imbalance"].reason) == {"withheld by the model's rules"}
    # the joint market saw every offer and every limit: nothing is withheld from it
    joint = run_model(disc, "smartnet-d").unmet_needs()
    assert "withheld by the model's rules" not in set(joint.reason)
    assert "not a need of this model" not in set(joint.reason)


def test_overloads_add_up_to_the_ac_check(disc: Prepared) -> None:
    r = run_model(disc, "smartnet-c")
    t = r.unmet_needs()
    over = t[t.need == "overload"].amount.sum()
    assert over == pytest.approx(r.kpis["overload_mwh"], abs=1e-3)
    assert "unmet_needs" in r.tables()
