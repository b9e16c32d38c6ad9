"""Fuzz scenario files: raw bytes and TOML soup (valid scenarios written out, then cut,
spliced, given a BOM, nested deep or doubled). Loading one gives a configuration or the
documented ScenarioConfigError, whose every problem names a field or says what is wrong
with the file."""

from __future__ import annotations

import json
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from hypothesis import event, given
from hypothesis import strategies as st

from tests.fuzz import strategies as s
from tests.fuzz.budget import COUNTS, fuzz
from tsodso.schema.config import PRESETS, ScenarioConfigError, load_config

_DIR = Path(tempfile.mkdtemp(prefix="tsodso-fuzz-"))
_FILE = _DIR / "fuzz.toml"
#: what a problem about the file itself (not one of its fields) says
FILE_PROBLEMS = (
    "not valid TOML",
    "not UTF-8 text",
    "the file sets nothing",
    "arrays and tables nested",
    "preset = ",
    "is a ",
    "is larger than",
)


def _parsed(data: bytes) -> dict[str, Any]:
    try:
        return tomllib.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError):
        return {}


def _load(data: bytes) -> None:
    _FILE.write_bytes(data)
    doc = _parsed(data)
    try:
        load_config(str(_FILE))
        event("accepted")
    except ScenarioConfigError as e:
        event("refused")
        assert e.problems
        for p in e.problems:
            assert p.startswith(FILE_PROBLEMS) or s.known_path(s.problem_path(p), doc), p


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v != v:
        return "nan"
    if isinstance(v, float) and v in (float("inf"), float("-inf")):
        return "inf" if v > 0 else "-inf"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(x)}" for k, x in v.items()) + "}"
    return json.dumps(str(v))


def to_toml(doc: dict[str, Any]) -> str:
    """A document as TOML (tables as [sections], events as [[events]])."""
    lines = [
        f"{json.dumps(k)} = {_toml_value(v)}" for k, v in doc.items() if not isinstance(v, dict)
    ]
    for k, v in doc.items():
        if isinstance(v, dict):
            lines.append(f"[{json.dumps(k)}]")
            lines += [f"{json.dumps(kk)} = {_toml_value(vv)}" for kk, vv in v.items()]
    return "\n".join(lines) + "\n"


@st.composite
def toml_soup(draw: st.DrawFn) -> bytes:
    doc = draw(s.documents())
    if draw(st.booleans()):
        doc = {"preset": draw(st.sampled_from([*PRESETS, "nope"]) | s._junk), **doc}
    text = to_toml(doc)
    how = draw(st.integers(0, 6))
    if how == 1 and text:  # cut short
        text = text[: draw(st.integers(0, len(text) - 1))]
    elif how == 2:  # spliced: a random piece inserted
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.text(max_size=8)) + text[at:]
    elif how == 3:  # deep nesting
        d = draw(st.integers(1, 700))
        text += "deep = " + "[" * d + "]" * d + "\n"
    elif how == 4:  # a key twice
        text += text.split("\n")[0] + "\n"
    raw = text.encode("utf-8", errors="surrogatepass")
    if how == 5:
        raw = b"\xef\xbb\xbf" + raw
    if how == 6 and raw:
        at = draw(st.integers(0, len(raw) - 1))
        raw = raw[:at] + draw(st.binary(min_size=1, max_size=3)) + raw[at:]
    return raw


@fuzz("files: raw bytes")
@given(st.binary(max_size=600))
def test_raw_bytes(data: bytes) -> None:
    COUNTS["files: raw bytes"] += 1
    _load(data)


@fuzz("files: TOML soup")
@given(toml_soup())
def test_toml_soup(data: bytes) -> None:
    COUNTS["files: TOML soup"] += 1
    _load(data)
