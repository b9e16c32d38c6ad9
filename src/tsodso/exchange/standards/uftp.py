"""USEF Flex Trading Protocol (UFTP 3.1.0, Shapeshifter) renderings of the message log, the
standard of the EU models (GOPACS and Dutch DSOs use it) and, as an assumption, of the GB
ones (no common GB standard exists).

Mapping (UFTP is an aggregator-DSO protocol; where a TSO or a DSO takes a UFTP role the
interpretation is stated):

- ``bids`` (aggregator -> operator): one unsolicited **FlexOffer** per congestion point
  (the DER's feeder), one OfferOption per bid (ISP power in W, Price = the bid's EUR for
  its full quantity over one ISP, MinActivationFactor 0.01: bids are divisible).
- ``forwarded_bids`` (DSO -> TSO) and ``interface_curve`` (DSO -> TSO): FlexOffers with
  the DSO in the AGR role (interpretation: a DSO passing flexibility up acts as the TSO's
  aggregator); a curve's steps are the options of one offer at the feeder's TDI.
- ``activation`` (operator -> aggregator): one **FlexOrder** per accepted bid, referring to
  the offer option it orders (ActivationFactor = accepted / offered, 2 decimals as UFTP
  has them; the ISP's power carries the exact W).
- ``needs`` (TSO -> clearing operator): a **FlexRequest** at the transmission congestion
  point, one ISP per period (interpretation: UFTP has no TSO need message).
- ``remittance`` (operator -> aggregator, after settlement): a **FlexSettlement** with one
  FlexOrderSettlement per settled activation (baseline, ordered, actual and delivered power
  per ISP, price, penalty) and the ContractSettlement the package's schema requires (the
  power ordered per ISP, as reserved under the day's contract: interpretation).
- ``interface_schedule`` (TSO -> DSO, the TDI import the DSO must hold): a **D-Prognosis**
  at the TDI congestion point (interpretation: the agreed exchange is the DSO's prognosis
  of its own feeder, which UFTP's D-Prognosis states per ISP).

Power follows UFTP's sign (positive = consumption, from the prosumer's side): an ``up``
activation (more injection) is negative. Every other kind keeps the JSON encoding.

The writer formats the XML itself (the package's serializer takes about 0.24 ms per offer
option: 67 s for the default day's bids); tests parse every document with the package's
models (generated from the UFTP XSD), check each restriction those models carry and compare
the package's own serialisation of the parsed message with these bytes.

Owns: the UFTP documents. Must not: decide what is exchanged.
"""

from __future__ import annotations

import re
from xml.sax.saxutils import quoteattr

import numpy as np

from tsodso.exchange.messages import Message
from tsodso.exchange.standards.base import (
    Document,
    RenderContext,
    Renderer,
    by_kind,
    message_id,
)

NAME = "uftp"
LABEL = "USEF UFTP 3.1.0 XML"
VERSION = "3.1.0"
DECL = '<?xml version="1.0" encoding="UTF-8"?>\n'
CURRENCY = "EUR"


def domain(actor: str) -> str:
    """The Internet domain standing for an actor (UFTP addresses parties by domain)."""
    return re.sub(r"[^a-z0-9]+", "-", actor.lower()).strip("-") + ".tsodso.example"


def entity_address(ctx: RenderContext, cp: str) -> str:
    """A congestion point's entity address (UFTP's ``ea1.YYYY-MM.domain:id`` form)."""
    return f"ea1.{ctx.day:%Y-%m}.tsodso.example:{cp}"


def _dec(x: float, digits: int) -> str:
    v = round(float(x), digits) + 0.0  # no "-0.0000"
    return f"{v:.{digits}f}"


def _w(mw: float) -> int:
    return int(round(float(mw) * 1e6))


def _head(tag: str, msg: Message, ctx: RenderContext, mid: str, sender: str, receiver: str) -> str:
    ts = ctx.start().isoformat(timespec="seconds")
    return (
        f"{DECL}<{tag} Version={_q(VERSION)} SenderDomain={_q(domain(sender))}"
        f" RecipientDomain={_q(domain(receiver))} TimeStamp={_q(ts)}"
        f" MessageID={_q(mid)}"
        f" ConversationID={_q(message_id(NAME, msg.step, msg.sender, msg.receiver))}"
    )


def _flex(ctx: RenderContext, cp: str) -> str:
    return (
        f' ISP-Duration="PT{round(ctx.dt_h * 60)}M" TimeZone="Europe/Berlin"'
        f' Period="{ctx.day:%Y-%m-%d}" CongestionPoint={_q(entity_address(ctx, cp))}'
    )


def option_reference(der: str, isp: int, direction: int) -> str:
    """The offer option of one bid: DER, ISP and direction."""
    return f"{der}/{isp}/{'up' if direction > 0 else 'down'}"


_SPECIAL = re.compile(r'[&<>"\n\r\t]')


def _q(s: str) -> str:
    """A double-quoted XML attribute value (escaped only where it needs to be)."""
    return f'"{s}"' if _SPECIAL.search(s) is None else quoteattr(s)


def order_reference(operator: str, der: str, isp: int, direction: int) -> str:
    """The order of one accepted bid by one operator."""
    return f"{operator}/{option_reference(der, isp, direction)}"


def _offer(
    msg: Message,
    ctx: RenderContext,
    mid: str,
    cp: str,
    options: list[tuple[str, float, int, int]],  # (reference, price EUR, power W, isp)
) -> str:
    exp = ctx.start().isoformat(timespec="seconds")
    parts = [
        _head("FlexOffer", msg, ctx, mid, msg.sender, msg.receiver),
        _flex(ctx, cp),
        f' ExpirationDateTime="{exp}" Unsolicited="true" Currency="{CURRENCY}">',
    ]
    for ref, price, power, isp in options:
        parts.append(
            f'<OfferOption OptionReference={_q(ref)} Price="{_dec(price, 4)}"'
            f' MinActivationFactor="0.01"><ISP Power="{power}" Start="{isp}" Duration="1"/>'
            "</OfferOption>"
        )
    parts.append("</FlexOffer>")
    return "".join(parts)


def _bids(msg: Message, i: int, ctx: RenderContext, state: dict[str, str]) -> list[Document]:
    p = msg.payload
    ders = np.asarray(p["der"]).astype(str)
    pos = ctx.positions(ders)
    cps = ctx.node_cp[ctx.der_node[pos]].astype(str)
    sign = np.asarray(p["direction"], dtype=int)
    q = np.asarray(p["q_max_mw"], dtype=float)
    isp = ctx.first_period + np.asarray(p["period"], dtype=int) + 1
    eur = np.asarray(p["price"], dtype=float) * q * ctx.dt_h
    power = np.rint(-sign * q * 1e6).astype(np.int64)
    docs = []
    for cp in dict.fromkeys(cps.tolist()):
        m = np.flatnonzero(cps == cp)
        mid = message_id(NAME, i, cp)
        refs = [option_reference(d, n, s) for d, n, s in zip(ders[m], isp[m], sign[m], strict=True)]
        for r in refs:
            state[r] = mid
        options = list(zip(refs, eur[m].tolist(), power[m].tolist(), isp[m].tolist(), strict=True))
        docs.append(_doc(msg, i, "FlexOffer", cp, _offer(msg, ctx, mid, cp, options)))
    return docs


def _curve(msg: Message, i: int, ctx: RenderContext, state: dict[str, str]) -> list[Document]:
    p = msg.payload
    cp = f"{p['feeder']}-tdi"
    mid = message_id(NAME, i, cp)
    options = []
    for k in range(len(p["q_mw"])):
        t, s, q = int(p["period"][k]), int(p["direction"][k]), float(p["q_mw"][k])
        isp = ctx.isp(t)
        ref = f"curve/{isp}/{'up' if s > 0 else 'down'}/{k}"
        options.append((ref, float(p["price"][k]) * q * ctx.dt_h, _w(-s * q), isp))
    return [_doc(msg, i, "FlexOffer", cp, _offer(msg, ctx, mid, cp, options))]


def _activation(msg: Message, i: int, ctx: RenderContext, state: dict[str, str]) -> list[Document]:
    p = msg.payload
    docs = []
    for k, d in enumerate(np.asarray(p["der"]).astype(str)):
        s, q = int(p["direction"][k]), float(p["q_mw"][k])
        di, t, side = ctx.der_index[d], msg.period, 0 if s > 0 else 1
        isp = ctx.isp(t)
        ref = option_reference(d, isp, s)
        offer = state.get(ref)
        price = float(ctx.bid_price[di, t, side]) * q * ctx.dt_h
        q_max = float(ctx.bid_q_max[di, t, side])
        factor = min(max(q / q_max if q_max > 0 else 1.0, 0.01), 1.0)
        cp = ctx.der_cp(d)
        mid = message_id(NAME, i, k)
        # an order without an offer (self-dispatch against prices) is UFTP's unsolicited one
        refs = ' Unsolicited="true"' if offer is None else f' FlexOfferMessageID="{offer}"'
        body = (
            _head("FlexOrder", msg, ctx, mid, msg.sender, msg.receiver)
            + _flex(ctx, cp)
            + refs
            + f' Price="{_dec(price, 4)}" Currency="{CURRENCY}"'
            + f" OrderReference={_q(order_reference(msg.sender, d, isp, s))}"
            + (f" OptionReference={_q(ref)}" if offer is not None else "")
            + f' ActivationFactor="{_dec(factor, 2)}">'
            + f'<ISP Power="{_w(-s * q)}" Start="{isp}" Duration="1"/></FlexOrder>'
        )
        docs.append(_doc(msg, i, "FlexOrder", f"{cp}-{k}", body))
    return docs


def _needs(msg: Message, i: int, ctx: RenderContext, state: dict[str, str]) -> list[Document]:
    imb = np.asarray(msg.payload["imbalance_mw"], dtype=float)
    mid = message_id(NAME, i, 0)
    exp = ctx.start().isoformat(timespec="seconds")
    parts = [
        _head("FlexRequest", msg, ctx, mid, msg.sender, msg.receiver),
        _flex(ctx, "transmission"),
        f' Revision="1" ExpirationDateTime="{exp}">',
    ]
    for t, x in enumerate(imb):
        w = _w(-x)  # a shortage asks for more injection: negative power
        parts.append(
            f'<ISP Disposition="Requested" MinPower="{w}" MaxPower="{w}"'
            f' Start="{ctx.isp(t)}" Duration="1"/>'
        )
    parts.append("</FlexRequest>")
    return [_doc(msg, i, "FlexRequest", "transmission", "".join(parts))]


def _schedule(msg: Message, i: int, ctx: RenderContext, state: dict[str, str]) -> list[Document]:
    imp = np.asarray(msg.payload["import_mw"], dtype=float)
    cp = f"{msg.payload['feeder']}-tdi"
    mid = message_id(NAME, i, 0)
    parts = [
        _head("D-Prognosis", msg, ctx, mid, msg.sender, msg.receiver),
        _flex(ctx, cp),
        ' Revision="1">',
    ]
    for t, x in enumerate(imp):  # an import is consumption seen from the feeder: positive
        parts.append(f'<ISP Power="{_w(x)}" Start="{ctx.isp(t)}" Duration="1"/>')
    parts.append("</D-Prognosis>")
    return [_doc(msg, i, "D-Prognosis", cp, "".join(parts))]


def _settlement(
    msg: Message, i: int, ctx: RenderContext, state: dict[str, str]
) -> list[Document] | None:
    ln, base = ctx.settlement_lines, ctx.baseline_mw
    if ln is None or base is None or msg.receiver not in ctx.aggregators:
        return None
    mine = ln[(ln.buyer == msg.sender) & (ln.aggregator == msg.receiver)]
    if mine.empty:
        return None
    mid = message_id(NAME, i, 0)
    day = f"{ctx.day:%Y-%m-%d}"
    parts = [
        _head("FlexSettlement", msg, ctx, mid, msg.sender, msg.receiver),
        f' Result="Accepted" PeriodStart="{day}" PeriodEnd="{day}" Currency="{CURRENCY}">',
    ]
    dt = ctx.dt_h
    reserved: dict[int, int] = {}
    for r in mine.itertuples(index=False):
        d, t = str(r.der), int(r.period)
        s = 1 if r.direction == "up" else -1
        isp = ctx.isp(t)
        b = -float(base[ctx.der_index[d], t])  # consumption positive
        ordered = -s * float(r.ordered_mwh) / dt
        delivered = -s * float(r.delivered_mwh) / dt
        price = (float(r.utilisation_cents) + float(r.availability_cents)) / 100.0
        penalty = float(r.penalty_cents) / 100.0
        deficiency = abs(ordered - delivered)
        reserved[isp] = reserved.get(isp, 0) + abs(_w(ordered))
        parts.append(
            f"<FlexOrderSettlement OrderReference={_q(order_reference(msg.sender, d, isp, s))}"
            f' Period="{day}" CongestionPoint={_q(entity_address(ctx, ctx.der_cp(d)))}'
            f' Price="{_dec(price, 4)}" Penalty="{_dec(penalty, 4)}"'
            f' NetSettlement="{_dec(price - penalty, 4)}">'
            f'<ISP Start="{isp}" Duration="1" BaselinePower="{_w(b)}"'
            f' OrderedFlexPower="{_w(ordered)}" ActualPower="{_w(b + delivered)}"'
            f' DeliveredFlexPower="{_w(delivered)}" PowerDeficiency="{_w(deficiency)}"/>'
            "</FlexOrderSettlement>"
        )
    contract = f"tsodso-{domain(msg.sender)}-{domain(msg.receiver)}"
    parts.append(f'<ContractSettlement ContractID={_q(contract)}><Period Period="{day}">')
    for isp, w in sorted(reserved.items()):
        parts.append(f'<ISP Start="{isp}" Duration="1" ReservedPower="{w}"/>')
    parts.append("</Period></ContractSettlement></FlexSettlement>")
    return [_doc(msg, i, "FlexSettlement", msg.receiver, "".join(parts))]


def _doc(msg: Message, i: int, doc_type: str, tag: str, body: str) -> Document:
    raw = body.encode()
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", tag)
    return Document(NAME, doc_type, f"{i:06d}-{msg.kind}-{doc_type}-{safe}.xml", len(raw), raw)


RENDERERS: dict[str, Renderer] = {
    "bids": _bids,
    "forwarded_bids": _bids,
    "interface_curve": _curve,
    "activation": _activation,
    "needs": _needs,
    "interface_schedule": _schedule,
    "remittance": _settlement,
}

#: the UFTP documents of one message, or None where UFTP has none
render = by_kind(RENDERERS, "UFTP")
