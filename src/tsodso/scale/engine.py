"""The engine that runs independent jobs: the calling process (workers = 1), Dask's local
process pool (default), or a ``dask.distributed`` cluster when a scheduler address is given.

Owns: ``run_jobs`` (shared by sweeps and assessments), which hands each job's result to a
callback as soon as it is done (so that a caller can stream results to disk) and returns
every result in job order, whatever the engine. Must not: know what a job computes.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


class SchedulerError(RuntimeError):
    """The dask.distributed scheduler could not be reached or was lost during the jobs."""


def _worker_init() -> None:
    """Pool workers leave Ctrl-C to the parent (which ends the jobs with one line), and on
    Linux end when their parent dies: a sweep or assessment killed outright (SIGKILL, an
    out-of-memory kill) leaves no worker computing for nobody."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform == "linux":
        import contextlib
        import ctypes

        # prctl(PR_SET_PDEATHSIG, SIGTERM); without a libc to ask, workers outlive a kill
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))


def run_jobs(
    fn: Callable[..., T],
    jobs: Sequence[tuple[Any, ...]],
    scheduler: str | None = None,
    workers: int = 2,
    on_result: Callable[[int, T], None] | None = None,
) -> list[T]:
    """``fn(*args)`` for every ``args`` of ``jobs``: serially when ``workers <= 1`` and no
    ``scheduler``, else on Dask. ``on_result(index, result)`` is called in this process as
    each job finishes (in completion order); the results come back in job order."""
    if scheduler is None and workers <= 1:
        results: list[T] = []
        for i, args in enumerate(jobs):
            results.append(fn(*args))
            if on_result is not None:
                on_result(i, results[-1])
        return results
    from dask.delayed import delayed

    keys = [f"tsodso-job-{i}" for i in range(len(jobs))]
    tasks = [delayed(fn)(*args, dask_key_name=k) for k, args in zip(keys, jobs, strict=True)]
    batch = _Batch(tasks, {k: i for i, k in enumerate(keys)}, on_result)
    return _on_cluster(batch, scheduler) if scheduler is not None else _on_pool(batch, workers)


@dataclass(frozen=True)
class _Batch:
    """Dask tasks, the job index of each task key, and the callback of finished jobs."""

    tasks: list[Any]
    index: dict[str, int]
    on_result: Callable[[int, Any], None] | None


def _on_cluster(batch: _Batch, scheduler: str) -> list[Any]:
    from dask.distributed import Client, as_completed

    tasks, index, on_result = batch.tasks, batch.index, batch.on_result

    out: dict[int, Any] = {}
    try:
        with Client(scheduler, timeout=10) as client:
            futures = client.compute(tasks)
            for fut in as_completed(futures):
                i = index[str(fut.key)]
                out[i] = fut.result()
                if on_result is not None:
                    on_result(i, out[i])
    except (OSError, TimeoutError) as err:  # unreachable, or lost during the jobs
        raise SchedulerError(
            f"--scheduler {scheduler}: {type(err).__name__}: {str(err)[:200]}"
        ) from None
    return [out[i] for i in range(len(tasks))]


def _on_pool(batch: _Batch, workers: int) -> list[Any]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from dask import config
    from dask.base import compute
    from dask.callbacks import Callback

    tasks, index, on_result = batch.tasks, batch.index, batch.on_result

    def posttask(key: Any, result: Any, *_: Any) -> None:
        if on_result is not None and str(key) in index:
            on_result(index[str(key)], result)

    context = multiprocessing.get_context(config.get("multiprocessing.context", "spawn"))
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_init)
    try:
        with Callback(posttask=posttask):
            # one job per hand-over (Dask batches 6 by default): results stream back as
            # each job ends, and long jobs do not queue behind each other in one batch
            results = compute(*tasks, scheduler="processes", pool=pool, chunksize=1)
    except BaseException:  # an interrupt: stop the jobs still running, do not wait
        for proc in list(getattr(pool, "_processes", {}).values()):
            proc.terminate()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return list(results)
