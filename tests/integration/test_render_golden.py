"""Golden renderings (issue 13): the message logs of five small-preset runs that between
them send every kind a standard renders (bids, forwarded bids, curves, activations, needs,
schedules, set-points, prices, envelopes, metering, remittances, network data), stored with
their render contexts, must render in every standard to exactly the documents the original
(per-element) renderers wrote: the SHA-256 of every document's encoding, type, name, size
and bytes per (model, standard) was recorded from them before the renderers were
vectorised. The stored logs keep this independent of the markets: a clearing that moves
results changes nothing here.

Regenerate (only when a format change is intended, and say so in the commit):

    .venv/bin/python -m tests.integration.test_render_golden --write
"""

from __future__ import annotations

import gzip
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tsodso.exchange.messages import Message, payload_bytes
from tsodso.exchange.standards import (
    STANDARDS,
    RenderContext,
    log_digest,
    render_log,
)

DATA = Path(__file__).parent / "data" / "render_golden.json.gz"
#: between them every kind a standard renders: smartnet-b (bids, curves, schedules,
#: activations, set-points, metering, remittances), smartnet-d (needs, network data, bills),
#: future-worlds-c (nodal and system prices), ferc-dso (forwarded bids), oen-hybrid (envelopes)
MODELS = ("smartnet-b", "smartnet-d", "future-worlds-c", "ferc-dso", "oen-hybrid")


def _enc(v: Any) -> Any:
    """A value as JSON with its numpy type kept (floats as repr: exact round trip)."""
    if isinstance(v, np.ndarray):
        data = v.ravel().tolist()
        return {"__nd__": v.dtype.str, "shape": list(v.shape), "data": data}
    if isinstance(v, np.generic):
        return {"__np__": v.dtype.str, "v": v.item()}
    if isinstance(v, pd.DataFrame):
        return {"__df__": {str(c): _enc(v[c].to_numpy()) for c in v.columns}}
    return v


def _dec(v: Any) -> Any:
    if isinstance(v, dict) and "__nd__" in v:
        dt = np.dtype(v["__nd__"])
        return np.array(v["data"], dtype=dt).reshape(v["shape"])
    if isinstance(v, dict) and "__np__" in v:
        return np.dtype(v["__np__"]).type(v["v"])
    if isinstance(v, dict) and "__df__" in v:
        return pd.DataFrame({c: _dec(x) for c, x in v["__df__"].items()})
    return v


def _ctx_to_json(ctx: RenderContext) -> dict[str, Any]:
    return {
        "day": ctx.day.isoformat(),
        "first_period": ctx.first_period,
        "dt_h": ctx.dt_h,
        "der_index": dict(ctx.der_index),
        "der_node": _enc(ctx.der_node),
        "node_cp": _enc(ctx.node_cp),
        "node_bus": _enc(ctx.node_bus),
        "bid_price": _enc(ctx.bid_price),
        "bid_q_max": _enc(ctx.bid_q_max),
        "aggregators": sorted(ctx.aggregators),
        "period_iso": list(ctx.period_iso),
        "settlement_lines": _enc(ctx.settlement_lines),
        "baseline_mw": _enc(ctx.baseline_mw),
        "imbalance_eur_per_mwh": ctx.imbalance_eur_per_mwh,
    }


def _ctx_of_json(c: dict[str, Any]) -> RenderContext:
    return RenderContext(
        day=date.fromisoformat(c["day"]),
        first_period=c["first_period"],
        dt_h=c["dt_h"],
        der_index=c["der_index"],
        der_node=_dec(c["der_node"]),
        node_cp=_dec(c["node_cp"]),
        node_bus=_dec(c["node_bus"]),
        bid_price=_dec(c["bid_price"]),
        bid_q_max=_dec(c["bid_q_max"]),
        aggregators=frozenset(c["aggregators"]),
        period_iso=tuple(c["period_iso"]),
        settlement_lines=_dec(c["settlement_lines"]),
        baseline_mw=_dec(c["baseline_mw"]),
        imbalance_eur_per_mwh=c["imbalance_eur_per_mwh"],
    )


def _msg_to_json(m: Message) -> dict[str, Any]:
    p = {k: _enc(v) for k, v in m.payload.items()}
    return {
        "step": m.step,
        "sender": m.sender,
        "receiver": m.receiver,
        "kind": m.kind,
        "period": m.period,
        "payload": p,
        "bytes": m.bytes,
    }


def _msg_of_json(m: dict[str, Any]) -> Message:
    p = {k: _dec(v) for k, v in m["payload"].items()}
    return Message(m["step"], m["sender"], m["receiver"], m["kind"], m["period"], p, m["bytes"])


def write() -> None:
    """Run the models on the small preset and store their logs, contexts and digests."""
    import tsodso
    from tsodso.pipeline import render_messages

    prep = tsodso.prepare("small")
    runs = {}
    for model in MODELS:
        run = tsodso.run(prep, model)
        scn, life = prep.scn, run.life
        ctx = RenderContext.of(
            scn, life.settlement.lines, life.baselines[scn.config.settlement.baseline]
        )
        msgs = [*run.messages.messages, *life.messages.messages]
        digests = {
            std: log_digest(render_messages(scn, run.messages, life, std, keep=True))
            for std in STANDARDS
        }
        runs[model] = {
            "context": _ctx_to_json(ctx),
            "messages": [_msg_to_json(m) for m in msgs],
            "digests": digests,
        }
    DATA.parent.mkdir(exist_ok=True)
    with gzip.open(DATA, "wt", encoding="utf-8", compresslevel=9) as f:
        json.dump(runs, f, separators=(",", ":"))


@pytest.fixture(scope="module")
def golden() -> dict[str, Any]:
    with gzip.open(DATA, "rt", encoding="utf-8") as f:
        out: dict[str, Any] = json.load(f)
    return out


@pytest.mark.parametrize("model", MODELS)
def test_every_standard_renders_the_golden_bytes(golden: dict[str, Any], model: str) -> None:
    g = golden[model]
    ctx = _ctx_of_json(g["context"])
    msgs = [_msg_of_json(m) for m in g["messages"]]
    # the stored logs are the ones the digests were taken of: their payload sizes hold
    assert [payload_bytes(m.payload) for m in msgs] == [m.bytes for m in msgs]
    assert set(g["digests"]) == set(STANDARDS)
    for std, want in g["digests"].items():
        log = render_log(msgs, ctx, std, keep=True)
        assert log_digest(log) == want, (
            f"{model} in {std}: the documents differ from the golden ones"
        )
        sizes = render_log(msgs, ctx, std, keep=False)
        assert [d.size for m in sizes.messages for d in m.documents] == [
            len(d.body) for m in log.messages for d in m.documents
        ]


def test_the_golden_logs_send_every_rendered_kind(golden: dict[str, Any]) -> None:
    kinds = {m["kind"] for g in golden.values() for m in g["messages"]}
    rendered = {
        "bids", "forwarded_bids", "interface_curve", "activation", "needs",
        "interface_schedule", "remittance", "setpoint", "price_signal", "system_price",
        "doe", "meter_data",
    }  # fmt: skip
    assert rendered <= kinds, sorted(rendered - kinds)


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python -m tests.integration.test_render_golden --write")
    write()
