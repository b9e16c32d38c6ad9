"""Hypothesis strategies over what a user can write: the scenario schema (derived from its
pydantic fields, so a new field is fuzzed without a change here), events, user models,
raw bytes and TOML soup, sweep variations and command lines.

Each scalar field gets a strategy of values it accepts and one of values it must refuse
(a wrong type, a non-finite number, a number outside its range, text with a control
character), so that the suite can assert that a refusal names the field."""

from __future__ import annotations

import functools
import math
import types
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types as at
from hypothesis import strategies as st
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from tsodso.schema.config import Event, ScenarioConfig
from tsodso.schema.mechanism import DIMENSIONS, UserModel

NOT_SCALAR = ("events", "models", "t_line_derate", "dsos")
#: lists inside tables (not scalars; fuzzed by their tests)
NOT_SCALAR_NESTED = ("feeders.buses",)


@dataclass(frozen=True)
class Leaf:
    """A scalar field of the scenario schema: its dotted path, kind and bounds."""

    path: str
    kind: str  # bool | int | float | str | literal
    lo: float | None = None
    lo_open: bool = False
    hi: float | None = None
    hi_open: bool = False
    choices: tuple[str, ...] = ()
    optional: bool = False


def _strip(annotation: Any) -> tuple[Any, bool]:
    """The scalar type under Optional/Annotated, and whether None is allowed."""
    optional = False
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        optional = len(args) < len(get_args(annotation))
        annotation = args[0]
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation, optional


def _leaf(path: str, info: FieldInfo) -> Leaf:
    kind_t, optional = _strip(info.annotation)
    bounds: dict[str, Any] = {}
    for m in info.metadata:
        if isinstance(m, at.Ge):
            bounds.update(lo=float(m.ge), lo_open=False)
        elif isinstance(m, at.Gt):
            bounds.update(lo=float(m.gt), lo_open=True)
        elif isinstance(m, at.Le):
            bounds.update(hi=float(m.le), hi_open=False)
        elif isinstance(m, at.Lt):
            bounds.update(hi=float(m.lt), hi_open=True)
    if get_origin(kind_t) is Literal:
        return Leaf(path, "literal", choices=tuple(get_args(kind_t)), optional=optional)
    kind = {bool: "bool", int: "int", float: "float", str: "str"}[kind_t]
    return Leaf(path, kind, optional=optional, **bounds)


def leaves(model: type[BaseModel] = ScenarioConfig, prefix: str = "") -> list[Leaf]:
    """Every scalar field of ``model`` (tables recursed into, dotted paths)."""
    out: list[Leaf] = []
    for name, info in model.model_fields.items():
        if not prefix and name in NOT_SCALAR:
            continue
        if f"{prefix}{name}" in NOT_SCALAR_NESTED:
            continue
        sub, _ = _strip(info.annotation)
        if isinstance(sub, type) and issubclass(sub, BaseModel):
            out += leaves(sub, f"{prefix}{name}.")
        else:
            out.append(_leaf(prefix + name, info))
    return out


LEAVES = leaves()
EVENT_LEAVES = leaves(Event)
TABLES = sorted({leaf.path.split(".")[0] for leaf in LEAVES if "." in leaf.path})

# -- values

_text = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12)
_junk = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),  # nan and infinities included
    _text,
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.sampled_from("abc"), st.integers(), max_size=2),
)


@functools.cache
def valid_value(leaf: Leaf) -> st.SearchStrategy[Any]:
    """Values ``leaf`` accepts on its own (cross-field rules may still refuse them)."""
    if leaf.kind == "bool":
        return st.booleans()
    if leaf.kind == "literal":
        return st.sampled_from(leaf.choices)
    if leaf.kind == "str":
        return _text
    if leaf.kind == "int":
        lo = int(leaf.lo) + leaf.lo_open if leaf.lo is not None else -(2**31)
        hi = int(leaf.hi) - leaf.hi_open if leaf.hi is not None else 2**31
        return st.integers(min_value=lo, max_value=hi)
    lo = leaf.lo if leaf.lo is not None else -1e6
    hi = leaf.hi if leaf.hi is not None else 1e6
    floats = st.floats(
        min_value=lo,
        max_value=hi,
        exclude_min=leaf.lo_open,
        exclude_max=leaf.hi_open,
        allow_nan=False,
        allow_infinity=False,
    )
    whole = list(range(math.ceil(lo), min(math.floor(hi), math.ceil(lo) + 4) + 1))
    ints = [v for v in whole if (v > lo or not leaf.lo_open) and (v < hi or not leaf.hi_open)]
    return st.one_of(floats, st.sampled_from(ints)) if ints else floats


@functools.cache
def invalid_value(leaf: Leaf) -> st.SearchStrategy[Any]:
    """Values ``leaf`` must refuse whatever the rest of the scenario says."""
    wrong: list[st.SearchStrategy[Any]] = [
        st.lists(st.integers(), max_size=2),
        st.dictionaries(st.sampled_from("xy"), st.integers(), min_size=1, max_size=2),
    ]
    if not leaf.optional:
        wrong.append(st.none())
    if leaf.kind == "bool":
        wrong += [st.integers(), st.floats(), _text]
    elif leaf.kind == "literal":
        wrong += [_text.filter(lambda s: s not in leaf.choices), st.integers(), st.booleans()]
    elif leaf.kind == "str":
        wrong += [
            st.integers(),
            st.floats(),
            st.booleans(),
            st.tuples(_text, st.sampled_from("\x00\n\t\x1b"), _text).map("".join),
            st.just("x" * 5000),
        ]
    else:  # numbers
        wrong += [st.booleans(), st.sampled_from(["1", "0.5", "inf", "nan", "", "true"])]
        if leaf.kind == "int":
            wrong.append(st.floats())  # 4.0 is not an integer either
        else:
            wrong.append(st.sampled_from([math.inf, -math.inf, math.nan]))
        num = st.integers if leaf.kind == "int" else st.floats
        if leaf.lo is not None:
            below: Any = (
                st.integers(max_value=int(math.ceil(leaf.lo)) - (0 if leaf.lo_open else 1))
                if leaf.kind == "int"
                else num(max_value=leaf.lo, exclude_max=not leaf.lo_open, allow_nan=False)
            )
            wrong.append(below)
        if leaf.hi is not None:
            above: Any = (
                st.integers(min_value=int(math.floor(leaf.hi)) + (0 if leaf.hi_open else 1))
                if leaf.kind == "int"
                else num(min_value=leaf.hi, exclude_min=not leaf.hi_open, allow_nan=False)
            )
            wrong.append(above)
    return st.one_of(wrong)


def nest(path: str, value: Any) -> dict[str, Any]:
    """``{"a": {"b": value}}`` for path 'a.b'."""
    head, _, rest = path.partition(".")
    return {head: nest(rest, value) if rest else value}


def merge(into: dict[str, Any], more: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge ``more`` into a copy of ``into``."""
    out = dict(into)
    for k, v in more.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


@st.composite
def field_value(draw: st.DrawFn, leaves: list[Leaf] = LEAVES) -> tuple[Leaf, Any, bool]:
    """(a field, a value for it, whether the field alone must refuse the value)."""
    leaf = draw(st.sampled_from(leaves))
    bad = draw(st.booleans())
    return leaf, draw(invalid_value(leaf) if bad else valid_value(leaf)), bad


@st.composite
def events(draw: st.DrawFn) -> list[Any]:
    """A list of event tables: valid, mistaken or junk."""
    out: list[Any] = []
    for _ in range(draw(st.integers(0, 3))):
        if draw(st.integers(0, 9)) == 0:
            out.append(draw(_junk))
            continue
        e: dict[str, Any] = {}
        for leaf in draw(st.lists(st.sampled_from(EVENT_LEAVES), max_size=5, unique=True)):
            bad = draw(st.integers(0, 4)) == 0
            e[leaf.path] = draw(invalid_value(leaf) if bad else valid_value(leaf))
        out.append(e)
    return out


MECHANISM_FIELDS = [n for n in UserModel.model_fields if n not in ("name", "description")]


@st.composite
def mechanism(draw: st.DrawFn, junk: bool = True) -> dict[str, Any]:
    """A [models.ID] table: a point of the mechanism space (values of each dimension,
    with junk and missing fields when ``junk``)."""
    m: dict[str, Any] = {}
    for name, values in DIMENSIONS.items():
        if junk and draw(st.integers(0, 19)) == 0:
            if draw(st.booleans()):
                m[name] = draw(_junk)
            continue
        if name == "needs":
            m[name] = draw(
                st.lists(st.sampled_from(values), max_size=5)
                if junk
                else st.lists(st.sampled_from(values), min_size=1, max_size=5, unique=True)
            )
        else:
            m[name] = draw(st.sampled_from(values))
    m["dso_correction"] = draw(st.booleans() | st.just(1)) if junk else draw(st.booleans())
    if junk and draw(st.integers(0, 9)) == 0:
        m["name"] = draw(_junk)
    return m


_good_ids = st.text(alphabet="abcdefgh0123456789-_.", min_size=1, max_size=12).map(
    lambda t: "m" + t
)
#: model ids, one in four of them one that must be refused
model_ids = st.one_of(
    _good_ids,
    _good_ids,
    _good_ids,
    st.sampled_from(["all", "a,b", "a b", "-x", "smartnet-a", "ferc-tso", "x" * 70]),
)


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    """A whole scenario table: some fields valid, some not, unknown keys, events, models."""
    doc: dict[str, Any] = {}
    for leaf, value, _ in draw(st.lists(field_value(), max_size=8)):
        doc = merge(doc, nest(leaf.path, value))
    if draw(st.integers(0, 4)) == 0:
        doc[draw(st.text(alphabet="abcxyz_", min_size=1, max_size=10))] = draw(_junk)
    if draw(st.integers(0, 3)) == 0:
        doc["events"] = draw(events() | _junk)
    if draw(st.integers(0, 3)) == 0:
        doc["models"] = draw(st.dictionaries(model_ids, mechanism(), max_size=3) | _junk)
    if draw(st.integers(0, 5)) == 0:  # who owns the feeders: a rule, a table or junk
        names = st.sampled_from(["DSO", "DSO-1", "DSO-north", "north", "DSO-", "DSO a"])
        feeders = st.lists(st.sampled_from(["MV1.101", "x", ""]) | _junk, max_size=3)
        table = st.dictionaries(names, feeders | _junk, max_size=3)
        doc["dsos"] = draw(st.sampled_from(["substation", "one", "two"]) | table | _junk)
    if draw(st.integers(0, 9)) == 0:
        doc[draw(st.sampled_from(TABLES))] = draw(_junk)
    return doc


def known_path(path: str, doc: dict[str, Any]) -> bool:
    """Whether a problem's path names a field of the schema or a key of ``doc``."""
    import re

    norm = re.sub(r"\[\d+\]", "[]", path)
    if norm in {leaf.path for leaf in LEAVES} | set(TABLES) | {"events", "models", "preset"}:
        return True
    if norm.startswith("events[]"):
        rest = norm[len("events[]") :].lstrip(".")
        return rest == "" or rest in Event.model_fields or rest in _doc_keys(doc, "events")
    if norm.startswith("models."):
        mid_rest = norm[len("models.") :]
        mids = list(doc["models"]) if isinstance(doc.get("models"), dict) else []
        if mid_rest in mids:
            return True
        for mid in mids:
            if mid_rest.startswith(f"{mid}."):
                field = mid_rest[len(mid) + 1 :].split("[")[0]  # needs[0] -> needs
                return field in UserModel.model_fields or field in _doc_keys(doc, "models", mid)
        return False
    head = norm.split(".")[0]
    if head in doc and isinstance(doc[head], dict):
        return norm.split(".", 1)[-1] in doc[head] or norm == head
    return norm in doc


def _doc_keys(doc: dict[str, Any], *where: str) -> set[str]:
    node: Any = doc
    for w in where:
        node = node.get(w, {}) if isinstance(node, dict) else {}
    if isinstance(node, list):
        return {k for e in node if isinstance(e, dict) for k in e}
    return set(node) if isinstance(node, dict) else set()


def problem_path(problem: str) -> str:
    """The field a problem line names: the text before ' = ' or ': ', without ' (id)'."""
    cut = min(
        (i for i in (problem.find(" = "), problem.find(": ")) if i >= 0), default=len(problem)
    )
    return problem[:cut].removesuffix(" (id)")
