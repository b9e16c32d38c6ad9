"""Output files written whole: strict JSON (no NaN or Infinity, which strict parsers
reject: a missing value is ``null``), atomic writes (a temporary file in the same directory,
then a rename), checksums, and the checks that an output path can be written before any
work starts.

Owns: ``strict_json``, ``dumps_strict``, ``write_atomic``, ``sha256_file`` and
``output_dir_problems``. Must not: compute results or know the layout of a run directory
(``report.tables``).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np


def strict_json(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None and numpy scalars and arrays
    turned into plain Python values (so that ``json.dumps(allow_nan=False)`` accepts it)."""
    if isinstance(value, dict):
        return {str(k): strict_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strict_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return [strict_json(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dumps_strict(value: Any, indent: int | None = 2) -> str:
    """Strict JSON text of ``value`` (non-finite numbers as null; other objects as text)."""
    return json.dumps(strict_json(value), indent=indent, allow_nan=False, default=str)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


#: permissions of what is written: those a plain open() would give (mkstemp and mkdtemp
#: make private files and directories)
FILE_MODE = 0o666 & ~_umask()
DIR_MODE = 0o777 & ~_umask()


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write ``path`` whole: into a temporary file beside it, then renamed over it, so that
    a reader (or an interruption) never sees half a file."""
    raw = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes (hex)."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def nearest_existing(path: Path) -> Path:
    """``path`` or its nearest ancestor that exists."""
    probe = path
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    return probe


def _can_write_in(directory: Path) -> bool:
    """Whether a file can really be made in ``directory`` (tried, then removed): the
    permission bits do not say it for root, read-only mounts or full disks."""
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tsodso-probe-")
    except OSError:
        return False
    os.close(fd)
    os.unlink(tmp)
    return True


def output_dir_problems(option: str, text: str) -> list[str]:
    """Every reason why directory ``text`` (the value of ``option``) cannot receive output
    files: empty, an existing non-directory, or nowhere to write (checked by writing)."""
    if not text.strip():
        return [f"{option} '': expected a directory path (use '.' for the current one)"]
    if "\x00" in text:
        return [f"{option} {text!r}: the path contains a NUL character"]
    path = Path(text)
    try:
        probe = nearest_existing(path)
        if not probe.is_dir():
            what = "the file" if probe == path else "its parent"
            return [f"{option} {text}: {what} {probe} exists and is not a directory"]
        if not _can_write_in(probe):
            return [f"{option} {text}: cannot write in {probe} (permission or read-only)"]
    except OSError as err:
        return [f"{option} {text}: {err.strerror or err}"]
    return []
