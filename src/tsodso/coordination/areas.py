"""Per-area (per-feeder) work in parallel threads of this process.

HiGHS releases the GIL while it solves, so independent feeder problems run concurrently
without copying the scenario to other processes (2 threads: 1.77x on the 2-core machine for
the 18 feeder LPs of the small preset). Results come back in input order, so everything
built from them (cuts, messages, curves) is identical to a serial run.
``TSODSO_AREA_THREADS`` overrides the thread count (1 = serial).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from tsodso.schema.environment import area_threads as env_area_threads

A = TypeVar("A")
R = TypeVar("R")


def area_threads() -> int:
    """Threads for per-area work (``TSODSO_AREA_THREADS``, checked; default every core)."""
    return env_area_threads()


def map_areas(fn: Callable[[A], R], items: Iterable[A]) -> list[R]:
    """``[fn(x) for x in items]``, run on a thread pool, in input order."""
    items = list(items)
    n = min(area_threads(), len(items))
    if n <= 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(fn, items))
