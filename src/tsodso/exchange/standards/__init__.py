"""A run's message log in the field's own standards: USEF UFTP (EU, and GB as an
assumption), IEEE 2030.5 / CSIP-AUS (AU) and OpenADR 3 (NA), and EUniversal's UMEI market
API, selectable for any model (``--standard umei``; no region's default); JSON, named as
such, for the messages a standard does not cover. ``render_log`` renders a log,
``standard_of`` gives a region's standard, ``read_flex_offers`` and ``read_der_controls``
read documents back.

UMEI has no package: its documents are checked against ``umei_schema.json``, tsodso's own
transcription of the UMEI OpenAPI components it renders (see ``umei`` and the README).
"""

from __future__ import annotations

from collections.abc import Iterable

from tsodso.exchange.messages import Message
from tsodso.exchange.standards import csip_aus, openadr3, uftp, umei
from tsodso.exchange.standards.base import (
    JSON,
    Document,
    RenderContext,
    RenderedLog,
    RenderedMessage,
    Renderer,
    gc_paused,
    json_document,
    log_digest,
)

#: every standard by name: (label, renderer); "json" renders nothing of its own
STANDARDS: dict[str, tuple[str, Renderer | None]] = {
    uftp.NAME: (uftp.LABEL, uftp.render),
    csip_aus.NAME: (csip_aus.LABEL, csip_aus.render),
    openadr3.NAME: (openadr3.LABEL, openadr3.render),
    umei.NAME: (umei.LABEL, umei.render),
    JSON: ("tsodso compact JSON", None),
}
#: the standard each catalogue region uses (GB: UFTP, an assumption)
REGION_STANDARD = {"EU": uftp.NAME, "GB": uftp.NAME, "AU": csip_aus.NAME, "NA": openadr3.NAME}


def standard_of(region: str) -> str:
    """The standard of a model's region (JSON for a region without one)."""
    return REGION_STANDARD.get(region, JSON)


def label_of(encoding: str) -> str:
    """A standard's full name and encoding, as the output names it."""
    return STANDARDS[encoding][0]


def render_log(
    messages: Iterable[Message], ctx: RenderContext, standard: str, keep: bool = False
) -> RenderedLog:
    """Render every message in ``standard`` (JSON where it has no message for one), in
    order; ``keep`` keeps the documents' bytes (else only their sizes)."""
    if standard not in STANDARDS:
        raise ValueError(f"unknown standard {standard!r}; expected one of {sorted(STANDARDS)}")
    renderer = STANDARDS[standard][1]
    state: dict[str, str] = {}
    out = []
    with gc_paused():
        for i, msg in enumerate(messages):
            docs = renderer(msg, i, ctx, state) if renderer is not None else None
            if docs is None:
                docs = [json_document(msg, i, keep)]
            elif not keep:
                docs = [Document(d.encoding, d.doc_type, d.name, d.size) for d in docs]
            out.append(RenderedMessage(i, msg, tuple(docs)))
    return RenderedLog(standard, tuple(out))


__all__ = [
    "JSON",
    "REGION_STANDARD",
    "STANDARDS",
    "Document",
    "RenderContext",
    "RenderedLog",
    "label_of",
    "log_digest",
    "render_log",
    "standard_of",
]
