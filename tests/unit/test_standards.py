"""Messages in the field's standards: one model of each region renders its log in its
region's standard, every document validates against the standard's schema as its package
models it (UMEI, selectable, against tsodso's transcription of its components), the byte
KPIs are the documents' sizes, archives and imports round-trip, and the validators reject
broken documents."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from datetime import UTC
from typing import Any

import numpy as np
import pytest

from tsodso.coordination.catalogue import get_model
from tsodso.exchange.standards import RenderContext, render_log, standard_of
from tsodso.exchange.standards.archive import read_archive, write_archives
from tsodso.exchange.standards.base import Document, RenderedLog
from tsodso.exchange.standards.imports import (
    StandardImportError,
    bids_from_flex_offers,
    bids_from_umei_orders,
    read_der_controls,
    read_flex_offers,
)
from tsodso.exchange.standards.validate import DocumentInvalid, validate
from tsodso.pipeline import Prepared, RunResult, run_model

#: one model of each region, the standard it must use, and document types it must contain
REGIONS = {
    "smartnet-b": ("uftp", {"FlexOffer", "FlexOrder", "FlexSettlement", "D-Prognosis"}),
    "oen-hybrid": ("csip-aus", {"DERControlList"}),
    "ferc-dso": ("openadr3", {"PROGRAM", "EVENT", "REPORT"}),
}


@pytest.fixture(scope="module")
def runs(small_prepared: Prepared) -> dict[str, RunResult]:
    return {m: run_model(small_prepared, get_model(m).at_stages("single")) for m in REGIONS}


@pytest.mark.parametrize("model", sorted(REGIONS))
def test_every_document_validates_in_the_regions_standard(
    runs: dict[str, RunResult], model: str
) -> None:
    run = runs[model]
    std, must = REGIONS[model]
    assert run.standard == std == standard_of(run.model.region)
    log = run.rendered()
    types: Counter[str] = Counter()
    for m in log.messages:
        assert m.documents, f"message {m.index} ({m.message.kind}) rendered to nothing"
        for d in m.documents:
            validate(d)  # raises with every problem named
            types[d.doc_type] += 1
    assert must <= set(types), f"{model}: {sorted(types)}"
    # a standard's documents are most of the bytes; JSON only where it has no message
    enc = log.bytes_by_encoding()
    assert enc[std] > enc.get("json", 0)


def test_a_tso_need_is_a_uftp_flex_request(small_prepared: Prepared) -> None:
    from tsodso.exchange.messages import MessageLog

    scn = small_prepared.scn
    log = MessageLog()
    log.send("joint", "TSO", "MO", "needs", {"imbalance_mw": scn.imbalance_mw})
    (m,) = render_log(log.messages, RenderContext.of(scn), "uftp", keep=True).messages
    (d,) = m.documents
    assert d.doc_type == "FlexRequest"
    validate(d)
    powers = [int(x) for x in re.findall(r'MinPower="(-?\d+)"', d.body.decode())]
    np.testing.assert_array_equal(powers, np.rint(-scn.imbalance_mw * 1e6))  # shortage < 0


def test_byte_kpis_are_the_rendered_documents(runs: dict[str, RunResult]) -> None:
    for model, run in runs.items():
        k = run.kpis
        log = run.rendered()
        assert k["message_bytes"] == log.total_bytes == sum(log.bytes_by_encoding().values())
        std = REGIONS[model][0]
        assert k[f"message_bytes_{std.replace('-', '_')}"] == log.bytes_by_encoding()[std]
        # a JSON document is the log's own payload, byte for byte
        for m in log.messages:
            if m.encoding == "json":
                assert m.bytes == m.message.bytes
        assert (
            k["message_bytes_log_json"] == run.messages.total_bytes + run.life.messages.total_bytes
        )
        summary = run.tables()["message_encodings"]
        assert int(summary.bytes.sum()) == k["message_bytes"]
        assert int(summary.messages.sum()) == k["messages"]


def test_the_json_standard_measures_what_the_log_measured(small_prepared: Prepared) -> None:
    run = run_model(small_prepared, get_model("smartnet-b").at_stages("single"), standard="json")
    assert run.kpis["message_bytes"] == run.kpis["message_bytes_log_json"]
    assert run.kpis["message_bytes_json"] == run.kpis["message_bytes"]


def test_uftp_offers_read_back_into_the_bid_table(
    small_prepared: Prepared, runs: dict[str, RunResult]
) -> None:
    run, scn = runs["smartnet-b"], small_prepared.scn
    log = run.rendered()
    # an aggregator's offer to a DSO with two feeders (the small grid's DSO of the HV/MV
    # substation of MV3.102 and its second radial part): one FlexOffer per congestion point
    k = next(k for k in range(scn.dsos.n) if len(scn.dsos.feeders(k)) == 2)
    first = next(
        m
        for m in log.messages
        if m.message.kind == "bids" and m.message.receiver == scn.dsos.names[k]
    )
    offers = [d for d in first.documents if d.doc_type == "FlexOffer"]
    assert len(offers) == 2
    back = bids_from_flex_offers(scn, offers)
    sent = first.message.payload
    der = np.array([list(scn.ders.id).index(d) for d in sent["der"]])
    assert len(back) == len(der)
    order = np.lexsort((back.direction, back.period, back.der))
    ref = np.lexsort((sent["direction"], sent["period"], der))
    np.testing.assert_array_equal(back.der[order], der[ref])
    np.testing.assert_array_equal(back.period[order], sent["period"][ref])
    np.testing.assert_array_equal(back.direction[order], sent["direction"][ref])
    np.testing.assert_array_equal(back.node[order], scn.ders.node[der[ref]])
    agg = scn.aggregator_names.index(first.message.sender)
    assert set(back.aggregator) == {agg}
    q = np.asarray(sent["q_max_mw"])[ref]
    np.testing.assert_allclose(back.q_max_mw[order], q, atol=5e-7)  # whole W
    # the offer's price is EUR for the option, to 4 decimals
    eur_back = back.price_eur_per_mwh[order] * back.q_max_mw[order] * scn.dt_h
    eur = np.asarray(sent["price"])[ref] * q * scn.dt_h
    np.testing.assert_allclose(eur_back, eur, atol=5e-5 + 1e-9)


def test_csip_aus_envelopes_read_back(runs: dict[str, RunResult]) -> None:
    run = runs["oen-hybrid"]
    scn = run.prepared.scn
    log = run.rendered()
    ctx = RenderContext.of(scn)
    n = 0
    for m in log.messages:
        if m.message.kind != "doe":
            continue
        p = m.message.payload
        back = read_der_controls(m.documents, ctx)
        assert set(back.direction) == {int(p["direction"])}
        lim = np.atleast_2d(p["limit_mw"])
        assert len(back) == lim.size
        got = back.sort_values(["node", "period"])
        order = np.argsort(p["node"], kind="stable")
        np.testing.assert_array_equal(got.node.unique(), np.asarray(p["node"])[order])
        np.testing.assert_allclose(got.limit_mw.to_numpy(), lim[order].ravel(), atol=5e-7)
        n += 1
    assert n > 0


def test_archives_hold_every_document(runs: dict[str, RunResult], tmp_path) -> None:  # type: ignore[no-untyped-def]
    log = runs["ferc-dso"].rendered()
    paths = write_archives(log, tmp_path)
    assert sorted(p.name for p in paths) == ["messages-json.zip", "messages-openadr3.zip"]
    back = [d for p in paths for d in read_archive(p)]
    docs = [d for m in log.messages for d in m.documents]
    assert sorted(d.name for d in back) == sorted(d.name for d in docs)
    assert {d.name: d.body for d in back} == {d.name: d.body for d in docs}
    sizes = {p.name: p.stat().st_size for p in paths}
    assert sizes["messages-openadr3.zip"] < log.bytes_by_encoding()["openadr3"]  # compressed


def test_sizes_only_rendering_keeps_no_bytes(runs: dict[str, RunResult], tmp_path) -> None:  # type: ignore[no-untyped-def]
    run = runs["smartnet-b"]
    assert run.encoded is not None
    assert all(not d.body for m in run.encoded.messages for d in m.documents)
    with pytest.raises(ValueError, match="sizes only"):
        write_archives(run.encoded, tmp_path)


# --- the validators can fail --------------------------------------------------------------


def _first(run: RunResult, doc_type: str) -> Document:
    return next(d for m in run.rendered().messages for d in m.documents if d.doc_type == doc_type)


def _edit(d: Document, old: str, new: str) -> Document:
    body = d.body.decode()
    assert old in body
    raw = body.replace(old, new, 1).encode()
    return Document(d.encoding, d.doc_type, d.name, len(raw), raw)


def test_uftp_validation_rejects_broken_offers(runs: dict[str, RunResult]) -> None:
    offer = _first(runs["smartnet-b"], "FlexOffer")
    bad_cp = _edit(offer, 'CongestionPoint="ea1.', 'CongestionPoint="nowhere.')
    with pytest.raises(DocumentInvalid, match="CongestionPoint"):
        validate(bad_cp)
    with pytest.raises(DocumentInvalid, match="not a valid UFTP"):
        validate(_edit(offer, "<OfferOption ", '<OfferOption Colour="red" '))
    with pytest.raises(DocumentInvalid, match="MinActivationFactor"):
        validate(_edit(offer, 'MinActivationFactor="0.01"', 'MinActivationFactor="1.50"'))
    order = _first(runs["smartnet-b"], "FlexOrder")
    with pytest.raises(DocumentInvalid):
        validate(_edit(order, 'Currency="EUR"', 'Currency="euro"'))


def test_csip_validation_rejects_broken_controls(runs: dict[str, RunResult]) -> None:
    d = _first(runs["oen-hybrid"], "DERControlList")
    with pytest.raises(DocumentInvalid):
        validate(_edit(d, "<creationTime>", "<creationTime>x"))
    tag = "opModExpLimW" if "opModExpLimW" in d.body.decode() else "opModImpLimW"
    no_limit = re.sub(rf"<csipaus:{tag}>.*?</csipaus:{tag}>", "", d.body.decode(), count=1).encode()
    with pytest.raises(DocumentInvalid, match="neither"):
        validate(Document(d.encoding, d.doc_type, d.name, len(no_limit), no_limit))


def test_openadr_validation_rejects_unknown_fields_and_types(runs: dict[str, RunResult]) -> None:
    ev = _first(runs["ferc-dso"], "EVENT")
    obj = json.loads(ev.body)
    obj["colour"] = "red"
    raw = json.dumps(obj).encode()
    with pytest.raises(DocumentInvalid, match="unknown field 'colour'"):
        validate(Document(ev.encoding, ev.doc_type, ev.name, len(raw), raw))
    with pytest.raises(DocumentInvalid, match="payload type"):
        validate(_edit(ev, '"type":"', '"type":"MADE_UP_'))
    rep = _first(runs["ferc-dso"], "REPORT")
    no_event = json.loads(rep.body)
    del no_event["eventID"]
    raw = json.dumps(no_event).encode()
    with pytest.raises(DocumentInvalid, match="eventID"):
        validate(Document(rep.encoding, rep.doc_type, rep.name, len(raw), raw))


def test_imports_refuse_what_does_not_fit(
    small_prepared: Prepared, runs: dict[str, RunResult]
) -> None:
    scn = small_prepared.scn
    offer = _first(runs["smartnet-b"], "FlexOffer")
    der = re.search(r'OptionReference="([^/"]+)/', offer.body.decode())
    assert der is not None
    ghost = _edit(offer, f'OptionReference="{der.group(1)}/', 'OptionReference="ghost-der/')
    with pytest.raises(StandardImportError, match="unknown DER 'ghost-der'"):
        bids_from_flex_offers(scn, [ghost])
    with pytest.raises(StandardImportError, match="not a UFTP FlexOffer"):
        read_flex_offers([b"<FlexOffer/>"], RenderContext.of(scn))
    with pytest.raises(StandardImportError, match="names no bus"):
        d = _first(runs["oen-hybrid"], "DERControlList")
        read_der_controls([_edit(d, 'href="/edev/', 'href="/edev/999999')], RenderContext.of(scn))


def test_unknown_standard_is_refused(runs: dict[str, RunResult]) -> None:
    run = runs["smartnet-b"]
    with pytest.raises(ValueError, match="unknown standard 'x'.*uftp"):
        render_log(run.messages.messages, RenderContext.of(run.prepared.scn), "x")


# --- UMEI (selectable, no region's default) -----------------------------------------------


@pytest.fixture(scope="module")
def umei_log(runs: dict[str, RunResult]) -> RenderedLog:
    """oen-hybrid's log in UMEI: bids, a TSO's needs, activations and meter data."""
    return runs["oen-hybrid"].rendered("umei")


def _objects(log: RenderedLog, doc_type: str) -> list[tuple[int, Any]]:
    return [
        (m.index, json.loads(d.body))
        for m in log.messages
        for d in m.documents
        if d.doc_type == doc_type
    ]


def test_every_umei_document_validates(runs: dict[str, RunResult], umei_log: RenderedLog) -> None:
    types: Counter[str] = Counter()
    for m in umei_log.messages:
        assert m.documents, f"message {m.index} ({m.message.kind}) rendered to nothing"
        for d in m.documents:
            validate(d)  # against tsodso's transcription of the UMEI components
            types[d.doc_type] += 1
    must = {"Market", "Portfolio", "Order", "TradeSearchResult", "MeterReadings"}
    assert must <= set(types), sorted(types)
    kinds = Counter(m.message.kind for m in umei_log.messages if m.encoding == "umei")
    assert set(kinds) == {"bids", "needs", "activation", "meter_data"}
    scn = runs["oen-hybrid"].prepared.scn
    # one portfolio per DER named, each once; every order and trade names a published one
    portfolios = {o["id"]: o for _, o in _objects(umei_log, "Portfolio")}
    assert len(portfolios) == len({o["name"] for o in portfolios.values()}) == len(scn.ders.id)
    orders = {o["id"]: o for _, o in _objects(umei_log, "Order")}
    sides = Counter(o["side"] for o in orders.values())
    assert sides["Buy"] == int((np.abs(scn.imbalance_mw) > 5e-7).sum())
    bids = sum(len(m.message.payload["der"]) for m in umei_log.messages if m.message.kind == "bids")
    assert sides["Sell"] == bids
    trades = [t for _, r in _objects(umei_log, "TradeSearchResult") for t in r["items"]]
    assert trades and all(orders[t["orderId"]]["marketId"] == t["marketId"] for t in trades)
    assert {t["portfolioId"] for t in trades} <= set(portfolios)
    # meter data: one reading per DER and period, MW to the kW, production positive
    (_, readings), *_ = _objects(umei_log, "MeterReadings")
    first = next(m.message for m in umei_log.messages if m.message.kind == "meter_data")
    p_mw = np.atleast_2d(first.payload["p_mw"])
    assert len(readings) == p_mw.size
    np.testing.assert_allclose([r["power"] for r in readings], p_mw.ravel(), atol=5e-4 + 1e-12)


def test_umei_orders_carry_the_bids(runs: dict[str, RunResult], umei_log: RenderedLog) -> None:
    scn = runs["oen-hybrid"].prepared.scn
    ctx = RenderContext.of(scn)
    der_of = {o["id"]: o["name"] for _, o in _objects(umei_log, "Portfolio")}
    # UTC with Z, the same instants as the scenario's local periods
    utc = [ctx.start(t).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") for t in range(scn.periods)]
    m = next(m for m in umei_log.messages if m.message.kind == "bids")
    got = [json.loads(d.body) for d in m.documents if d.doc_type == "Order"]
    sent = m.message.payload
    assert len(got) == len(sent["der"])
    for k, o in enumerate(got):
        assert der_of[o["portfolioId"]] == str(sent["der"][k])
        assert o["gridNodeId"] == ctx.der_cp(str(sent["der"][k]))
        assert o["regulationType"] == ("Up" if sent["direction"][k] > 0 else "Down")
        assert o["periodFrom"] == utc[int(sent["period"][k])]
        (pp,) = o["pricePoints"]
        assert abs(pp["quantity"] - sent["q_max_mw"][k]) <= 5e-7
        assert abs(pp["unitPrice"] - sent["price"][k]) <= 5e-5 + 1e-9


def test_umei_bytes_are_kpis_and_defaults_do_not_move(
    small_prepared: Prepared, runs: dict[str, RunResult]
) -> None:
    run = run_model(small_prepared, get_model("smartnet-b").at_stages("single"), standard="umei")
    assert run.standard == "umei"
    enc = run.rendered().bytes_by_encoding()
    assert run.kpis["message_bytes_umei"] == enc["umei"]
    assert run.kpis["message_bytes"] == sum(enc.values())
    assert run.kpis["messages"] == runs["smartnet-b"].kpis["messages"]
    # the EU model's default stays UFTP, with the same bytes as before
    assert standard_of("EU") == "uftp" and "message_bytes_umei" not in runs["smartnet-b"].kpis


def test_umei_validation_rejects_broken_documents(umei_log: RenderedLog) -> None:
    order = next(d for m in umei_log.messages for d in m.documents if d.doc_type == "Order")

    def edited(d: Document, change: Callable[[Any], None]) -> Document:
        obj = json.loads(d.body)
        change(obj)
        raw = json.dumps(obj).encode()
        return Document(d.encoding, d.doc_type, d.name, len(raw), raw)

    with pytest.raises(DocumentInvalid, match="'side' is a required property"):
        validate(edited(order, lambda o: o.pop("side")))
    with pytest.raises(DocumentInvalid, match="'Sideways' is not one of"):
        validate(edited(order, lambda o: o.update(regulationType="Sideways")))
    with pytest.raises(DocumentInvalid, match="fits no alternative.*portfolioId"):
        validate(edited(order, lambda o: o.pop("portfolioId")))
    with pytest.raises(DocumentInvalid, match="periodFrom"):
        validate(edited(order, lambda o: o.update(periodFrom="2016-08-12T11:00:00+02:00")))
    with pytest.raises(DocumentInvalid, match="'colour' was unexpected"):
        validate(edited(order, lambda o: o.update(colour="red")))
    with pytest.raises(DocumentInvalid, match="'unitPrice' is a required property"):
        validate(edited(order, lambda o: o["pricePoints"][0].pop("unitPrice")))
    readings = next(
        d for m in umei_log.messages for d in m.documents if d.doc_type == "MeterReadings"
    )
    with pytest.raises(DocumentInvalid, match=r"MeterReadings/0/power: 0\.0005 is not a multiple"):
        validate(edited(readings, lambda r: r[0].update(power=0.0005)))
    validate(edited(readings, lambda r: r[0].update(power=-0.007)))  # binary floats pass
    with pytest.raises(DocumentInvalid, match="not a UMEI component"):
        validate(Document("umei", "Baseline", "x.json", 2, b"{}"))


def test_umei_orders_read_back_into_the_bid_table(
    small_prepared: Prepared, umei_log: RenderedLog
) -> None:
    scn = small_prepared.scn
    first = next(m for m in umei_log.messages if m.message.kind == "bids")
    back = bids_from_umei_orders(scn, first.documents)  # its portfolios and orders
    sent = first.message.payload
    der = np.array([list(scn.ders.id).index(d) for d in sent["der"]])
    assert len(back) == len(der)
    np.testing.assert_array_equal(back.der, der)  # in the message's order
    np.testing.assert_array_equal(back.period, sent["period"])
    np.testing.assert_array_equal(back.direction, sent["direction"])
    np.testing.assert_array_equal(back.node, scn.ders.node[der])
    np.testing.assert_array_equal(back.aggregator, scn.ders.aggregator[der])
    np.testing.assert_allclose(back.q_max_mw, sent["q_max_mw"], atol=5e-7)  # whole W
    np.testing.assert_allclose(back.price_eur_per_mwh, sent["price"], atol=5e-5 + 1e-9)
    # an order whose portfolio is not among the documents, or off the day, is refused
    order = next(d for d in first.documents if d.doc_type == "Order")
    with pytest.raises(StandardImportError, match="not among docs"):
        bids_from_umei_orders(scn, [order])
    portfolios = [d for d in first.documents if d.doc_type == "Portfolio"]
    late = _edit(order, '"periodFrom":"2016-', '"periodFrom":"2017-')
    with pytest.raises(StandardImportError, match="2017-.* is not one of the day's periods"):
        bids_from_umei_orders(scn, [*portfolios, late])
