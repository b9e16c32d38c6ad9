"""Validation of rendered documents against each standard's schema as its maintained
package models it: UFTP against ``shapeshifter-uftp``'s classes (generated from the UFTP
XSD: every required attribute, pattern, occurrence, range and decimal-digit restriction they
carry, plus the package's own checks, and its serialisation of the parsed message must give
back the same bytes), CSIP-AUS against ``envoy-schema``'s pydantic-xml models (parsed, and
serialised back to the same bytes), OpenADR 3 against ``openadr3``'s models of the API's JSON
(no field they do not know, every required one present, payload types from OpenADR 3's
lists), UMEI against ``umei_schema.json``, tsodso's own transcription of the UMEI OpenAPI
components it renders (UMEI has no package), with ``openapi-schema-validator``'s OpenAPI 3.0
validator (a test dependency: ``pip install -e .[test]``). JSON documents are valid JSON.

Owns: ``validate`` and ``DocumentInvalid``. Must not: render.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from collections.abc import Iterator
from decimal import Decimal
from importlib import resources
from typing import Any

from tsodso.exchange.standards import csip_aus, openadr3, uftp, umei
from tsodso.exchange.standards.base import JSON, Document


class DocumentInvalid(ValueError):
    """A rendered document breaks its standard's schema (every problem listed)."""


def validate(doc: Document) -> None:
    """Raise ``DocumentInvalid`` naming every problem of ``doc`` against its schema."""
    if not doc.body:
        raise DocumentInvalid(f"{doc.name}: rendered for sizes only (no body to validate)")
    check = {
        uftp.NAME: _uftp,
        csip_aus.NAME: _csip,
        openadr3.NAME: _openadr3,
        umei.NAME: _umei,
        JSON: _json,
    }[doc.encoding]
    problems = check(doc)
    if problems:
        raise DocumentInvalid(f"{doc.name}: " + "; ".join(problems))


def _json(doc: Document) -> list[str]:
    try:
        json.loads(doc.body)
    except ValueError as e:
        return [f"not JSON: {e}"]
    return []


# --- UFTP ---------------------------------------------------------------------------------


def _uftp_class(doc_type: str) -> type:
    from shapeshifter_uftp.uftp import messages as m

    classes: dict[str, type] = {
        "FlexOffer": m.FlexOffer,
        "FlexOrder": m.FlexOrder,
        "FlexRequest": m.FlexRequest,
        "FlexSettlement": m.FlexSettlement,
        "D-Prognosis": m.DPrognosis,
    }
    return classes[doc_type]


def _restrictions(obj: Any, path: str, out: list[str]) -> None:
    """Every restriction in the xsdata field metadata of ``obj`` and its children."""
    for f in dataclasses.fields(obj):
        meta, value = f.metadata, getattr(obj, f.name)
        where = f"{path}/{meta.get('name', f.name)}"
        if value is None:
            if meta.get("required"):
                out.append(f"{where}: required")
            continue
        if isinstance(value, list):
            if len(value) < int(meta.get("min_occurs", 0)):
                out.append(f"{where}: at least {meta['min_occurs']} expected, got {len(value)}")
            for k, item in enumerate(value):
                if dataclasses.is_dataclass(item):
                    _restrictions(item, f"{where}[{k}]", out)
            continue
        if dataclasses.is_dataclass(value):
            _restrictions(value, where, out)
            continue
        text = str(value).lower() if isinstance(value, bool) else str(value)
        pattern = meta.get("pattern")
        if pattern and re.fullmatch(pattern, text) is None:
            out.append(f"{where}: {text!r} does not match {pattern}")
        if "min_inclusive" in meta and Decimal(text) < Decimal(str(meta["min_inclusive"])):
            out.append(f"{where}: {text} below {meta['min_inclusive']}")
        if "max_inclusive" in meta and Decimal(text) > Decimal(str(meta["max_inclusive"])):
            out.append(f"{where}: {text} above {meta['max_inclusive']}")
        digits = meta.get("fraction_digits")
        if digits is not None and "." in text and len(text.split(".")[1]) > int(digits):
            out.append(f"{where}: more than {digits} decimals in {text}")


@functools.cache
def _xsdata() -> tuple[Any, Any]:
    """One strict parser and one serializer (their set-up costs more than a small message)."""
    from xsdata.formats.dataclass.parsers import XmlParser
    from xsdata.formats.dataclass.parsers.config import ParserConfig
    from xsdata.formats.dataclass.serializers import XmlSerializer
    from xsdata.formats.dataclass.serializers.config import SerializerConfig

    parser = XmlParser(
        config=ParserConfig(fail_on_unknown_properties=True, fail_on_unknown_attributes=True)
    )
    return parser, XmlSerializer(config=SerializerConfig(xml_declaration=True))


def _uftp(doc: Document) -> list[str]:
    cls = _uftp_class(doc.doc_type)
    parser, serializer = _xsdata()
    try:
        obj = parser.from_bytes(doc.body, cls)
    except Exception as e:  # the package's checks raise TypeError / ValueError / ParserError
        return [f"not a valid UFTP {doc.doc_type}: {e}"]
    out: list[str] = []
    _restrictions(obj, doc.doc_type, out)
    again = serializer.render(obj)
    if again.encode() != doc.body:
        out.append("the package serialises the parsed message differently")
    return out


# --- CSIP-AUS -----------------------------------------------------------------------------


def _csip(doc: Document) -> list[str]:
    from envoy_schema.server.schema.sep2.der import DERControlListResponse

    try:
        obj = DERControlListResponse.from_xml(doc.body)
    except Exception as e:  # pydantic's ValidationError or an XML error
        return [f"not a valid DERControlList: {e}"]
    out = []
    if obj.to_xml(skip_empty=True) != doc.body:
        out.append("envoy-schema serialises the parsed list differently")
    for c in obj.DERControl or []:
        base = c.DERControlBase_
        if base.opModExpLimW is None and base.opModImpLimW is None:
            out.append(f"{c.href}: neither opModExpLimW nor opModImpLimW")
    if obj.results != len(obj.DERControl or []):
        out.append("results differs from the number of DERControls")
    return out


# --- OpenADR 3 ----------------------------------------------------------------------------


@functools.cache
def _children(model: type) -> dict[str, tuple[bool, tuple[type, ...]]]:
    """Each field (by alias) of a pydantic model: whether it is known, and the models its
    values may be."""
    import typing

    from pydantic import BaseModel

    out: dict[str, tuple[bool, tuple[type, ...]]] = {}
    for name, f in model.model_fields.items():  # type: ignore[attr-defined]
        found: list[type] = []
        stack = [f.annotation]
        while stack:
            a = stack.pop()
            if isinstance(a, type) and issubclass(a, BaseModel):
                found.append(a)
            stack.extend(typing.get_args(a))
        out[f.alias or name] = (True, tuple(found))
    return out


def _known_keys(model: type, value: Any, path: str, out: list[str]) -> None:
    """Every key of ``value`` is a field (alias) of the pydantic ``model``, recursively."""
    if not isinstance(value, dict):
        return
    fields = _children(model)
    for key, v in value.items():
        if key not in fields:
            out.append(f"{path}: unknown field {key!r}")
            continue
        cands = fields[key][1]
        if not cands:
            continue
        items = v if isinstance(v, list) else [v]
        for k, item in enumerate(items):
            # a union of models: the item must fit one of them
            tries = []
            for cand in cands:
                errs: list[str] = []
                _known_keys(cand, item, f"{path}/{key}[{k}]", errs)
                if not errs:
                    break
                tries.append(errs)
            else:
                out.extend(tries[0])


def _openadr3(doc: Document) -> list[str]:
    from openadr3.entities import raw

    try:
        obj = json.loads(doc.body)
    except ValueError as e:
        return [f"not JSON: {e}"]
    models: dict[str, type[raw.RawBase]] = {
        "PROGRAM": raw.RawProgram,
        "EVENT": raw.RawEvent,
        "REPORT": raw.RawReport,
    }
    model = models.get(obj.get("objectType", ""))
    if model is None:
        return [f"unknown objectType {obj.get('objectType')!r}"]
    out: list[str] = []
    try:
        model.model_validate(obj)
    except Exception as e:  # pydantic's ValidationError
        out.append(str(e))
    _known_keys(model, obj, obj["objectType"], out)
    allowed = openadr3.REPORT_PAYLOADS if model is raw.RawReport else openadr3.EVENT_PAYLOADS
    used = re.findall(r'"(?:type|payloadType)":"([A-Z_]+)"', doc.body.decode())
    for t in sorted(
        set(used) - allowed - {"SIMPLE", "UP_REGULATION_AVAILABLE", "DOWN_REGULATION_AVAILABLE"}
    ):
        out.append(f"payload type {t} is not one OpenADR 3 lists for a {obj['objectType']}")
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,128}", str(obj.get("id", ""))):
        out.append(f"id {obj.get('id')!r} is not an OpenADR 3 objectID")
    return out


# --- UMEI ---------------------------------------------------------------------------------


def _exact_multiple_of(validator: Any, step: Any, instance: Any, schema: Any) -> Iterator[Any]:
    """``multipleOf`` on the numbers as the JSON text states them: jsonschema divides
    binary floats, which rejects e.g. 0.007 as a multiple of 0.001."""
    from jsonschema.exceptions import ValidationError

    if validator.is_type(instance, "number") and Decimal(repr(instance)) % Decimal(repr(step)):
        yield ValidationError(f"{instance!r} is not a multiple of {step}")


@functools.cache
def _umei_validator(doc_type: str) -> Any:
    """The OpenAPI 3.0 validator of one UMEI component of tsodso's transcription."""
    from jsonschema import validators
    from openapi_schema_validator import OAS30Validator, oas30_format_checker

    text = resources.files("tsodso.exchange.standards").joinpath("umei_schema.json").read_text()
    schema = json.loads(text)
    if doc_type not in schema["components"]["schemas"]:
        return None
    cls = validators.extend(OAS30Validator, {"multipleOf": _exact_multiple_of})
    ref = {**schema, "$ref": f"#/components/schemas/{doc_type}"}
    return cls(ref, format_checker=oas30_format_checker)


def _umei(doc: Document) -> list[str]:
    try:
        obj = json.loads(doc.body)
    except ValueError as e:
        return [f"not JSON: {e}"]
    check = _umei_validator(doc.doc_type)
    if check is None:
        return [f"{doc.doc_type!r} is not a UMEI component tsodso renders"]
    out = []
    for err in sorted(check.iter_errors(obj), key=lambda x: list(map(str, x.absolute_path))):
        where = "/".join(map(str, [doc.doc_type, *err.absolute_path]))
        if err.context:  # anyOf: name what each alternative missed, not the whole object
            why = " | ".join(sorted({c.message for c in err.context}))
            out.append(f"{where}: fits no alternative ({why})")
        else:
            out.append(f"{where}: {err.message}")
    hits = obj.get("numberOfHits") if isinstance(obj, dict) else None
    if doc.doc_type == "TradeSearchResult" and not out and hits != len(obj.get("items") or []):
        out.append("numberOfHits differs from the number of items")
    return out
