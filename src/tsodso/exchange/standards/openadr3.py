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
)
from tsodso.exchange.standards.text import json_str, message_id, message_ids, reprs, rounded

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


def _periods(ctx: RenderContext) -> tuple[str, ...]:
    """Each period's ``"intervalPeriod":{...},`` as JSON text."""
    return _interval_periods(ctx.period_iso, f"PT{round(ctx.dt_h * 60)}M")


@functools.cache
def _interval_periods(iso: tuple[str, ...], duration: str) -> tuple[str, ...]:
    return tuple(f'"intervalPeriod":{{"start":"{s}","duration":"{duration}"}},' for s in iso)


def _intervals(
    ctx: RenderContext, ids: list[int], periods: list[int], payloads: list[str]
) -> list[str]:
    """Interval objects as JSON text, one per (id, period, payloads)."""
    iv = _periods(ctx)
    return [
        f'{{"id":{k},{iv[t]}"payloads":[{p}]}}'
        for k, t, p in zip(ids, periods, payloads, strict=True)
    ]


def _report(head: dict[str, Any], resources: list[tuple[str, list[str]]]) -> bytes:
    """A report whose resources' intervals are already JSON text."""
    text = json.dumps(head, separators=(",", ":"))[:-1]
    res = ",".join(
        f'{{"resourceName":{json_str(name)},"intervals":[{",".join(iv)}]}}'
        for name, iv in resources
    )
    return f'{text},"resources":[{res}]}}'.encode()


def _bids(msg: Message, i: int, ctx: RenderContext, state: dict[str, str]) -> list[Document]:
    p = msg.payload
    docs = _program_docs(msg.receiver, i, msg.kind, ctx, state)
    ders = np.asarray(p["der"]).astype(str)
    kw = reprs(np.round(np.asarray(p["q_max_mw"], dtype=float) * 1e3, 3).tolist())
    price = reprs(np.round(np.asarray(p["price"], dtype=float), 4).tolist())
    up = np.asarray(p["direction"], dtype=int) > 0
    period = np.asarray(p["period"], dtype=int).tolist()
    # each DER a resource (in order of first appearance), its bids its intervals, in order
    names, first, code = np.unique(ders, return_index=True, return_inverse=True)
    order = np.argsort(code, kind="stable")
    counts = np.bincount(code, minlength=len(names))
    ids = np.empty(len(ders), dtype=int)
    ids[order] = np.arange(len(ders)) - np.repeat(np.cumsum(counts) - counts, counts)
    kinds = np.where(up, "UP_REGULATION_AVAILABLE", "DOWN_REGULATION_AVAILABLE").tolist()
    payloads = [
        f'{{"type":"{k}","values":[{q}]}},{{"type":"BID_PRICE","values":[{c}]}}'
        for k, q, c in zip(kinds, kw, price, strict=True)
    ]
    ivs = _intervals(ctx, ids.tolist(), period, payloads)
    bounds = np.cumsum(counts).tolist()
    by_der = order.tolist()
    resources = [
        (str(names[g]), [ivs[j] for j in by_der[bounds[g] - counts[g] : bounds[g]]])
        for g in np.argsort(first, kind="stable").tolist()
    ]
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
    raw = _report(head, resources)
    name = f"{i:06d}-{msg.kind}-REPORT-{msg.sender}.json"
    return [*docs, Document(NAME, "REPORT", name, len(raw), raw)]


def _events(
    i: int,
    msg: Message,
    ctx: RenderContext,
    tags: list[str],
    payload_type: str,
    units: str,
    periods: list[int],
    values: list[list[str]],  # per event, its values (JSON text), one per period
    targets: list[str] | None,  # per event, its one target; None: no targets
) -> list[Document]:
    """One event per tag: one payload type, one interval per (period, value)."""
    desc = f'{{"objectType":"EVENT_PAYLOAD_DESCRIPTOR","payloadType":"{payload_type}",' + (
        f'"units":"{units}"}}' if units != "EUR" else '"units":"MWH","currency":"EUR"}'
    )
    iv = _periods(ctx)
    heads = [
        f'{{"id":{k},{iv[t]}"payloads":[{{"type":"{payload_type}","values":['
        for k, t in enumerate(periods)
    ]
    ids = message_ids((NAME, i), tags)
    program = program_id(msg.sender)
    kind = json_str(msg.kind)[:-1]
    docs = []
    for e, tag in enumerate(tags):
        intervals = ",".join([f"{h}{v}]}}]}}" for h, v in zip(heads, values[e], strict=True)])
        tgt = "" if targets is None else f',"targets":[{json_str(targets[e])}]'
        raw = (
            f'{{"objectType":"EVENT","id":"{ids[e]}",'
            f'"programID":"{program}","eventName":{kind} {json_str(tag)[1:]},'
            f'"payloadDescriptors":[{desc}],"intervals":[{intervals}]{tgt}}}'
        ).encode()
        docs.append(Document(NAME, "EVENT", f"{i:06d}-{msg.kind}-EVENT-{tag}.json", len(raw), raw))
    return docs


def _per_der(msg: Message, i: int, ctx: RenderContext, state: dict[str, str]) -> list[Document]:
    p = msg.payload
    docs = _program_docs(msg.sender, i, msg.kind, ctx, state)
    ders = np.asarray(p["der"]).astype(str).tolist()
    if msg.kind == "activation":
        kw = -np.asarray(p["direction"], dtype=int) * np.asarray(p["q_mw"], dtype=float) * 1e3
        kind = "DISPATCH_SETPOINT_RELATIVE"
    else:  # setpoint: the DER's net injection -> consumption positive
        kw = -np.asarray(p["p_mw"], dtype=float) * 1e3
        kind = "DISPATCH_SETPOINT"
    tags = [f"{d}-{k}" for k, d in enumerate(ders)]
    values = [[v] for v in reprs(rounded(kw, 3))]
    docs += _events(i, msg, ctx, tags, kind, "KW", [msg.period], values, ders)
    return docs


def _prices(msg: Message, i: int, ctx: RenderContext, state: dict[str, str]) -> list[Document]:
    p = msg.payload
    docs = _program_docs(msg.sender, i, msg.kind, ctx, state)
    price = np.atleast_2d(np.asarray(p["price"], dtype=float))
    T = price.shape[1]
    flat = reprs(rounded(price, 4))
    values = [flat[j * T : (j + 1) * T] for j in range(price.shape[0])]
    if "node" not in p:
        tags = ["system"] * price.shape[0]
        return docs + _events(i, msg, ctx, tags, "PRICE", "EUR", list(range(T)), values, None)
    nodes = np.asarray(p["node"], dtype=int)
    buses = [f"bus-{b}" for b in ctx.node_bus[nodes].astype(int).tolist()]
    return docs + _events(i, msg, ctx, buses, "PRICE", "EUR", list(range(T)), values, buses)


def _does(msg: Message, i: int, ctx: RenderContext, state: dict[str, str]) -> list[Document]:
    p = msg.payload
    docs = _program_docs(msg.sender, i, msg.kind, ctx, state)
    kind = "EXPORT_CAPACITY_LIMIT" if int(p["direction"]) > 0 else "IMPORT_CAPACITY_LIMIT"
    lim = np.atleast_2d(np.asarray(p["limit_mw"], dtype=float))
    nodes = np.asarray(p["node"], dtype=int)
    T = lim.shape[1]
    flat = reprs(rounded(lim * 1e3, 3))
    values = [flat[j * T : (j + 1) * T] for j in range(len(nodes))]
    buses = [f"bus-{b}" for b in ctx.node_bus[nodes].astype(int).tolist()]
    return docs + _events(i, msg, ctx, buses, kind, "KW", list(range(T)), values, buses)


def _meter(msg: Message, i: int, ctx: RenderContext, state: dict[str, str]) -> list[Document]:
    p = msg.payload
    docs = _program_docs(msg.receiver, i, msg.kind, ctx, state)
    ders = np.asarray(p["der"]).astype(str)
    kwh = np.round(-np.atleast_2d(np.asarray(p["p_mw"], dtype=float)) * ctx.dt_h * 1e3, 3)
    T = kwh.shape[1]
    iv = _periods(ctx)
    heads = [f'{{"id":{t},{iv[t]}"payloads":[{{"type":"USAGE","values":[' for t in range(T)]
    flat = reprs(kwh.ravel().tolist())
    resources = [
        (d, [f"{h}{v}]}}]}}" for h, v in zip(heads, flat[j * T : (j + 1) * T], strict=True)])
        for j, d in enumerate(ders.tolist())
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
