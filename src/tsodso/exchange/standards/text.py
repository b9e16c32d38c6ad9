"""Text in bulk for the writers: a column of numbers formatted at once, exactly as the
per-element formatting the standards' documents use (Python's ``round``, ``:.Nf``, ``repr``
and ``json.dumps``), deterministic ids for many documents at once, and JSON strings.

The writers build documents from templates over whole columns (``tolist()`` once, then one
f-string per element): a run's messages carry hundreds of thousands of numbers, and a
Python call per number was a quarter of a catalogue comparison's wall time (issue 13).

Owns: formatting numbers, ids and JSON strings in bulk. Must not: know a standard's format.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import uuid
from collections.abc import Iterable, Sequence

import numpy as np

#: the namespace of every message id (ids are deterministic: uuid5 of the message's place)
ID_NAMESPACE = uuid.UUID("6f1c3b1e-8a0e-4d55-9a43-7d1f0f1c2e17")
_NS = ID_NAMESPACE.bytes
#: the RFC 4122 variant nibble of a uuid5 from the hash's 17th hex digit
_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
#: the UUID's hex digit groups (8-4-4-4-12)
_GROUPS = ((0, 8), (8, 12), (12, 16), (16, 20), (20, 32))
#: compact JSON, as ``json.dumps(x, separators=(",", ":"))`` writes it (one encoder: dumps
#: with separators builds a new one per call)
compact_json = json.JSONEncoder(separators=(",", ":")).encode


def _uuid(h: str) -> str:
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:32]}"


def message_id(*parts: object) -> str:
    """A deterministic UUID (version 5 layout, SHA-1 of the namespace and the document's
    place in the log, its parts joined by ``/``) for a document; formatted directly, as
    uuid.uuid5 costs 25 us."""
    return _uuid(hashlib.sha1(_NS + "/".join(map(str, parts)).encode()).hexdigest())


def message_ids(prefix: Sequence[object], last: Iterable[object]) -> list[str]:
    """``message_id(*prefix, x)`` for every ``x`` of ``last``, in bulk: one SHA-1 each, the
    UUID layout written for all of them at once."""
    head = _NS + "".join(f"{p}/" for p in prefix).encode()
    sha1 = hashlib.sha1
    raw = b"".join([sha1(head + str(x).encode()).digest() for x in last])
    if not raw:
        return []
    b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 20)[:, :16].copy()
    b[:, 6] = (b[:, 6] & 0x0F) | 0x50  # version 5
    b[:, 8] = (b[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    digits = np.empty((len(b), 32), dtype=np.uint8)
    digits[:, 0::2] = _HEX[b >> 4]
    digits[:, 1::2] = _HEX[b & 0x0F]
    out = np.full((len(b), 37), ord("-"), dtype=np.uint8)
    out[:, 36] = ord(" ")
    for start, (lo, hi) in zip((0, 9, 14, 19, 24), _GROUPS, strict=True):
        out[:, start : start + hi - lo] = digits[:, lo:hi]
    return out.tobytes().decode("ascii").split(" ")[:-1]


@functools.cache
def json_str(s: str) -> str:
    """A string as JSON text (quoted and escaped as ``json.dumps`` does), cached: documents
    repeat the same few names."""
    return json.dumps(s)


def fixed(values: np.ndarray, digits: int) -> list[str]:
    """Each value as ``f"{round(x, digits) + 0.0:.{digits}f}"`` (no ``-0.00``): formatting
    to ``digits`` decimals rounds the exact binary value as ``round`` does, so only a
    negative value that rounds to zero needs the ``+ 0.0``."""
    fmt = f"%.{digits}f"
    out = [fmt % x for x in np.asarray(values, dtype=float).ravel().tolist()]
    neg_zero = f"-{0.0:.{digits}f}"
    if neg_zero in out:
        zero = neg_zero[1:]
        out = [zero if s == neg_zero else s for s in out]
    return out


def watts(mw: np.ndarray) -> list[int]:
    """Each MW value in whole W, ``int(round(x * 1e6))`` (half to even, as ``round``); a
    value that is not finite is an error, as ``int`` makes it."""
    w = np.asarray(mw, dtype=float) * 1e6
    if not np.isfinite(w).all():
        raise ValueError("a power to render is not finite")
    out: list[int] = np.rint(w).astype(np.int64).ravel().tolist()
    return out


def rounded(values: np.ndarray, digits: int) -> list[float]:
    """Each value as Python's ``round(float(x), digits)`` (correctly rounded, unlike
    ``np.round``, which can differ in the last digit)."""
    return [round(x, digits) for x in np.asarray(values, dtype=float).ravel().tolist()]


def reprs(values: Iterable[float]) -> list[str]:
    """Each float as ``repr`` writes it (``nan``, ``inf`` as they are)."""
    return list(map(float.__repr__, values))


def json_numbers(values: Iterable[float]) -> list[str]:
    """Each float as ``json.dumps`` writes it (``repr``; ``NaN`` and ``Infinity`` where
    not finite)."""
    out = list(map(float.__repr__, values))
    if "nan" not in out and "inf" not in out and "-inf" not in out:
        return out
    for k, s in enumerate(out):
        if s in ("nan", "inf", "-inf"):
            v = float(s)
            out[k] = "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")
    return out
