"""Checks of command-line options and of the environment, made before any work starts, so
that a mistake is one message listing every problem (exit status 2) and never a traceback
or an error found after minutes of computing.

Owns: the ranges and forms of the options that the option parser cannot state (finite
time limits, worker counts, scheduler addresses and whether one answers, model lists
without repeats) and the ``--stages`` option shared by ``compare``, ``run`` and
``assess``. Must not: run anything but a connection attempt to a scheduler.
"""

from __future__ import annotations

import math
import socket
from collections.abc import Iterable
from typing import Annotated, get_args
from urllib.parse import urlsplit

import typer

from tsodso.coordination.catalogue import OWN_STAGES
from tsodso.schema.mechanism import Stages

#: most local worker processes of a sweep (an assumption: far above the cores here)
MAX_WORKERS = 64
#: longest time limit accepted (a week, in seconds)
MAX_TIME_LIMIT_S = 7 * 24 * 3600.0
#: seconds to wait for a scheduler to accept a connection
SCHEDULER_TIMEOUT_S = 5.0

STAGE_VALUES = (OWN_STAGES, *get_args(Stages))
StagesOpt = Annotated[
    str,
    typer.Option(
        "--stages",
        help="when every model's markets clear: 'model' (each model's own), 'single' (once, "
        "on the day-ahead nominations), 'da_rt' (day-ahead, then real time on the realised "
        "baselines), 'reserve_rt' (capacity reserved day-ahead, activated in real time) or "
        "'perfect' (once, on the realised baselines: perfect foresight)",
    ),
]


def stage_problems(stages: str) -> list[str]:
    """``--stages``: 'model' or one of the mechanism's stage settings."""
    if stages in STAGE_VALUES:
        return []
    return [f"--stages {stages!r}: expected one of {', '.join(STAGE_VALUES)}"]


def time_limit_problems(value: float) -> list[str]:
    """``--time-limit``: a finite number of seconds above 0 and at most a week."""
    if not math.isfinite(value) or not 0 < value <= MAX_TIME_LIMIT_S:
        return [
            f"--time-limit {value}: expected seconds above 0 and at most {MAX_TIME_LIMIT_S:.0f}"
        ]
    return []


def workers_problems(value: int) -> list[str]:
    """``--workers``: 1 (serial) .. MAX_WORKERS local processes."""
    if not 1 <= value <= MAX_WORKERS:
        return [f"--workers {value}: expected 1 (serial) .. {MAX_WORKERS}"]
    return []


def scheduler_problems(address: str, timeout_s: float = SCHEDULER_TIMEOUT_S) -> list[str]:
    """``--scheduler``: a ``tcp://HOST:PORT`` (or ``tls://``) address that accepts a
    connection within ``timeout_s``."""
    where = f"--scheduler {address!r}"
    try:
        parts = urlsplit(address)
        port = parts.port
    except ValueError as err:
        return [f"{where}: {err}; expected tcp://HOST:PORT"]
    if parts.scheme not in ("tcp", "tls") or not parts.hostname or port is None:
        return [f"{where}: expected tcp://HOST:PORT (or tls://HOST:PORT)"]
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout_s):
            pass
    except OSError as err:
        why = "no answer" if isinstance(err, TimeoutError) else (err.strerror or str(err))
        return [f"{where}: cannot reach it ({why} within {timeout_s:g} s); is the scheduler up?"]
    return []


def repeated(ids: Iterable[str]) -> list[str]:
    """Ids that appear more than once, in order of first repeat."""
    seen: set[str] = set()
    twice: list[str] = []
    for i in ids:
        if i in seen and i not in twice:
            twice.append(i)
        seen.add(i)
    return twice
