"""The environment variables tsodso reads, declared once and checked together.

``TSODSO_AREA_THREADS`` (threads for per-feeder work), ``TSODSO_MODEL_THREADS`` (models a
comparison runs at once), ``TSODSO_CACHE`` (where built grids are cached) and
``TSODSO_HIGHS_LOG`` (print the solver's log). The command line checks them
before any work (``environment_problems``); the modules that read them use the functions
here, which refuse a bad value with the same message instead of a traceback.

Owns: ``ENVIRONMENT``, ``environment_problems``, ``area_threads``, ``model_threads``,
``cache_path``,
``highs_log`` and ``EnvironmentConfigError``. Must not: import anything of tsodso.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

#: most threads per-feeder work may use (an assumption: far above any core count here)
MAX_AREA_THREADS = 256
#: models a comparison runs at once by default, at most (an assumption: each holds its own
#: LPs, about 1 GB at the peak of the default day's joint market, and HiGHS's dual simplex
#: uses one core per solve)
DEFAULT_MODEL_THREADS = 4
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")

#: every variable tsodso reads and what it takes
ENVIRONMENT: dict[str, str] = {
    "TSODSO_AREA_THREADS": f"threads for per-feeder work: an integer 1..{MAX_AREA_THREADS} "
    "(default: every core)",
    "TSODSO_MODEL_THREADS": f"models a comparison runs at once: an integer 1..{MAX_AREA_THREADS} "
    f"(default: every core, at most {DEFAULT_MODEL_THREADS}; 1 times each model alone)",
    "TSODSO_CACHE": "directory of the grid cache (default ~/.cache/tsodso); created if missing",
    "TSODSO_HIGHS_LOG": f"print the solver's log: one of {', '.join(_TRUE + _FALSE[1:])} "
    "(default: off)",
}


class EnvironmentConfigError(ValueError):
    """An environment variable has a value tsodso cannot use; ``problems`` lists each."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid environment: {len(problems)} problem(s)\n{lines}")


def _environ(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env


def _threads_problem(value: str, name: str = "TSODSO_AREA_THREADS") -> str | None:
    try:
        n = int(value.strip())
    except ValueError:
        n = 0
    if not 1 <= n <= MAX_AREA_THREADS:
        return f"{name} = {value!r}: expected an integer 1..{MAX_AREA_THREADS}"
    return None


def _writable_dir_problem(name: str, value: str) -> str | None:
    if not value.strip():
        return f"{name} = '': expected a directory path"
    path = Path(value).expanduser()
    probe = path
    while not probe.exists():  # the nearest existing ancestor decides whether it can be made
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        return f"{name} = {value!r}: {probe} is not a directory"
    try:  # tried, not read from permission bits (root, read-only mounts)
        fd, tmp = tempfile.mkstemp(dir=probe, prefix=".tsodso-probe-")
    except OSError:
        return f"{name} = {value!r}: cannot write in {probe}"
    os.close(fd)
    os.unlink(tmp)
    return None


def _log_problem(value: str) -> str | None:
    if value.strip().lower() not in _TRUE + _FALSE:
        return f"TSODSO_HIGHS_LOG = {value!r}: expected one of {', '.join(_TRUE + _FALSE[1:])}"
    return None


def environment_problems(env: Mapping[str, str] | None = None) -> list[str]:
    """Every problem of the tsodso variables in ``env`` (default: ``os.environ``)."""
    e = _environ(env)
    found = [
        _threads_problem(e["TSODSO_AREA_THREADS"]) if "TSODSO_AREA_THREADS" in e else None,
        _threads_problem(e["TSODSO_MODEL_THREADS"], "TSODSO_MODEL_THREADS")
        if "TSODSO_MODEL_THREADS" in e
        else None,
        _writable_dir_problem("TSODSO_CACHE", e["TSODSO_CACHE"]) if "TSODSO_CACHE" in e else None,
        _log_problem(e["TSODSO_HIGHS_LOG"]) if "TSODSO_HIGHS_LOG" in e else None,
    ]
    return [p for p in found if p is not None]


def area_threads(env: Mapping[str, str] | None = None) -> int:
    """Threads for per-feeder work: ``TSODSO_AREA_THREADS`` or every core."""
    value = _environ(env).get("TSODSO_AREA_THREADS")
    if value is None:
        return max(1, os.cpu_count() or 1)
    problem = _threads_problem(value)
    if problem:
        raise EnvironmentConfigError([problem])
    return int(value.strip())


def model_threads(env: Mapping[str, str] | None = None) -> int:
    """Models a comparison runs at once: ``TSODSO_MODEL_THREADS`` or every core, at most
    ``DEFAULT_MODEL_THREADS``."""
    value = _environ(env).get("TSODSO_MODEL_THREADS")
    if value is None:
        return max(1, min(os.cpu_count() or 1, DEFAULT_MODEL_THREADS))
    problem = _threads_problem(value, "TSODSO_MODEL_THREADS")
    if problem:
        raise EnvironmentConfigError([problem])
    return int(value.strip())


def cache_path(env: Mapping[str, str] | None = None) -> Path:
    """The grid cache directory (not created here): ``TSODSO_CACHE`` or ~/.cache/tsodso."""
    value = _environ(env).get("TSODSO_CACHE")
    if value is None:
        return Path.home() / ".cache" / "tsodso"
    problem = _writable_dir_problem("TSODSO_CACHE", value)
    if problem:
        raise EnvironmentConfigError([problem])
    return Path(value).expanduser()


def highs_log(env: Mapping[str, str] | None = None) -> bool:
    """Whether the solver prints its log (``TSODSO_HIGHS_LOG``)."""
    value = _environ(env).get("TSODSO_HIGHS_LOG", "")
    problem = _log_problem(value)
    if problem:
        raise EnvironmentConfigError([problem])
    return value.strip().lower() in _TRUE
