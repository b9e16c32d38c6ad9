"""``OnceMap``: a value several threads ask for at once is made once."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tsodso.coordination.areas import OnceMap


def test_threads_asking_at_once_share_one_making() -> None:
    once: OnceMap[str, int] = OnceMap()
    made = []
    lock = threading.Lock()

    def make() -> int:
        with lock:
            made.append(1)
        time.sleep(0.05)  # the others arrive while it is being made
        return 42

    with ThreadPoolExecutor(6) as pool:
        got = list(pool.map(lambda _: once.get("k", make), range(6)))
    assert got == [42] * 6 and len(made) == 1 and len(once) == 1


def test_a_failed_making_is_not_kept() -> None:
    once: OnceMap[str, int] = OnceMap()

    def fail() -> int:
        raise RuntimeError("solver crashed")

    with pytest.raises(RuntimeError, match="solver crashed"):
        once.get("k", fail)
    assert len(once) == 0
    assert once.get("k", lambda: 7) == 7
