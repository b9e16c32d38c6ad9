"""IEEE 2030.5 with the CSIP-AUS profile (v1.3 namespace): the standard of the Australian
models for dynamic operating envelopes.

Mapping: a ``doe`` message (the DSO's envelopes for one feeder and direction: a limit per
connection point and interval) becomes one **DERControlList** per connection point, as a
utility server publishes it under that site's DER program
(``/edev/{bus}/derp/doe/derc``), with one DERControl per interval carrying
``csipaus:opModExpLimW`` (export, ``direction`` +1) or ``csipaus:opModImpLimW`` (import,
-1) in W (multiplier 0), its start (Unix time) and duration (s). Every other kind keeps
the JSON encoding: CSIP-AUS standardises envelopes, not markets.

The writer formats the XML itself; tests parse every document with ``envoy-schema``'s
pydantic-xml models (MIT) and compare that package's serialisation with these bytes.

Owns: the CSIP-AUS documents. Must not: compute envelopes.
"""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

import numpy as np

from tsodso.exchange.messages import Message
from tsodso.exchange.standards import text
from tsodso.exchange.standards.base import Document, RenderContext

NAME = "csip-aus"
LABEL = "IEEE 2030.5 / CSIP-AUS 1.3 XML"
NS = (
    'xmlns="urn:ieee:std:2030.5:ns" xmlns:csipaus="https://csipaus.org/ns/v1.3"'
    ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
)
#: the CSIP-AUS element of each direction
LIMIT = {1: "opModExpLimW", -1: "opModImpLimW"}


def program_href(bus: int) -> str:
    """Where a connection point's envelope controls are published."""
    return f"/edev/{int(bus)}/derp/doe/derc"


def _does(msg: Message, i: int, ctx: RenderContext, state: dict[str, str]) -> list[Document]:
    p = msg.payload
    direction = int(p["direction"])
    tag = LIMIT[direction]
    limits = np.atleast_2d(np.asarray(p["limit_mw"], dtype=float))
    if not np.isfinite(limits).all():
        raise ValueError(f"doe message {i}: an envelope limit is not finite")
    seconds = round(ctx.dt_h * 3600)
    created = int(ctx.start().timestamp())
    T = limits.shape[1]
    starts = [int(ctx.start(t).timestamp()) for t in range(T)]
    watts = text.watts(limits)
    way = "export" if direction > 0 else "import"
    status = (
        f"<creationTime>{created}</creationTime><EventStatus><currentStatus>0"
        f"</currentStatus><dateTime>{created}</dateTime><potentiallySuperseded>false"
        "</potentiallySuperseded></EventStatus><interval><duration>"
        f"{seconds}</duration><start>"
    )
    base = f"</start></interval><DERControlBase><csipaus:{tag}><multiplier>0</multiplier><value>"
    end = f"</value></csipaus:{tag}></DERControlBase></DERControl>"
    docs = []
    for j, node in enumerate(np.asarray(p["node"], dtype=int).tolist()):
        bus = int(ctx.node_bus[node])
        href = program_href(bus)
        mrids = [m.replace("-", "").upper() for m in text.message_ids((NAME, i, bus), range(T))]
        w = watts[j * T : (j + 1) * T]
        controls = "".join(
            f'<DERControl href="{href}/{t}" responseRequired="00" subscribable="0">'
            f"<mRID>{mrids[t]}</mRID>{status}{starts[t]}{base}{w[t]}{end}"
            for t in range(T)
        )
        raw = (
            f'<DERControlList {NS} href={quoteattr(href)} subscribable="0" all="{T}"'
            f' results="{T}">{controls}</DERControlList>'
        ).encode()
        name = f"{i:06d}-doe-DERControlList-{bus}-{way}.xml"
        docs.append(Document(NAME, "DERControlList", name, len(raw), raw))
    return docs


def render(
    msg: Message, index: int, ctx: RenderContext, state: dict[str, str]
) -> list[Document] | None:
    """The CSIP-AUS documents of one message, or None where CSIP-AUS has none."""
    return _does(msg, index, ctx, state) if msg.kind == "doe" else None
