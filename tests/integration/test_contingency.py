"""Normal and contingency operation: an outage and a forecast-error spike switch the
operators to the DSO override and the TSO's emergency curtailment, which the message log
and the KPIs record; events that cannot happen on the grid are refused with every reason."""

from __future__ import annotations

import numpy as np
import pytest

from tsodso.dispatch.stacking import stack
from tsodso.operation.contingency import real_time_ac
from tsodso.pipeline import Prepared, prepare, run_model
from tsodso.scenario.build import build_scenario
from tsodso.schema.actors import is_dso
from tsodso.schema.config import PRESETS, ScenarioConfigError, config_from_dict, load_config


@pytest.fixture(scope="module")
def outage() -> Prepared:
    """The contingency preset: a 110 kV line (about 170 % on its parallel path) and one of
    a TDI transformer pair trip, and feeder MV1.104 sees 50 % more sun, in periods 2-5."""
    return prepare(build_scenario(load_config("contingency")))


def test_outage_switches_to_contingency_rules(outage: Prepared) -> None:
    r = run_model(outage, "smartnet-a")
    k = r.kpis
    msgs = r.life.messages.table()
    rules = msgs[msgs.step == "contingency"]
    # the DSO overrode TSO activations that pushed a broken distribution limit further
    from_dso = rules.sender.map(is_dso)  # the overloaded feeder's own DSO
    assert (from_dso & (rules.receiver == "TSO") & (rules.kind == "override")).any()
    assert k["dso_override_mwh"] > 0 and k["dso_override_activations"] > 0
    over = r.life.contingency.overrides
    assert over.reason.str.startswith("DSO override").all()
    assert set(over.period) <= set(range(2, 6))  # only while the events last
    # the TSO called emergency curtailment
    assert ((rules.sender == "TSO") & (rules.kind == "emergency_curtailment")).any()
    assert k["emergency_curtailment_mwh"] > 0 and k["emergency_cost_eur"] > 0
    # ... which brought the transmission grid back within its ratings
    scn = outage.scn
    before = real_time_ac(
        scn, outage.ac_model, outage.realtime, stack(scn, r.outcome.purchases, r.model.mechanism)
    )
    t = ~r.ac.branch_is_distribution
    ev = slice(2, 6)
    assert np.nanmax(before.branch_loading[ev][:, t]) > 1.5
    assert np.nanmax(r.ac.branch_loading[ev][:, t]) < 1.05
    # overridden activations are not paid; emergency curtailment is, by the TSO
    lines = r.life.settlement.lines
    assert (lines.step == "emergency curtailment").any()
    assert (lines[lines.step == "emergency curtailment"].buyer == "TSO").all()
    assert r.life.settlement.ledger.total_cents() == 0


def test_normal_operation_has_no_contingency(outage: Prepared) -> None:
    scn = build_scenario(config_from_dict(PRESETS["small"]))
    r = run_model(prepare(scn), "smartnet-a")
    assert r.life.contingency is None
    assert "dso_override_mwh" not in r.kpis
    assert not (r.life.messages.table().step == "contingency").any()


def test_impossible_events_are_refused_with_every_reason() -> None:
    bad = [
        {"kind": "line_outage", "element": 999999},
        {"kind": "line_outage", "element": 0},  # a 20 kV distribution line
        {"kind": "trafo_outage", "element": 18},  # alone feeds an MV3 feeder root
        {"kind": "forecast_error", "feeder": "MV9.999"},
    ]
    cfg = config_from_dict({**PRESETS["small"], "name": "bad-events", "events": bad})
    with pytest.raises(ScenarioConfigError) as e:
        build_scenario(cfg)
    text = str(e.value)
    assert "4 problem(s)" in text
    for needle in (
        "events[0].element = 999999",
        "events[1].element = 0",
        "distribution line",
        "events[2].element = 18",
        "island",
        "events[3].feeder = 'MV9.999'",
    ):
        assert needle in text, needle
