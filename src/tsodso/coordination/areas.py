"""Per-area (per-feeder) work in parallel threads of this process.

HiGHS releases the GIL while it solves, so independent feeder problems run concurrently
without copying the scenario to other processes (2 threads: 1.77x on the 2-core machine for
the 18 feeder LPs of the small preset). Results come back in input order, so everything
built from them (cuts, messages, curves) is identical to a serial run.
``TSODSO_AREA_THREADS`` overrides the thread count (1 = serial).

``OnceMap`` holds results that threads share (clearings, outcomes, renderings): each is
made once, and a thread that asks for one being made waits for it instead of making it
again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

from tsodso.schema.environment import area_threads as env_area_threads

A = TypeVar("A")
R = TypeVar("R")
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class OnceMap(Generic[K, V]):
    """Values by key, each made once even when several threads ask for it at the same time
    (the others wait for the first). A value whose making raised is not kept. The makers
    must not ask, directly or not, for a key that is waiting on them (keys nest one way:
    an outcome's clearings, a staged outcome's single-stage one)."""

    def __init__(self) -> None:
        self._items: dict[K, Future[V]] = {}
        self._lock = threading.Lock()

    def get(self, key: K, make: Callable[[], V]) -> V:
        """The value of ``key``, made by ``make`` if no thread made or is making it."""
        with self._lock:
            fut = self._items.get(key)
            mine = fut is None
            if fut is None:
                fut = self._items[key] = Future()
        if mine:
            try:
                fut.set_result(make())
            except BaseException as err:
                with self._lock:
                    del self._items[key]
                fut.set_exception(err)
                raise
        return fut.result()

    def clear(self) -> None:
        """Forget every value."""
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


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
