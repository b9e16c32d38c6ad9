"""Operating protocols per model (issue 14 item 5): on the contingency preset, models whose
protocols differ act differently in real time (who instructs whom and through whom, the
DSO's override and red light, envelopes), which shows in the message log and the KPIs; a
lost instruction is handled as each protocol says; bad protocols and message-loss events
are refused with every problem named."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from tsodso.coordination.catalogue import (
    CATALOGUE,
    CatalogueError,
    get_model,
    load_catalogue,
    models_for,
)
from tsodso.pipeline import Prepared, RunResult, prepare, run_model
from tsodso.scenario.build import build_scenario
from tsodso.schema.actors import MO, TSO, is_dso
from tsodso.schema.config import PRESETS, ScenarioConfigError, config_from_dict, load_config
from tsodso.schema.operating import OperatingProtocol

DSO_LED, TSO_CENTRAL = "smartnet-b", "smartnet-a"
SIP, HYBRID = "oen-single-integrated-platform", "oen-hybrid"


@pytest.fixture(scope="module")
def contingency() -> Prepared:
    """The contingency preset (outages and a forecast error spike in periods 2-5)."""
    return prepare(build_scenario(load_config("contingency")))


@pytest.fixture(scope="module")
def runs(contingency: Prepared) -> dict[str, RunResult]:
    return {
        m: run_model(contingency, get_model(m).at_stages("single"))
        for m in (TSO_CENTRAL, DSO_LED, SIP, HYBRID)
    }


def _rules(r: RunResult) -> pd.DataFrame:
    msgs = r.life.messages.table()
    return msgs[msgs.step == "contingency"]


def _has(rules: pd.DataFrame, sender: object, receiver: object, kind: str) -> bool:
    """Whether a message of ``kind`` went from a sender to a receiver matching the tests
    (callables) or names."""
    s = rules.sender.map(sender) if callable(sender) else rules.sender == sender
    r = rules.receiver.map(receiver) if callable(receiver) else rules.receiver == receiver
    return bool((s & r & (rules.kind == kind)).any())


def _aggregator(actor: str) -> bool:
    return actor.startswith("dera-")


def test_every_model_has_a_protocol_with_its_basis() -> None:
    for mid, m in CATALOGUE.items():
        assert m.protocol_basis, mid
        assert m.as_dict()["protocol"] == m.protocol.model_dump()
    # the seed paper: in OpEN SIP and the hybrid the DSO has no direct control over DERs
    for mid in (SIP, HYBRID):
        assert not CATALOGUE[mid].protocol.dso_override
    assert CATALOGUE[HYBRID].protocol.red_light == "envelope"
    assert len({m.protocol for m in CATALOGUE.values()}) >= 4


def test_protocol_table_problems_are_all_named() -> None:
    text = "\n".join(
        [
            "[smartnet-a]",
            'tso_instructs = "carrier_pigeon"',
            'red_light = "envelope"',
            'basis = "x"',
            "[no-such-model]",
            'basis = "y"',
        ]
    )
    with pytest.raises(CatalogueError) as e:
        load_catalogue(protocols=text)
    msg = str(e.value)
    for needle in (
        "[smartnet-a].tso_instructs",
        "carrier_pigeon",
        "[no-such-model] is no catalogue model",
        "no table for model 'oen-hybrid'",
    ):
        assert needle in msg, needle


def test_three_models_follow_different_protocols(runs: dict[str, RunResult]) -> None:
    a, b, sip, hyb = (runs[m] for m in (TSO_CENTRAL, DSO_LED, SIP, HYBRID))
    ra, rb, rs, rh = (_rules(r) for r in (a, b, sip, hyb))
    # SmartNet A: the DSO overrides the TSO's activations and its red lights block the
    # TSO's emergency activations that would worsen its feeders; the TSO instructs directly
    assert _has(ra, is_dso, TSO, "override") and _has(ra, is_dso, _aggregator, "override")
    assert _has(ra, is_dso, TSO, "red_light")
    assert _has(ra, TSO, _aggregator, "emergency_curtailment")
    assert a.kpis["dso_override_mwh"] > 0 and a.kpis["red_light_blocked_bids"] > 0
    # SmartNet B (DSO-led): the TSO's instructions pass the DSOs, and a DSO redispatches
    # its red feeders itself, paying for it
    assert _has(rb, TSO, is_dso, "emergency_curtailment")
    assert _has(rb, is_dso, _aggregator, "emergency_curtailment")
    assert _has(rb, is_dso, _aggregator, "dso_curtailment")
    assert b.kpis["dso_curtailment_mwh"] > 0 and b.kpis["dso_curtailment_cost_eur"] > 0
    lines = b.life.settlement.lines
    mine = lines[lines.step == "DSO emergency redispatch"]
    assert len(mine) and mine.buyer.map(is_dso).all()
    # OpEN SIP: no DSO acts at all (no direct control); AEMO's platform relays the TSO
    assert not rs.sender.map(is_dso).any()
    assert _has(rs, TSO, MO, "emergency_curtailment") and _has(
        rs, MO, _aggregator, "emergency_curtailment"
    )
    assert not _has(rs, TSO, _aggregator, "emergency_curtailment")
    assert sip.kpis["dso_override_mwh"] == 0 and sip.kpis["dso_curtailment_mwh"] == 0
    # OpEN hybrid: no override either; the DSO tightens envelopes, which AEMO applies
    assert not (rh.kind == "override").any()
    assert _has(rh, is_dso, MO, "envelope_update") and _has(rh, MO, _aggregator, "envelope_update")
    assert hyb.kpis["envelope_tightening_mwh"] > 0
    env = hyb.life.settlement.lines
    assert env[env.step == "DSO envelope tightening"].buyer.map(is_dso).all()
    # ... so the four runs differ in their contingency KPIs and their message counts
    keys = (
        "dso_override_mwh",
        "red_light_blocked_bids",
        "dso_curtailment_mwh",
        "envelope_tightening_mwh",
    )
    assert len({tuple(r.kpis[k] for k in keys) for r in (a, b, sip, hyb)}) == 4
    assert len({len(r) for r in (ra, rb, rs, rh)}) == 4
    for r in (a, b, sip, hyb):
        assert r.life.settlement.ledger.total_cents() == 0


@pytest.mark.parametrize("model", [DSO_LED, HYBRID])
def test_the_dsos_red_light_action_relieves_its_feeders(
    contingency: Prepared, runs: dict[str, RunResult], model: str
) -> None:
    """The same market outcome without the DSO's action on a red light leaves more
    distribution voltage violations in the event periods."""
    preset = get_model(model).at_stages("single")
    passive = dataclasses.replace(
        preset,
        protocol=preset.protocol.model_copy(
            update={"red_light": "none", "on_lost_message": "no_action"}
        ),
    )
    without = run_model(contingency, passive)
    dist = contingency.scn.grid.node_layer >= 0

    def violations(r: RunResult) -> int:
        ac = r.ac
        with np.errstate(invalid="ignore"):
            bad = (ac.vm_pu > ac.node_vmax + 1e-6) | (ac.vm_pu < ac.node_vmin - 1e-6)
        return int(bad[2:6][:, dist].sum())

    assert violations(runs[model]) < violations(without)
    assert without.kpis["dso_curtailment_mwh"] == without.kpis["envelope_tightening_mwh"] == 0


def test_lost_instructions_are_handled_as_each_protocol_says(
    runs: dict[str, RunResult],
) -> None:
    prep = prepare(build_scenario(load_config("contingency-lost-message")))
    lost = {
        m: run_model(prep, get_model(m).at_stages("single")) for m in (TSO_CENTRAL, DSO_LED, HYBRID)
    }
    t = ~lost[TSO_CENTRAL].ac.branch_is_distribution
    for m, r in lost.items():
        rules = _rules(r)
        gone = rules[rules.kind.str.endswith("(lost)")]
        assert len(gone) and set(gone.period) <= {4, 5}, m
        assert (gone.sender.map(lambda s: s == TSO or is_dso(s))).all(), m
        assert r.kpis["lost_instruction_bids"] > 0 and r.kpis["lost_ordered_mwh"] > 0, m
    # no_action (SmartNet A): the TSO's lost emergency curtailment is not executed, and
    # the overload it was to relieve stays in periods 4-5 (not in 2-3)
    a = lost[TSO_CENTRAL]
    assert a.kpis["lost_executed_mwh"] == 0
    assert (a.life.contingency.lost.handling == "no_action").all()
    loading = np.nan_to_num(a.ac.branch_loading[:, t]).max(axis=1)
    # (in 2-3 the lines stay within the linear models' error at binding limits, a few %)
    assert loading[4:6].min() > 1.05 and loading[2:4].max() < 1.1
    assert loading[4:6].min() > loading[2:4].max() + 0.3
    # hold_last (SmartNet B): the DSOs and aggregators repeat the last instruction they
    # received, so the transmission grid stays within its ratings
    b = lost[DSO_LED]
    assert b.kpis["lost_executed_mwh"] > 0
    assert (b.life.contingency.lost.handling == "hold_last").all()
    held = np.nan_to_num(b.ac.branch_loading[2:6][:, t]).max()
    assert held < 1.1 and held < loading[4:6].min() - 0.3  # A's overload is not there
    # fallback_envelope (OpEN hybrid): DERs that miss an envelope update fall back to the
    # default envelope, which tightens more than the DSO asked for
    h = lost[HYBRID]
    handled = h.life.contingency.lost
    env = handled[handled.kind == "envelope_update"]
    assert len(env) and (env.handling == "fallback_envelope").all()
    assert (env.executed_mw >= env.ordered_mw - 1e-9).all() and (
        env.executed_mw > env.ordered_mw
    ).any()
    assert h.kpis["envelope_tightening_mwh"] > runs[HYBRID].kpis["envelope_tightening_mwh"]


def test_a_message_loss_alone_switches_no_rules() -> None:
    cfg = config_from_dict(
        {
            **PRESETS["small"],
            "name": "loss-only",
            "periods": 2,
            "events": [{"kind": "message_loss", "sender": "TSO"}],
        }
    )
    r = run_model(prepare(build_scenario(cfg)), get_model(DSO_LED).at_stages("single"))
    assert r.life.contingency is None


def test_bad_message_loss_events_are_refused_with_every_reason() -> None:
    bad = [
        {"kind": "message_loss"},
        {"kind": "message_loss", "sender": "BRP", "element": 3, "feeder": "MV1.101"},
        {"kind": "message_loss", "sender": "DSO", "receiver": "DSO"},
        {"kind": "line_outage", "element": 1319, "sender": "TSO"},
        {"kind": "message_loss", "sender": "MO", "receiver": "someone"},
    ]
    with pytest.raises(ScenarioConfigError) as e:
        config_from_dict({**PRESETS["small"], "name": "bad-loss", "events": bad})
    text = str(e.value)
    assert "7 problem(s)" in text
    for needle in (
        "events[0].sender: kind = 'message_loss' needs a sender",
        "events[1].element: kind = 'message_loss' takes no element",
        "events[1].feeder",
        "events[1].sender = 'BRP'",
        "events[2].receiver = 'DSO': the same as the sender",
        "events[3].sender: kind = 'line_outage' takes no sender",
        "events[4].receiver = 'someone'",
    ):
        assert needle in text, needle
    # an aggregator or a DSO the scenario does not have
    with pytest.raises(
        ScenarioConfigError, match=r"events\[0\].receiver = 'dera-9': no such aggregator"
    ):
        config_from_dict(
            {
                **PRESETS["small"],
                "name": "bad-loss-2",
                "events": [{"kind": "message_loss", "sender": "TSO", "receiver": "dera-9"}],
            }
        )
    unknown = config_from_dict(
        {
            **PRESETS["small"],
            "name": "bad-loss-3",
            "events": [
                {"kind": "message_loss", "sender": "DSO-99"},
                {"kind": "message_loss", "sender": "TSO", "receiver": "DSO-77"},
            ],
        }
    )
    with pytest.raises(ScenarioConfigError) as e:
        build_scenario(unknown)
    text = str(e.value)
    assert "events[0].sender = 'DSO-99': no such DSO" in text
    assert "events[1].receiver = 'DSO-77': no such DSO" in text


def test_a_user_model_sets_its_protocol() -> None:
    point = {"operator": "tso", "sequence": "single", "d_constraints": "none", "d_path": "direct"}
    cfg = config_from_dict(
        {
            **PRESETS["small"],
            "name": "user-protocol",
            "models": {
                "mine": {**point, "protocol": {"tso_instructs": "via_dso", "red_light": "curtail"}},
                "plain": point,
            },
        }
    )
    models = models_for(cfg)
    assert models["mine"].protocol == OperatingProtocol(
        tso_instructs="via_dso", red_light="curtail"
    )
    assert models["plain"].protocol == OperatingProtocol()
    assert "default protocol" in models["plain"].protocol_basis
    with pytest.raises(ScenarioConfigError) as e:
        config_from_dict(
            {
                **PRESETS["small"],
                "name": "bad-protocol",
                "models": {
                    "a": {**point, "protocol": {"tso_instructs": "nowhere"}},
                    "b": {
                        **point,
                        "protocol": {"red_light": "envelope", "on_lost_message": "retry"},
                    },
                },
            }
        )
    text = str(e.value)
    assert "models.a.protocol.tso_instructs = 'nowhere'" in text
    assert "models.b.protocol.on_lost_message = 'retry'" in text


def test_readme_protocol_table_is_the_data() -> None:
    from pathlib import Path

    from tsodso.cli.main import protocols_markdown

    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    start = "<!-- protocols:start -->\n"
    listed = text[text.index(start) + len(start) : text.index("<!-- protocols:end -->")]
    assert listed == protocols_markdown(CATALOGUE)
