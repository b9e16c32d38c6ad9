"""OpenADR 3 renderings (programs, events, reports as the OpenADR 3.1 REST API's JSON
objects), the standard of the North American models.

Mapping (OpenADR 3 has a VTN, the operator, publishing programs and events, and VENs, the
aggregators and their resources, answering with reports):

- an operator's **Program** (``tsodso-<operator>-flexibility``) and its day-ahead
  solicitation **Event** are published with the first message that needs them;
- ``bids`` (aggregator -> operator): a **Report** on that event, one resource per DER, one
  interval per period with ``UP_REGULATION_AVAILABLE`` or ``DOWN_REGULATION_AVAILABLE``
  (kW) and the bid price as ``BID_PRICE`` (EUR/MWh; a private payload type, which OpenADR 3
  allows: it defines no bid);
- ``activation`` (operator -> aggregator): one **Event** per DER with
  ``DISPATCH_SETPOINT_RELATIVE`` (kW, consumption positive: an ``up`` activation is
  negative);
- ``setpoint`` (aggregator -> DERs): one **Event** per DER with ``DISPATCH_SETPOINT`` (kW,
  consumption positive);
- ``price_signal`` (DSO -> aggregator) and ``system_price`` (TSO -> DSO): **Events** with
  ``PRICE`` per interval, one per node for nodal prices;
- ``doe``: one **Event** per connection point with ``EXPORT_CAPACITY_LIMIT`` or
  ``IMPORT_CAPACITY_LIMIT`` (kW) per interval;
- ``meter_data`` (DERs -> aggregator): a **Report** with ``USAGE`` (kWh per interval,
  consumption positive) per DER.

Every other kind keeps the JSON encoding. Tests validate each object against the
``openadr3`` package's models of the API's JSON (MIT): every field known to them, every
required field present, payload types from OpenADR 3's lists (or the one private type).

Owns: the OpenADR 3 objects. Must not: decide what is exchanged.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import numpy as np

from tsodso.exchange.messages import Message
from tsodso.exchange.standards.base import (
    Document,
    RenderContext,
    Renderer,
    by_kind,
    message_id,
)

NAME = "openadr3"
LABEL = "OpenADR 3.1 JSON"
#: payload types used here: OpenADR 3's event and report payload types, and one private
EVENT_PAYLOADS = frozenset(
    {
        "PRICE",
        "DISPATCH_SETPOINT",
        "DISPATCH_SETPOINT_RELATIVE",
        "EXPORT_CAPACITY_LIMIT",
        "IMPORT_CAPACITY_LIMIT",
        "SIMPLE",
    }
)
REPORT_PAYLOADS = frozenset(
    {"USAGE", "UP_REGULATION_AVAILABLE", "DOWN_REGULATION_AVAILABLE", "BID_PRICE"}
)
PRIVATE_PAYLOADS = frozenset({"BID_PRICE"})


@functools.cache
def program_id(operator: str) -> str:
    """The id of an operator's flexibility program."""
    return message_id(NAME, "program", operator)


@functools.cache
def solicitation_id(operator: str) -> str:
    """The id of an operator's day-ahead bid solicitation event."""
    return message_id(NAME, "solicitation", operator)


def _period(ctx: RenderContext, t: int = 0) -> dict[str, str]:
    return {"start": ctx.period_iso[t], "duration": f"PT{round(ctx.dt_h * 60)}M"}


def _dump(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _doc(i: int, kind: str, obj: dict[str, Any], tag: str) -> Document:
    raw = _dump(obj)
    t = obj["objectType"]
    return Document(NAME, t, f"{i:06d}-{kind}-{t}-{tag}.json", len(raw), raw)


def _program_docs(
    operator: str, i: int, kind: str, ctx: RenderContext, state: dict[str, str]
) -> list[Document]:
    """The operator's program and solicitation event, the first time they are needed."""
    if state.get(f"program/{operator}"):
        return []
    state[f"program/{operator}"] = "1"
    program = {
        "objectType": "PROGRAM",
        "id": program_id(operator),
        "programName": f"tsodso-{operator}-flexibility",
        "intervalPeriod": _period(ctx),
        "payloadDescriptors": [
            {"objectType": "EVENT_PAYLOAD_DESCRIPTOR", "payloadType": t, "units": "KW"}
            for t in ("DISPATCH_SETPOINT_RELATIVE",)
        ],
    }
    event = {
        "objectType": "EVENT",
        "id": solicitation_id(operator),
        "programID": program_id(operator),
        "eventName": f"{operator} bid solicitation",
        "reportDescriptors": [
            {"payloadType": t, "units": "KW"}
            for t in ("UP_REGULATION_AVAILABLE", "DOWN_REGULATION_AVAILABLE")
        ],
        "intervalPeriod": _period(ctx),
        "intervals": [{"id": 0, "payloads": [{"type": "SIMPLE", "values": [1]}]}],
    }
    return [_doc(i, kind, program, operator), _doc(i, kind, event, f"{operator}-solicitation")]


def _interval(k: int, ctx: RenderContext, t: int, payloads: str) -> str:
    """One interval object as JSON text (the hot path: formatted, not dumped)."""
    return (
        f'{{"id":{k},"intervalPeriod":{{"start":"{ctx.period_iso[t]}",'
        f'"duration":"PT{round(ctx.dt_h * 60)}M"}},"payloads":[{payloads}]}}'
    )


def _report(head: dict[str, Any], resources: list[tuple[str, list[str]]]) -> bytes:
    """A report whose resources' intervals are already JSON text."""
    text = json.dumps(head, separators=(",", ":"))[:-1]
    res = ",".join(
        f'{{"resourceName":{json.dumps(name)},"intervals":[{",".join(iv)}]}}'
        for name, iv in resources
    )
    return f'{text},"resources":[{res}]}}'.encode()


def _bids(msg: Message, i: int, ctx: RenderContext, state: dict[str, str]) -> list[Document]:
    p = msg.payload
    docs = _program_docs(msg.receiver, i, msg.kind, ctx, state)
    ders = np.asarray(p["der"]).astype(str)
    kw = np.round(np.asarray(p["q_max_mw"], dtype=float) * 1e3, 3).tolist()
    price = np.round(np.asarray(p["price"], dtype=float), 4).tolist()
    up = (np.asarray(p["direction"], dtype=int) > 0).tolist()
    period = np.asarray(p["period"], dtype=int).tolist()
    resources: dict[str, list[str]] = {}
    for k, d in enumerate(ders.tolist()):
        kind = "UP_REGULATION_AVAILABLE" if up[k] else "DOWN_REGULATION_AVAILABLE"
        iv = resources.setdefault(d, [])
        payloads = (
            f'{{"type":"{kind}","values":[{kw[k]!r}]}},'
            f'{{"type":"BID_PRICE","values":[{price[k]!r}]}}'
        )
        iv.append(_interval(len(iv), ctx, period[k], payloads))
    head = {
        "objectType": "REPORT",
        "id": message_id(NAME, i, "report"),
        "eventID": solicitation_id(msg.receiver),
        "clientName": msg.sender,
        "reportName": f"{msg.kind} of {msg.sender}",
        "payloadDescriptors": [
            {"objectType": "REPORT_PAYLOAD_DESCRIPTOR", "payloadType": t, "units": u}
            for t, u in (
                ("UP_REGULATION_AVAILABLE", "KW"),
                ("DOWN_REGULATION_AVAILABLE", "KW"),
                ("BID_PRICE", "EUR_PER_MWH"),
            )
        ],
    }
    raw = _report(head, list(resources.items()))
    name = f"{i:06d}-{msg.kind}-REPORT-{msg.sender}.json"
    return [*docs, Document(NAME, "REPORT", name, len(raw), raw)]


def _event(
    i: int,
    msg: Message,
    ctx: RenderContext,
    tag: str,
    payload_type: str,
    units: str,
    values: list[tuple[int, float]],  # (period, value)
    targets: list[str] | None,
) -> Document:
    """One event: one payload type, one interval per (period, value)."""
    desc = f'{{"objectType":"EVENT_PAYLOAD_DESCRIPTOR","payloadType":"{payload_type}",' + (
        f'"units":"{units}"}}' if units != "EUR" else '"units":"MWH","currency":"EUR"}'
    )
    intervals = ",".join(
        _interval(k, ctx, t, f'{{"type":"{payload_type}","values":[{v!r}]}}')
        for k, (t, v) in enumerate(values)
    )
    tgt = "" if targets is None else f',"targets":{json.dumps(targets)}'
    text = (
        f'{{"objectType":"EVENT","id":"{message_id(NAME, i, tag)}",'
        f'"programID":"{program_id(msg.sender)}","eventName":{json.dumps(f"{msg.kind} {tag}")},'
        f'"payloadDescriptors":[{desc}],"intervals":[{intervals}]{tgt}}}'
    )
    raw = text.encode()
    return Document(NAME, "EVENT", f"{i:06d}-{msg.kind}-EVENT-{tag}.json", len(raw), raw)


def _per_der(msg: Message, i: int, ctx: RenderContext, state: dict[str, str]) -> list[Document]:
    p = msg.payload
    docs = _program_docs(msg.sender, i, msg.kind, ctx, state)
    ders = np.asarray(p["der"]).astype(str)
    for k, d in enumerate(ders):
        if msg.kind == "activation":
            kw = -int(p["direction"][k]) * float(p["q_mw"][k]) * 1e3
            kind = "DISPATCH_SETPOINT_RELATIVE"
        else:  # setpoint: the DER's net injection -> consumption positive
            kw = -float(p["p_mw"][k]) * 1e3
            kind = "DISPATCH_SETPOINT"
        docs.append(_event(i, msg, ctx, f"{d}-{k}", kind, "KW", [(msg.period, round(kw, 3))], [d]))
    return docs


def _prices(msg: Message, i: int, ctx: RenderContext, state: dict[str, str]) -> list[Document]:
    p = msg.payload
    docs = _program_docs(msg.sender, i, msg.kind, ctx, state)
    price = np.atleast_2d(np.asarray(p["price"], dtype=float))
    nodes = np.asarray(p["node"], dtype=int) if "node" in p else None
    for j in range(price.shape[0]):
        vals = [(t, round(float(x), 4)) for t, x in enumerate(price[j])]
        if nodes is None:
            docs.append(_event(i, msg, ctx, "system", "PRICE", "EUR", vals, None))
        else:
            bus = f"bus-{int(ctx.node_bus[nodes[j]])}"
            docs.append(_event(i, msg, ctx, bus, "PRICE", "EUR", vals, [bus]))
    return docs


def _does(msg: Message, i: int, ctx: RenderContext, state: dict[str, str]) -> list[Document]:
    p = msg.payload
    docs = _program_docs(msg.sender, i, msg.kind, ctx, state)
    kind = "EXPORT_CAPACITY_LIMIT" if int(p["direction"]) > 0 else "IMPORT_CAPACITY_LIMIT"
    lim = np.atleast_2d(np.asarray(p["limit_mw"], dtype=float))
    for j, node in enumerate(np.asarray(p["node"], dtype=int)):
        bus = f"bus-{int(ctx.node_bus[node])}"
        vals = [(t, round(float(x) * 1e3, 3)) for t, x in enumerate(lim[j])]
        docs.append(_event(i, msg, ctx, bus, kind, "KW", vals, [bus]))
    return docs


def _meter(msg: Message, i: int, ctx: RenderContext, state: dict[str, str]) -> list[Document]:
    p = msg.payload
    docs = _program_docs(msg.receiver, i, msg.kind, ctx, state)
    ders = np.asarray(p["der"]).astype(str)
    kwh = np.round(-np.atleast_2d(np.asarray(p["p_mw"], dtype=float)) * ctx.dt_h * 1e3, 3)
    resources = [
        (
            d,
            [
                _interval(t, ctx, t, f'{{"type":"USAGE","values":[{v!r}]}}')
                for t, v in enumerate(row)
            ],
        )
        for d, row in zip(ders.tolist(), kwh.tolist(), strict=True)
    ]
    head = {
        "objectType": "REPORT",
        "id": message_id(NAME, i, "report"),
        "eventID": solicitation_id(msg.receiver),
        "clientName": msg.sender,
        "reportName": f"meter data for {msg.receiver}",
        "payloadDescriptors": [
            {"objectType": "REPORT_PAYLOAD_DESCRIPTOR", "payloadType": "USAGE", "units": "KWH"}
        ],
    }
    raw = _report(head, resources)
    name = f"{i:06d}-{msg.kind}-REPORT-{msg.receiver}.json"
    return [*docs, Document(NAME, "REPORT", name, len(raw), raw)]


RENDERERS: dict[str, Renderer] = {
    "bids": _bids,
    "forwarded_bids": _bids,
    "activation": _per_der,
    "setpoint": _per_der,
    "price_signal": _prices,
    "system_price": _prices,
    "doe": _does,
    "meter_data": _meter,
}

#: the OpenADR 3 documents of one message, or None where OpenADR 3 has none
render = by_kind(RENDERERS, "OpenADR 3")
