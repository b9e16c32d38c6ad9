"""Documents in the field's standards read back into tsodso's tables: UFTP FlexOffers and
UMEI sell orders (with the portfolios they name) into a ``BidTable`` of a scenario (the
aggregators' offers), CSIP-AUS DERControl lists into a table of envelopes (bus, node,
period, direction, limit). UFTP and CSIP-AUS documents are parsed with the standards'
packages (``shapeshifter-uftp``, ``envoy-schema``), UMEI's as JSON checked field by field,
so a document that breaks the schema is refused with every problem named, never read in
part.

Owns: ``read_flex_offers``, ``bids_from_flex_offers``, ``read_umei_orders``,
``bids_from_umei_orders``, ``read_der_controls``. Must not: render.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

import numpy as np
import pandas as pd

from tsodso.exchange.standards.base import Document, RenderContext
from tsodso.exchange.standards.uftp import domain
from tsodso.exchange.standards.umei import periods_utc
from tsodso.scenario.domain import Scenario
from tsodso.schema.tables import BidTable


class StandardImportError(ValueError):
    """Documents that cannot be read back (every problem listed)."""


def _bodies(docs: Iterable[Document | bytes]) -> list[bytes]:
    return [d.body if isinstance(d, Document) else d for d in docs]


def read_flex_offers(docs: Iterable[Document | bytes], ctx: RenderContext) -> pd.DataFrame:
    """One row per offer option (one bid): aggregator, DER, period (0-based, of the
    scenario), direction (+1 up), q_max_mw, price_eur_per_mwh and congestion point."""
    from shapeshifter_uftp.uftp.messages import FlexOffer
    from xsdata.formats.dataclass.parsers import XmlParser
    from xsdata.formats.dataclass.parsers.config import ParserConfig

    parser = XmlParser(
        config=ParserConfig(fail_on_unknown_properties=True, fail_on_unknown_attributes=True)
    )
    names = {domain(a): a for a in ctx.aggregators}
    rows, problems = [], []
    for k, body in enumerate(_bodies(docs)):
        try:
            offer = parser.from_bytes(body, FlexOffer)
        except Exception as e:  # the package raises several kinds for a bad document
            problems.append(f"document {k}: not a UFTP FlexOffer ({e})")
            continue
        if str(offer.isp_duration) != f"PT{round(ctx.dt_h * 60)}M":
            problems.append(
                f"document {k}: ISP-Duration {offer.isp_duration} is not the scenario's"
            )
        if str(offer.period) != f"{ctx.day:%Y-%m-%d}":
            problems.append(f"document {k}: Period {offer.period} is not the scenario's day")
        sender = names.get(offer.sender_domain, offer.sender_domain)
        cp = offer.congestion_point.split(":", 1)[-1]
        for opt in offer.offer_options:
            m = re.fullmatch(r"(.+)/(\d+)/(up|down)", opt.option_reference)
            if m is None or len(opt.isps) != 1 or opt.isps[0].duration != 1:
                problems.append(
                    f"document {k}: option {opt.option_reference!r} is not one tsodso bid "
                    "(DER/ISP/direction, one ISP)"
                )
                continue
            der, isp, way = m.group(1), int(m.group(2)), m.group(3)
            direction = 1 if way == "up" else -1
            q = -direction * opt.isps[0].power / 1e6  # UFTP: consumption positive
            period = isp - 1 - ctx.first_period
            price = float(opt.price) / (q * ctx.dt_h) if q > 0 else 0.0
            rows.append((sender, der, period, direction, q, price, cp))
    if problems:
        raise StandardImportError("cannot read the FlexOffers: " + "; ".join(problems))
    cols = ["aggregator", "der", "period", "direction", "q_max_mw", "price_eur_per_mwh", "cp"]
    return pd.DataFrame(rows, columns=cols)


def bids_from_flex_offers(scn: Scenario, docs: Iterable[Document | bytes]) -> BidTable:
    """FlexOffers as the scenario's bid table (DER, node and aggregator from the
    scenario); an option naming an unknown DER, an aggregator that is not the DER's, or a
    period outside the day is refused with every problem listed."""
    return _bid_table(scn, read_flex_offers(docs, RenderContext.of(scn)), "FlexOffers")


def _bid_table(scn: Scenario, df: pd.DataFrame, what: str) -> BidTable:
    """Bids read from ``what`` as the scenario's bid table, every problem listed; without
    an ``aggregator`` column each DER's own aggregator."""
    problems = []
    index = {str(d): i for i, d in enumerate(scn.ders.id)}
    pos = np.array([index.get(d, -1) for d in df.der], dtype=int)
    for d in df.der[pos < 0].unique():
        problems.append(f"unknown DER {d!r}")
    known = pos >= 0
    own = np.where(known, scn.ders.aggregator[np.maximum(pos, 0)], -1)
    a_idx = own
    if "aggregator" in df:
        agg = {a: i for i, a in enumerate(scn.aggregator_names)}
        a_idx = np.array([agg.get(a, -1) for a in df.aggregator], dtype=int)
        for d in df.der[known & (a_idx != own)].unique():
            problems.append(f"DER {d!r} offered by an aggregator that is not its own")
    bad_t = (df.period < 0) | (df.period >= scn.periods)
    for t in df.period[bad_t].unique():
        problems.append(f"period {t} outside the scenario's {scn.periods}")
    if problems:
        raise StandardImportError(f"{what} do not fit the scenario: " + "; ".join(problems))
    return BidTable(
        der=pos,
        direction=df.direction.to_numpy(dtype=int),
        period=df.period.to_numpy(dtype=int),
        q_max_mw=df.q_max_mw.to_numpy(dtype=float),
        price_eur_per_mwh=df.price_eur_per_mwh.to_numpy(dtype=float),
        node=scn.ders.node[pos],
        aggregator=a_idx,
    )


def read_umei_orders(docs: Iterable[Document | bytes], ctx: RenderContext) -> pd.DataFrame:
    """One row per UMEI sell order (one bid): DER (the portfolio's name), period, direction
    (+1 for Up), q_max_mw, price_eur_per_mwh and grid node (no aggregator: a UMEI order
    names no sender).
    ``docs`` hold the Portfolios the orders name; other documents are skipped, an order
    naming an unpublished portfolio or off the scenario's intervals is refused."""
    starts = {a: t for t, (a, _) in enumerate(periods_utc(ctx))}
    ends = {b: t for t, (_, b) in enumerate(periods_utc(ctx))}
    objs, problems = [], []
    for k, body in enumerate(_bodies(docs)):
        try:
            objs.append((k, json.loads(body)))
        except ValueError as e:
            problems.append(f"document {k}: not JSON ({e})")
    names = {o["id"]: o["name"] for _, o in objs if isinstance(o, dict) and "name" in o}
    rows = []
    for k, o in objs:
        if not isinstance(o, dict) or o.get("side") != "Sell":
            continue
        der = names.get(str(o.get("portfolioId")))
        points = o.get("pricePoints") or [None]
        t = starts.get(str(o.get("periodFrom")))
        one = points[0] if len(points) == 1 and isinstance(points[0], dict) else {}
        q, price = one.get("quantity", "?"), one.get("unitPrice", "?")
        numbers = isinstance(q, int | float) and isinstance(price, int | float)
        if der is None:
            problems.append(f"document {k}: portfolio {o.get('portfolioId')!r} not among docs")
        if not numbers or o.get("regulationType") not in ("Up", "Down"):
            problems.append(
                f"document {k}: not one tsodso bid (one price point with quantity and "
                "unitPrice, Up or Down)"
            )
        if t is None or ends.get(str(o.get("periodTo"))) != t:
            where = f"{o.get('periodFrom')}/{o.get('periodTo')}"
            problems.append(f"document {k}: {where} is not one of the day's periods")
        if not problems and isinstance(q, int | float) and isinstance(price, int | float):
            direction = 1 if o["regulationType"] == "Up" else -1
            rows.append((der, t, direction, float(q), float(price), o.get("gridNodeId")))
    if problems:
        raise StandardImportError("cannot read the UMEI orders: " + "; ".join(problems))
    cols = ["der", "period", "direction", "q_max_mw", "price_eur_per_mwh", "cp"]
    return pd.DataFrame(rows, columns=cols)


def bids_from_umei_orders(scn: Scenario, docs: Iterable[Document | bytes]) -> BidTable:
    """UMEI sell orders (and the portfolios they name) as the scenario's bid table, with the
    same checks as ``bids_from_flex_offers`` (the aggregator: each DER's own)."""
    return _bid_table(scn, read_umei_orders(docs, RenderContext.of(scn)), "UMEI orders")


def read_der_controls(docs: Iterable[Document | bytes], ctx: RenderContext) -> pd.DataFrame:
    """One row per DERControl of CSIP-AUS DERControl lists: bus (from the list's
    ``/edev/{bus}`` address), node, period (0-based), direction (+1 export via
    opModExpLimW, -1 import via opModImpLimW) and limit_mw."""
    from envoy_schema.server.schema.sep2.der import DERControlListResponse

    bus_node = {int(b): n for n, b in enumerate(ctx.node_bus)}
    t0 = int(ctx.start().timestamp())
    step = round(ctx.dt_h * 3600)
    rows, problems = [], []
    for k, body in enumerate(_bodies(docs)):
        try:
            lst = DERControlListResponse.from_xml(body)
        except Exception as e:  # pydantic's ValidationError or an XML error
            problems.append(f"document {k}: not a DERControlList ({e})")
            continue
        m = re.fullmatch(r"/edev/(\d+)/.*", lst.href or "")
        if m is None or int(m.group(1)) not in bus_node:
            problems.append(f"document {k}: {lst.href!r} names no bus of the scenario")
            continue
        bus = int(m.group(1))
        for c in lst.DERControl or []:
            base = c.DERControlBase_
            for direction, lim in ((1, base.opModExpLimW), (-1, base.opModImpLimW)):
                if lim is None:
                    continue
                if c.interval.duration != step or (c.interval.start - t0) % step:
                    problems.append(f"document {k}: {c.href} is not one of the day's intervals")
                    continue
                period = (c.interval.start - t0) // step
                mw = lim.value * 10.0**lim.multiplier / 1e6
                rows.append((bus, bus_node[bus], period, direction, mw))
    if problems:
        raise StandardImportError("cannot read the DER controls: " + "; ".join(problems))
    return pd.DataFrame(rows, columns=["bus", "node", "period", "direction", "limit_mw"])
