"""What every rendering shares: the context a run gives its messages (the day, the time
zone, each DER's congestion point, bid prices, settlement lines), the rendered documents
and the log of them, and the fallback encoding for messages a standard does not cover.

Owns: ``RenderContext``, ``Document``, ``RenderedMessage``, ``RenderedLog``, the JSON
fallback and the collector's pause while a log renders. Must not: know any one standard's
format (``uftp``, ``csip_aus``, ``openadr3``).

Time: simbench's profiles are German, so every standard states times in Europe/Berlin (an
assumption: the day's wall clock, whatever region's standard renders it).
"""

from __future__ import annotations

import functools
import gc
import hashlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from tsodso.exchange.messages import Message, payload_json
from tsodso.exchange.standards.text import message_id
from tsodso.scenario.domain import Scenario

#: the name of the fallback encoding: the message log's own compact JSON of the payload
JSON = "json"
TIME_ZONE = "Europe/Berlin"
TRANSMISSION = "transmission"  # the congestion point of the transmission grid


@functools.cache
def object_id(standard: str, kind: str, name: str) -> str:
    """The deterministic id of a standard's named object (a market, a portfolio), cached:
    a log names the same few many times."""
    return message_id(standard, kind, name)


@dataclass(frozen=True)
class RenderContext:
    """What a rendering needs beyond a message: the scenario's day and time step, each
    DER's and node's congestion point (its feeder's id) and bus, the bids' prices and
    caps by (DER, period, direction), and, after settlement, the settlement lines and the
    baseline (DER, period) they were settled on; the imbalance penalty prices a TSO's need
    where a standard asks a price of it (UMEI's buy orders)."""

    day: date
    first_period: int
    dt_h: float
    der_index: Mapping[str, int]  # DER id -> position
    der_node: np.ndarray  # (D,) node of each DER
    node_cp: np.ndarray  # (N,) congestion point (feeder id, or TRANSMISSION) of each node
    node_bus: np.ndarray  # (N,) pandapower bus of each node
    bid_price: np.ndarray  # (D, T, 2) EUR/MWh of the bid [up, down]; NaN where none
    bid_q_max: np.ndarray  # (D, T, 2) MW offered
    aggregators: frozenset[str]
    period_iso: tuple[str, ...]  # (T,) local start of each period, ISO 8601
    settlement_lines: pd.DataFrame | None = None
    baseline_mw: np.ndarray | None = None  # (D, T) settled baseline injection
    imbalance_eur_per_mwh: float = float("nan")  # the scenario's imbalance penalty

    @classmethod
    def of(
        cls,
        scn: Scenario,
        settlement_lines: pd.DataFrame | None = None,
        baseline_mw: np.ndarray | None = None,
    ) -> RenderContext:
        """The context of a scenario (and, after settlement, its lines and baseline)."""
        g, b = scn.grid, scn.bids
        cp = np.array([TRANSMISSION] * g.n_nodes, dtype=object)
        for f in g.feeders:
            cp[f.nodes] = f.id
        n_der, T = len(scn.ders.id), scn.periods
        price = np.full((n_der, T, 2), np.nan)
        q = np.zeros((n_der, T, 2))
        side = np.where(b.direction > 0, 0, 1)
        price[b.der, b.period, side] = b.price_eur_per_mwh
        q[b.der, b.period, side] = b.q_max_mw
        day = date(2016, 1, 1) + timedelta(days=scn.config.day)
        t0 = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(TIME_ZONE))
        iso = tuple(
            (t0 + timedelta(minutes=(scn.config.first_period + t) * scn.dt_h * 60)).isoformat(
                timespec="seconds"
            )
            for t in range(T)
        )
        return cls(
            day=day,
            first_period=scn.config.first_period,
            dt_h=scn.dt_h,
            der_index={str(d): i for i, d in enumerate(scn.ders.id)},
            der_node=scn.ders.node,
            node_cp=cp,
            node_bus=g.node_bus,
            bid_price=price,
            bid_q_max=q,
            aggregators=frozenset(scn.aggregator_names),
            period_iso=iso,
            settlement_lines=settlement_lines,
            baseline_mw=baseline_mw,
            imbalance_eur_per_mwh=float(scn.config.penalties.imbalance_eur_per_mwh),
        )

    def isp(self, period: int) -> int:
        """The interval's number in the day, 1-based (UFTP's ISP numbering)."""
        return self.first_period + int(period) + 1

    def start(self, period: int = 0) -> datetime:
        """Local start time of a period (of the day's first period by default)."""
        t0 = datetime(self.day.year, self.day.month, self.day.day, tzinfo=ZoneInfo(TIME_ZONE))
        minutes = (self.first_period + int(period)) * self.dt_h * 60
        return t0 + timedelta(minutes=minutes)

    def der_cp(self, der: str) -> str:
        """The congestion point of a DER (its feeder's id)."""
        return str(self.node_cp[self.der_node[self.der_index[der]]])

    def positions(self, ders: np.ndarray) -> np.ndarray:
        """Positions of DER ids (an unknown id is an error, never dropped)."""
        names = np.asarray(ders).astype(str).tolist()
        try:
            return np.array(list(map(self.der_index.__getitem__, names)), dtype=int)
        except KeyError as e:
            raise ValueError(f"message names an unknown DER {e.args[0]!r}") from None


@contextmanager
def gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused while a log renders: a day's log is a
    million documents (no cycles among them), and the collections their allocation set off
    took half of UMEI's rendering. Resumed after, if it ran before (a paused collector only
    defers collection; it frees nothing less)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@dataclass(frozen=True)
class Document:
    """One rendered document: its encoding (standard), its type in that standard, a file
    name and its bytes (``body`` is empty when the log was rendered for sizes only)."""

    encoding: str
    doc_type: str
    name: str
    size: int
    body: bytes = b""


#: a standard's renderer: (message, its index, context, state shared along the log) -> its
#: documents, or None where the standard has none for it
Renderer = Callable[[Message, int, RenderContext, dict[str, str]], "list[Document] | None"]


def by_kind(renderers: Mapping[str, Renderer], standard: str) -> Renderer:
    """A standard's renderer from its renderer per message kind: None (the JSON fallback)
    for a kind it has none for."""

    def render(
        msg: Message, index: int, ctx: RenderContext, state: dict[str, str]
    ) -> list[Document] | None:
        fn = renderers.get(msg.kind)
        return None if fn is None else fn(msg, index, ctx, state)

    render.__doc__ = f"The {standard} documents of one message, or None where it has none."
    return render


@dataclass(frozen=True)
class RenderedMessage:
    """A message of the log and the documents it became."""

    index: int
    message: Message
    documents: tuple[Document, ...]

    @property
    def bytes(self) -> int:
        """Bytes of its documents together."""
        return sum(d.size for d in self.documents)

    @property
    def encoding(self) -> str:
        """The encoding of its documents (one per message)."""
        return self.documents[0].encoding if self.documents else JSON


@dataclass(frozen=True)
class RenderedLog:
    """A run's messages rendered in one standard (``standard``), JSON where it has none."""

    standard: str
    messages: tuple[RenderedMessage, ...]

    @property
    def total_bytes(self) -> int:
        """Bytes of every document."""
        return sum(m.bytes for m in self.messages)

    def bytes_by_encoding(self) -> dict[str, int]:
        """Bytes per encoding actually used (the standard's, and JSON)."""
        out: dict[str, int] = {}
        for m in self.messages:
            out[m.encoding] = out.get(m.encoding, 0) + m.bytes
        return out

    def table(self) -> pd.DataFrame:
        """One row per message: step, sender, receiver, kind, period, encoding, document
        types, documents and bytes as encoded."""
        rows = [
            (
                m.message.step,
                m.message.sender,
                m.message.receiver,
                m.message.kind,
                m.message.period,
                m.encoding,
                ",".join(sorted({d.doc_type for d in m.documents})),
                len(m.documents),
                m.bytes,
            )
            for m in self.messages
        ]
        cols = ["step", "sender", "receiver", "kind", "period", "encoding", "document_types"]
        return pd.DataFrame(rows, columns=[*cols, "documents", "bytes"])

    def summary(self) -> pd.DataFrame:
        """Messages, documents and bytes per stage, actor pair and encoding."""
        t = self.table()
        keys = ["step", "sender", "receiver", "encoding"]
        return (
            t.groupby(keys, sort=False)
            .agg(messages=("kind", "size"), documents=("documents", "sum"), bytes=("bytes", "sum"))
            .reset_index()
        )


def json_document(msg: Message, index: int, keep: bool) -> Document:
    """The fallback: the payload as compact JSON, exactly the bytes the log counts (so a
    log rendered for sizes only takes the size the log measured when the message was
    sent, from these same bytes, instead of encoding the payload again)."""
    name = f"{index:06d}-{msg.kind}.json"
    if not keep:
        return Document(JSON, msg.kind, name, msg.bytes)
    body = payload_json(msg.payload).encode()
    return Document(JSON, msg.kind, name, len(body), body)


def log_digest(log: RenderedLog) -> str:
    """SHA-256 over every document of a rendered log, in order: encoding, type, name, size
    and bytes (the same documents give the same digest, whichever code rendered them)."""
    h = hashlib.sha256()
    for m in log.messages:
        for d in m.documents:
            h.update(f"{d.encoding}\0{d.doc_type}\0{d.name}\0{d.size}\0".encode())
            h.update(d.body)
            h.update(b"\0")
    return h.hexdigest()
