"""EUniversal's UMEI (Universal Market Enabling Interface, API specification 1.0.0) renderings
of the message log: the JSON bodies a flexibility market operator (FMO) and its participants
exchange. Selectable with ``--standard umei``; no region uses it by default (the EU models
keep UFTP).

Mapping (UMEI is a market API: a flexibility service provider, here the aggregator, posts
portfolios, sell orders and meter readings to the FMO, here the operator that clears the
market, and reads back its trades; interpretations are stated):

- a DER's **Portfolio** (``name`` = the DER's id, ``gridNodeId`` = its congestion point, the
  feeder) with the first message that names the DER (interpretation: tsodso bids per DER, so
  each DER is a portfolio of one asset; UMEI portfolios sit at one grid node, which an
  aggregator's DERs across feeders do not);
- an operator's **Market** (``quantityType`` ActivePower; prices in EUR, an assumption: a
  UMEI market states no currency) with the first message that needs it;
- ``bids`` (aggregator -> operator) and ``forwarded_bids`` (DSO -> TSO): one sell **Order**
  per bid (POST /Orders takes one order) on the receiver's market: ``regulationType`` Up for
  more injection (UMEI's "increased production or reduced consumption"), one price point
  (``quantity`` MW offered, to the W; ``unitPrice`` EUR/MWh, 4 decimals) and
  ``minimumAcceptanceQuantity`` 0 (tsodso's bids are divisible);
- ``needs`` (TSO -> clearing operator): one buy **Order** per period with an imbalance, at
  the transmission grid node, Up for a shortage, its limit price the scenario's imbalance
  penalty (interpretation: the TSO pays at most what leaving the imbalance costs it in
  tsodso's welfare); a day without imbalance keeps the JSON encoding;
- ``activation`` (operator -> aggregator): one **TradeSearchResult**, the FMO's answer to the
  aggregator's GET /Trades, with one sell **Trade** per accepted bid (the quantity accepted,
  the bid's price: pay-as-bid, an interpretation; ``orderId`` the bid's order in that market,
  absent with the price where the activation has no bid, as when DERs self-dispatch);
- ``meter_data`` (DERs -> aggregator): the body of POST /MeterReadings/create-multiple, one
  **MeterReading** per DER and period (``power`` MW, production positive as in UMEI and
  tsodso, to the kW: the specification's ``multipleOf`` 0.001).

Every other kind keeps the JSON encoding: UMEI has no object for set-points, prices,
envelopes, network data or settlement, and the log carries no baseline (tsodso's settling
operator computes baselines from metered data), so no BaselineInterval is rendered. Times
are UTC with ``Z``, as UMEI's descriptions ask (the same instants as the other standards'
Europe/Berlin times).

Tests validate every document against ``umei_schema.json``, tsodso's own transcription of
the UMEI components it renders (not an upstream package: there is none);
``imports.bids_from_umei_orders`` reads the sell orders back into a bid table.

Owns: the UMEI objects. Must not: decide what is exchanged.
"""

from __future__ import annotations

import functools
import math
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from tsodso.exchange.messages import Message
from tsodso.exchange.standards.base import (
    TIME_ZONE,
    TRANSMISSION,
    Document,
    RenderContext,
    Renderer,
    by_kind,
    object_id,
)
from tsodso.exchange.standards.text import (
    compact_json,
    json_numbers,
    json_str,
    message_id,
    message_ids,
)

NAME = "umei"
LABEL = "EUniversal UMEI 1.0.0 JSON"


@functools.cache
def _utc(day: date, first_period: int, dt_h: float, periods: int) -> tuple[tuple[str, str], ...]:
    """(periodFrom, periodTo) of each period, UTC with Z."""
    t0 = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(TIME_ZONE))
    step = timedelta(minutes=dt_h * 60)

    def z(t: datetime) -> str:
        return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    return tuple(
        (z(t0 + (first_period + t) * step), z(t0 + (first_period + t + 1) * step))
        for t in range(periods)
    )


def periods_utc(ctx: RenderContext) -> tuple[tuple[str, str], ...]:
    """(periodFrom, periodTo) of each of the scenario's periods, as UMEI states them."""
    return _utc(ctx.day, ctx.first_period, ctx.dt_h, len(ctx.period_iso))


def portfolio_id(der: str) -> str:
    """The id of a DER's portfolio."""
    return object_id(NAME, "portfolio", der)


def market_id(operator: str) -> str:
    """The id of an operator's flexibility market."""
    return object_id(NAME, "market", operator)


def regulation(direction: int) -> str:
    """UMEI's regulation type of a tsodso direction (+1: more injection)."""
    return "Up" if direction > 0 else "Down"


def _doc(i: int, kind: str, doc_type: str, tag: str, obj: Any) -> Document:
    return _text_doc(i, kind, doc_type, tag, compact_json(obj))


def _text_doc(i: int, kind: str, doc_type: str, tag: str, text: str) -> Document:
    raw = text.encode()
    return Document(NAME, doc_type, f"{i:06d}-{kind}-{doc_type}-{tag}.json", len(raw), raw)


def _cps(ctx: RenderContext, ders: list[str]) -> list[str]:
    """Each DER's congestion point as JSON text."""
    cps = ctx.node_cp[ctx.der_node[ctx.positions(np.asarray(ders))]].astype(str).tolist()
    return [json_str(cp) for cp in cps]


def _market(operator: str, i: int, kind: str, state: dict[str, str]) -> list[Document]:
    """The operator's market, the first time it is needed."""
    if f"market/{operator}" in state:
        return []
    state[f"market/{operator}"] = market_id(operator)
    obj = {
        "id": market_id(operator),
        "name": f"tsodso-{operator}-flexibility",
        "description": f"{operator}'s flexibility market (tsodso), prices in EUR",
        "quantityType": "ActivePower",
    }
    return [_doc(i, kind, "Market", operator, obj)]


def _portfolios(
    ders: list[str], i: int, kind: str, ctx: RenderContext, state: dict[str, str]
) -> list[Document]:
    """The DERs' portfolios not yet published."""
    docs = []
    for d in dict.fromkeys(ders):
        if f"portfolio/{d}" in state:
            continue
        state[f"portfolio/{d}"] = portfolio_id(d)
        obj = {"id": portfolio_id(d), "name": d, "gridNodeId": ctx.der_cp(d)}
        docs.append(_doc(i, kind, "Portfolio", d, obj))
    return docs


def order_key(operator: str, der: str, period: int, direction: int) -> str:
    """The state key of the order of one bid in one operator's market."""
    return f"order/{operator}/{der}/{period}/{direction}"


def _bids(msg: Message, i: int, ctx: RenderContext, state: dict[str, str]) -> list[Document]:
    p = msg.payload
    ders = np.asarray(p["der"]).astype(str).tolist()
    cps = _cps(ctx, ders)  # an unknown DER is an error, never rendered
    docs = _market(msg.receiver, i, msg.kind, state)
    docs += _portfolios(ders, i, msg.kind, ctx, state)
    q = json_numbers(np.round(np.asarray(p["q_max_mw"], dtype=float), 6).tolist())
    price = json_numbers(np.round(np.asarray(p["price"], dtype=float), 4).tolist())
    way = np.asarray(p["direction"], dtype=int).tolist()
    period = np.asarray(p["period"], dtype=int).tolist()
    utc = [f'"periodFrom":"{a}","periodTo":"{b}"' for a, b in periods_utc(ctx)]
    market = market_id(msg.receiver)
    oids = message_ids((NAME, i, "order"), range(len(ders)))
    state.update(
        zip(
            [
                f"order/{msg.receiver}/{d}/{t}/{w}"
                for d, t, w in zip(ders, period, way, strict=True)
            ],
            oids,
            strict=True,
        )
    )  # order_key of each bid
    pids = {d: portfolio_id(d) for d in dict.fromkeys(ders)}
    regs = [regulation(w) for w in way]
    texts = [
        f'{{"id":"{oid}","marketId":"{market}","portfolioId":"{pids[d]}",'
        f'"gridNodeId":{cp},"regulationType":"{r}","side":"Sell",'
        f'"pricePoints":[{{"quantity":{qk},"unitPrice":{pk}}}],'
        f'"minimumAcceptanceQuantity":0,{utc[t]}}}'
        for oid, d, cp, r, qk, pk, t in zip(oids, ders, cps, regs, q, price, period, strict=True)
    ]
    head = f"{i:06d}-{msg.kind}-Order-"
    docs += [
        Document(NAME, "Order", f"{head}{d}-{k}.json", len(raw), raw)
        for k, (d, raw) in enumerate(zip(ders, [t.encode() for t in texts], strict=True))
    ]
    return docs


def _needs(
    msg: Message, i: int, ctx: RenderContext, state: dict[str, str]
) -> list[Document] | None:
    imb = np.asarray(msg.payload["imbalance_mw"], dtype=float)
    if not math.isfinite(ctx.imbalance_eur_per_mwh):
        raise ValueError(f"needs message {i}: the render context has no imbalance price")
    utc = periods_utc(ctx)
    orders = []
    for t, x in enumerate(imb.tolist()):
        q = round(abs(x), 6)
        if q == 0:
            continue  # nothing to buy in this period
        obj = {
            "id": message_id(NAME, i, "order", t),
            "marketId": market_id(msg.receiver),
            "gridNodeId": TRANSMISSION,
            "regulationType": regulation(1 if x > 0 else -1),
            "side": "Buy",
            "pricePoints": [{"quantity": q, "unitPrice": round(ctx.imbalance_eur_per_mwh, 4)}],
            "periodFrom": utc[t][0],
            "periodTo": utc[t][1],
        }
        orders.append(_doc(i, msg.kind, "Order", f"{TRANSMISSION}-{t}", obj))
    if not orders:
        return None
    return _market(msg.receiver, i, msg.kind, state) + orders


def _activation(msg: Message, i: int, ctx: RenderContext, state: dict[str, str]) -> list[Document]:
    p = msg.payload
    ders = np.asarray(p["der"]).astype(str).tolist()
    cps = _cps(ctx, ders)
    docs = _market(msg.sender, i, msg.kind, state)
    docs += _portfolios(ders, i, msg.kind, ctx, state)
    t = int(msg.period)
    utc = periods_utc(ctx)[t]
    period = f'"periodFrom":"{utc[0]}","periodTo":"{utc[1]}"'
    way = np.asarray(p["direction"], dtype=int).tolist()
    q = json_numbers(np.round(np.asarray(p["q_mw"], dtype=float), 6).tolist())
    pos = ctx.positions(np.asarray(ders))
    side = np.where(np.asarray(way, dtype=int) > 0, 0, 1)
    prices = ctx.bid_price[pos, t, side].astype(float).tolist()
    market = market_id(msg.sender)
    ids = message_ids((NAME, i, "trade"), range(len(ders)))
    items = []
    for k, d in enumerate(ders):
        order = state.get(order_key(msg.sender, d, t, way[k]))
        ordered = "" if order is None else f',"orderId":"{order}"'
        price = prices[k]
        unit = (
            f',"unitPrice":{json_numbers([round(price, 4)])[0]}'
            if order is not None and math.isfinite(price)
            else ""
        )
        items.append(
            f'{{"id":"{ids[k]}","marketId":"{market}"{ordered},"quantity":{q[k]},"side":"Sell"'
            f'{unit},{period},"gridNodeId":{cps[k]},"portfolioId":"{portfolio_id(d)}",'
            f'"regulationType":"{regulation(way[k])}"}}'
        )
    result = f'{{"numberOfHits":{len(items)},"items":[{",".join(items)}]}}'
    return [*docs, _text_doc(i, msg.kind, "TradeSearchResult", msg.receiver, result)]


def _meter(msg: Message, i: int, ctx: RenderContext, state: dict[str, str]) -> list[Document]:
    p = msg.payload
    ders = np.asarray(p["der"]).astype(str).tolist()
    ctx.positions(np.asarray(ders))
    docs = _portfolios(ders, i, msg.kind, ctx, state)
    mw = np.round(np.atleast_2d(np.asarray(p["p_mw"], dtype=float)), 3) + 0.0  # no -0.0
    T = mw.shape[1]
    utc = [f'"periodFrom":"{a}","periodTo":"{b}","power":' for a, b in periods_utc(ctx)[:T]]
    power = json_numbers(mw.ravel().tolist())
    ids = message_ids((NAME, i, "reading"), [f"{d}/{t}" for d in ders for t in range(T)])
    pids = [f'"portfolioId":"{portfolio_id(d)}",' for d in ders]
    readings = ",".join(
        f'{{"id":"{ids[k]}",{pids[k // T]}{utc[k % T]}{power[k]}}}' for k in range(len(ids))
    )
    return [*docs, _text_doc(i, msg.kind, "MeterReadings", msg.receiver, f"[{readings}]")]


RENDERERS: dict[str, Renderer] = {
    "bids": _bids,
    "forwarded_bids": _bids,
    "needs": _needs,
    "activation": _activation,
    "meter_data": _meter,
}

#: the UMEI documents of one message, or None where UMEI has none
render = by_kind(RENDERERS, "UMEI")
