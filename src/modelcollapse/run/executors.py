"""Where chunks of work run: in this process, in a local process pool, or on a Ray cluster.

An executor takes the chunks still to do and yields ``(chunk, values, seconds)`` in completion
order. A chunk's values are a pure function of its config and block (its random streams are keyed
by both), so every executor, worker count and order gives the same numbers.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

import numpy as np

from modelcollapse.run.chunk import run_block

Values = dict[str, dict[str, np.ndarray]]
Result = tuple[Any, Values | str, float]  # (chunk, values or the error it raised, seconds)
EXECUTORS = ("inline", "local", "ray")


def pin_threads() -> None:
    """One BLAS/OpenMP thread per worker: oversubscribed BLAS makes small solves many times slower.

    PyTorch is imported later, in the task; it reads its thread count from the environment then.
    """
    from threadpoolctl import threadpool_limits

    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = "1"
    threadpool_limits(1)


def compute(chunk: Any) -> tuple[Values | str, float]:
    """A chunk's values, or the error it raised (one line), so that a failing cell never stops the others."""
    t0 = time.perf_counter()
    try:
        res = run_block(chunk.exp, chunk.block, chunk.folder)
    except Exception as err:  # recorded with the chunk; the sweep goes on
        return f"{type(err).__name__}: {err}".splitlines()[0], time.perf_counter() - t0
    trimmed = {w: {m: v[:, : chunk.keep] for m, v in r.items()} for w, r in res.items()}
    return trimmed, time.perf_counter() - t0


def _cost(chunk: Any) -> float:
    """A rough relative cost, only to order work: rows x (values per row)^2 x generations."""
    exp = chunk.exp
    return exp.samples_per_generation * (exp.source.row_bytes / 8) ** 2 * exp.generations


def inline(chunks: list[Any], workers: int = 1, address: str | None = None) -> Iterator[Result]:
    for c in chunks:
        yield c, *compute(c)


def local(chunks: list[Any], workers: int = 1, address: str | None = None) -> Iterator[Result]:
    """A pool of ``workers`` spawned processes (inline for one worker or one chunk)."""
    if workers <= 1 or len(chunks) <= 1:
        yield from inline(chunks)
        return
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=pin_threads) as pool:
        # Largest first, so that no big chunk starts last and runs alone.
        futures = {pool.submit(compute, c): c for c in sorted(chunks, key=_cost, reverse=True)}
        for f in as_completed(futures):
            yield futures[f], *f.result()


def _ray_compute(chunk: Any) -> tuple[Values | str, float]:
    pin_threads()
    return compute(chunk)


def ray(chunks: list[Any], workers: int = 1, address: str | None = None) -> Iterator[Result]:
    """Ray tasks of one CPU each: on the cluster at ``address`` (``auto``: the one this machine
    belongs to), or on a local Ray instance of ``workers`` CPUs started for this run."""
    try:
        import ray as ray_
    except ImportError as err:
        raise RuntimeError("the ray executor needs Ray: pip install 'modelcollapse[ray]'") from err
    started = not ray_.is_initialized()
    if started:
        options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
        if address:
            ray_.init(address=address, **options)
        else:
            ray_.init(num_cpus=workers, **options)
    try:
        task = ray_.remote(num_cpus=1)(_ray_compute)
        pending = {task.remote(c): c for c in sorted(chunks, key=_cost, reverse=True)}
        while pending:
            done, _ = ray_.wait(list(pending), num_returns=1)
            chunk = pending.pop(done[0])
            yield chunk, *ray_.get(done[0])
    finally:
        if started:
            ray_.shutdown()


def executor(name: str) -> Callable[..., Iterator[Result]]:
    return {"inline": inline, "local": local, "ray": ray}[name]
