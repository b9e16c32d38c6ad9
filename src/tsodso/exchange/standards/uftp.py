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

import functools
import re
from xml.sax.saxutils import quoteattr

import numpy as np

from tsodso.exchange.messages import Message
from tsodso.exchange.standards import text
from tsodso.exchange.standards.base import (
    Document,
    RenderContext,
    Renderer,
    by_kind,
)
from tsodso.exchange.standards.text import message_id

NAME = "uftp"
LABEL = "USEF UFTP 3.1.0 XML"
VERSION = "3.1.0"
DECL = '<?xml version="1.0" encoding="UTF-8"?>\n'
CURRENCY = "EUR"


@functools.cache
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


class _Head:
    """A message's document heads: everything but the tag and the MessageID is the same
    for every document of one message (formatted once)."""

    def __init__(self, msg: Message, ctx: RenderContext) -> None:
        ts = ctx.start().isoformat(timespec="seconds")
        self.attrs = (
            f" Version={_q(VERSION)} SenderDomain={_q(domain(msg.sender))}"
            f" RecipientDomain={_q(domain(msg.receiver))} TimeStamp={_q(ts)}"
        )
        conv = message_id(NAME, msg.step, msg.sender, msg.receiver)
        self.conversation = f" ConversationID={_q(conv)}"

    def __call__(self, tag: str, mid: str) -> str:
        return f"{DECL}<{tag}{self.attrs} MessageID={_q(mid)}{self.conversation}"


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


def _qs(values: list[str], plain: bool) -> list[str]:
    """``_q`` of each value; ``plain`` where none needs escaping (checked by the caller on
    the few names the values are made of)."""
    return [f'"{s}"' for s in values] if plain else [_q(s) for s in values]


def _plain(names: object) -> bool:
    """Whether no name (DER ids, operators) needs escaping in an XML attribute."""
    return _SPECIAL.search("".join(map(str, np.unique(np.asarray(names))))) is None


def order_reference(operator: str, der: str, isp: int, direction: int) -> str:
    """The order of one accepted bid by one operator."""
    return f"{operator}/{option_reference(der, isp, direction)}"


def _offer(
    head: str,
    ctx: RenderContext,
    cp: str,
    refs: list[str],  # quoted option references
    prices: list[str],  # EUR, formatted
    powers: list[int],  # W
    isps: list[int],
) -> str:
    exp = ctx.start().isoformat(timespec="seconds")
    options = "".join(
        f'<OfferOption OptionReference={r} Price="{p}" MinActivationFactor="0.01">'
        f'<ISP Power="{w}" Start="{n}" Duration="1"/></OfferOption>'
        for r, p, w, n in zip(refs, prices, powers, isps, strict=True)
    )
    return (
        f"{head}{_flex(ctx, cp)}"
        f' ExpirationDateTime="{exp}" Unsolicited="true" Currency="{CURRENCY}">'
        f"{options}</FlexOffer>"
    )


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
    way = np.where(sign > 0, "up", "down")
    head = _Head(msg, ctx)
    plain = _plain(ders)
    docs = []
    for cp in dict.fromkeys(cps.tolist()):
        sel = np.flatnonzero(cps == cp)
        mid = message_id(NAME, i, cp)
        n = isp[sel].tolist()
        refs = [
            f"{d}/{k}/{s}" for d, k, s in zip(ders[sel].tolist(), n, way[sel].tolist(), strict=True)
        ]
        state.update(dict.fromkeys(refs, mid))
        body = _offer(
            head("FlexOffer", mid),
            ctx,
            cp,
            _qs(refs, plain),
            text.fixed(eur[sel], 4),
            power[sel].tolist(),
            n,
        )
        docs.append(_doc(msg, i, "FlexOffer", cp, body))
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
        options.append((_q(ref), _dec(float(p["price"][k]) * q * ctx.dt_h, 4), _w(-s * q), isp))
    refs, prices, powers, isps = (
        (list(c) for c in zip(*options, strict=True)) if options else ([], [], [], [])
    )
    head = _Head(msg, ctx)("FlexOffer", mid)
    return [_doc(msg, i, "FlexOffer", cp, _offer(head, ctx, cp, refs, prices, powers, isps))]


def _activation(msg: Message, i: int, ctx: RenderContext, state: dict[str, str]) -> list[Document]:
    p = msg.payload
    ders_a = np.asarray(p["der"]).astype(str)
    if len(ders_a) == 0:
        return []
    pos = ctx.positions(ders_a)
    sign = np.asarray(p["direction"], dtype=int)
    q = np.asarray(p["q_mw"], dtype=float)
    t = msg.period
    side = np.where(sign > 0, 0, 1)
    isp = ctx.isp(t)
    price = ctx.bid_price[pos, t, side] * q * ctx.dt_h
    q_max = ctx.bid_q_max[pos, t, side]
    ratio = np.divide(q, q_max, out=np.ones_like(q), where=q_max > 0)
    factor = np.minimum(np.maximum(ratio, 0.01), 1.0)
    cps = ctx.node_cp[ctx.der_node[pos]].astype(str).tolist()
    ders = ders_a.tolist()
    way = np.where(sign > 0, "up", "down").tolist()
    refs = [f"{d}/{isp}/{s}" for d, s in zip(ders, way, strict=True)]
    plain = _plain(ders_a) and _SPECIAL.search(msg.sender) is None
    qrefs = _qs(refs, plain)
    orders = _qs([f"{msg.sender}/{r}" for r in refs], plain)
    prices = text.fixed(price, 4)
    factors = text.fixed(factor, 2)
    powers = text.watts(-sign * q)
    mids = text.message_ids((NAME, i), range(len(ders)))
    head = _Head(msg, ctx)
    flex = {cp: _flex(ctx, cp) for cp in dict.fromkeys(cps)}
    docs = []
    for k, ref in enumerate(refs):
        offer = state.get(ref)
        # an order without an offer (self-dispatch against prices) is UFTP's unsolicited one
        ordered = ' Unsolicited="true"' if offer is None else f' FlexOfferMessageID="{offer}"'
        option = "" if offer is None else f" OptionReference={qrefs[k]}"
        body = (
            f"{head('FlexOrder', mids[k])}{flex[cps[k]]}{ordered}"
            f' Price="{prices[k]}" Currency="{CURRENCY}" OrderReference={orders[k]}{option}'
            f' ActivationFactor="{factors[k]}"><ISP Power="{powers[k]}" Start="{isp}"'
            ' Duration="1"/></FlexOrder>'
        )
        docs.append(_doc(msg, i, "FlexOrder", f"{cps[k]}-{k}", body))
    return docs


def _needs(msg: Message, i: int, ctx: RenderContext, state: dict[str, str]) -> list[Document]:
    imb = np.asarray(msg.payload["imbalance_mw"], dtype=float)
    mid = message_id(NAME, i, 0)
    exp = ctx.start().isoformat(timespec="seconds")
    w = text.watts(-imb)  # a shortage asks for more injection: negative power
    isps = ctx.first_period + 1
    body = "".join(
        [
            _Head(msg, ctx)("FlexRequest", mid),
            _flex(ctx, "transmission"),
            f' Revision="1" ExpirationDateTime="{exp}">',
            *(
                f'<ISP Disposition="Requested" MinPower="{x}" MaxPower="{x}"'
                f' Start="{isps + t}" Duration="1"/>'
                for t, x in enumerate(w)
            ),
            "</FlexRequest>",
        ]
    )
    return [_doc(msg, i, "FlexRequest", "transmission", body)]


def _schedule(msg: Message, i: int, ctx: RenderContext, state: dict[str, str]) -> list[Document]:
    imp = np.asarray(msg.payload["import_mw"], dtype=float)
    cp = f"{msg.payload['feeder']}-tdi"
    mid = message_id(NAME, i, 0)
    isps = ctx.first_period + 1
    # an import is consumption seen from the feeder: positive
    body = "".join(
        [
            _Head(msg, ctx)("D-Prognosis", mid),
            _flex(ctx, cp),
            ' Revision="1">',
            *(
                f'<ISP Power="{x}" Start="{isps + t}" Duration="1"/>'
                for t, x in enumerate(text.watts(imp))
            ),
            "</D-Prognosis>",
        ]
    )
    return [_doc(msg, i, "D-Prognosis", cp, body)]


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
    dt = ctx.dt_h
    ders_a = mine.der.to_numpy().astype(str)
    pos = ctx.positions(ders_a)
    t = mine.period.to_numpy().astype(int)
    s = np.where(mine.direction.to_numpy() == "up", 1, -1)
    isp = ctx.first_period + t + 1
    b = -base[pos, t].astype(float)  # consumption positive
    ordered = -s * mine.ordered_mwh.to_numpy(dtype=float) / dt
    delivered = -s * mine.delivered_mwh.to_numpy(dtype=float) / dt
    price = (
        mine.utilisation_cents.to_numpy(dtype=float) + mine.availability_cents.to_numpy(dtype=float)
    ) / 100.0
    penalty = mine.penalty_cents.to_numpy(dtype=float) / 100.0
    deficiency = np.abs(ordered - delivered)
    w_ordered = text.watts(ordered)
    reserved: dict[int, int] = {}
    for n, w in zip(isp.tolist(), w_ordered, strict=True):
        reserved[n] = reserved.get(n, 0) + abs(w)
    ders = ders_a.tolist()
    way = np.where(s > 0, "up", "down").tolist()
    plain = _plain(ders_a) and _SPECIAL.search(msg.sender) is None
    orders = _qs(
        [f"{msg.sender}/{d}/{n}/{w}" for d, n, w in zip(ders, isp.tolist(), way, strict=True)],
        plain,
    )
    cps = ctx.node_cp[ctx.der_node[pos]].astype(str).tolist()
    where = {cp: _q(entity_address(ctx, cp)) for cp in dict.fromkeys(cps)}
    lines = "".join(
        f"<FlexOrderSettlement OrderReference={o}"
        f' Period="{day}" CongestionPoint={where[cp]}'
        f' Price="{pr}" Penalty="{pe}" NetSettlement="{ne}">'
        f'<ISP Start="{n}" Duration="1" BaselinePower="{wb}"'
        f' OrderedFlexPower="{wo}" ActualPower="{wa}"'
        f' DeliveredFlexPower="{wd}" PowerDeficiency="{wf}"/>'
        "</FlexOrderSettlement>"
        for o, cp, pr, pe, ne, n, wb, wo, wa, wd, wf in zip(
            orders,
            cps,
            text.fixed(price, 4),
            text.fixed(penalty, 4),
            text.fixed(price - penalty, 4),
            isp.tolist(),
            text.watts(b),
            w_ordered,
            text.watts(b + delivered),
            text.watts(delivered),
            text.watts(deficiency),
            strict=True,
        )
    )
    contract = f"tsodso-{domain(msg.sender)}-{domain(msg.receiver)}"
    periods = "".join(
        f'<ISP Start="{n}" Duration="1" ReservedPower="{w}"/>' for n, w in sorted(reserved.items())
    )
    body = (
        f"{_Head(msg, ctx)('FlexSettlement', mid)}"
        f' Result="Accepted" PeriodStart="{day}" PeriodEnd="{day}" Currency="{CURRENCY}">'
        f'{lines}<ContractSettlement ContractID={_q(contract)}><Period Period="{day}">'
        f"{periods}</Period></ContractSettlement></FlexSettlement>"
    )
    return [_doc(msg, i, "FlexSettlement", msg.receiver, body)]


_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def _doc(msg: Message, i: int, doc_type: str, tag: str, body: str) -> Document:
    raw = body.encode()
    safe = _UNSAFE.sub("_", tag)
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
